"""The Resident FastAPI service, its settings and the `resident` CLI."""

__all__: list[str] = []

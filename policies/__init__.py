"""Resident policy engine: pure Python, no Dapr. Public names are re-exported here."""

__all__: list[str] = []

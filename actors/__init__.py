"""The generic ResidentObject Dapr actor: wires policy decisions to Dapr."""

__all__: list[str] = []

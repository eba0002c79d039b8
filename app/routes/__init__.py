"""HTTP routers of the Resident service."""

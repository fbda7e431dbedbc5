"""A Substrate-compatible development chain in Python."""

__all__: list[str] = []

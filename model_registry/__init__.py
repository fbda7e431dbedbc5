"""Model authors' tools: register, update and price models on-chain."""

__all__: list[str] = []

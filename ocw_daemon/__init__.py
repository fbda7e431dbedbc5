"""The compute provider's daemon: follows the chain, runs and validates inference jobs."""

__all__: list[str] = []

"""Two-tier model cache: in-process LRU and shared Redis."""

__all__: list[str] = []

"""Safe model loading, deterministic generation and teacher-forced validation."""

__all__: list[str] = []

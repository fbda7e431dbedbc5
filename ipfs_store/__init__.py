"""Verified, streaming, content-addressed storage of models and payloads on Kubo."""

__all__: list[str] = []

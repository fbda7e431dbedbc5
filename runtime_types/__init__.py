"""Typed bindings generated from runtime metadata, and the one chain client."""

__all__: list[str] = []

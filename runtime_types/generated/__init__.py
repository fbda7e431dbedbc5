"""Committed bindings: `devnode` for this project's runtime (regenerate, never edit)."""

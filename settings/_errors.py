"""The settings error.

    SettingsError (ValueError)   a setting is unknown, malformed, or its file unreadable

A package raises its own subclass (``class ConfigError(PackageError, SettingsError)``), passed
to ``settings.load(..., error=ConfigError)``: ``except settings.SettingsError`` then catches
every package's bad settings, and ``except PackageError`` keeps catching its own.
"""

from __future__ import annotations


class SettingsError(ValueError):
    """A setting is unknown or malformed, or the settings file cannot be read."""

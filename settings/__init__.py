"""One way to load a package's settings into a frozen dataclass.

Precedence, lowest first (docs/settings.md): the dataclass defaults < the TOML file < the
environment < command-line flags. The file is the ``path`` argument (``--config``), else
``$<PREFIX>CONFIG``; its settings are the ``[<table>]`` table, or the top level of a file
holding only them. Each field ``name`` is overridden by ``$<PREFIX><NAME>``. Every value, from
any layer, is converted by one coercion driven by the field's annotation (bool, int, float,
str, Path, ``X | None``, ``Literal``, tuples and lists); a bad value raises the caller's typed
error, naming the setting and where it came from, never the value of a secret field.

```python
@dataclass(frozen=True)
class RegistryConfig(settings.Settings, env_prefix="MODEL_REGISTRY_", table="model_registry",
                     error=RegistryConfigError):
    chain_url: str = "ws://127.0.0.1:9944"

config = RegistryConfig.load(args.config, flags={"chain_url": args.url})
```
(``settings.load(cls, env_prefix=..., table=..., ...)`` is the same as a function.)
"""

from ._coerce import coerce, describe
from ._errors import SettingsError
from ._load import ENV, PARSE, SECRET, Settings, load, read_file, redacted

__all__ = [
    "ENV",
    "PARSE",
    "SECRET",
    "Settings",
    "SettingsError",
    "coerce",
    "describe",
    "load",
    "read_file",
    "redacted",
]

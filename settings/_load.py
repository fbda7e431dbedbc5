"""The loader: defaults < TOML file < environment < flags, into a frozen dataclass."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar, get_type_hints

from ._coerce import coerce, describe
from ._errors import SettingsError

__all__ = ["ENV", "PARSE", "SECRET", "Settings", "load", "read_file", "redacted"]

T = TypeVar("T")

#: Field metadata: ``field(default=None, metadata={SECRET: True})`` keeps the value out of
#: error messages and out of ``redacted()``
SECRET = "secret"
#: Field metadata: ``{PARSE: fn}`` converts that field's raw value instead of the annotation
#: (for a value with a spelling of its own, such as devnode's ``block_time = "instant"``)
PARSE = "parse"
#: Field metadata: ``{ENV: "INFER_CHAIN_URL"}`` also reads this older or shared variable when
#: ``<PREFIX><NAME>`` is not set (one name shared by several programs)
ENV = "env"


def read_file(
    path: str | os.PathLike[str], error: type[Exception] = SettingsError
) -> dict[str, Any]:
    """A TOML file's contents; an unreadable or malformed file raises ``error``."""
    try:
        with Path(path).open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise error(f"cannot read config {path}: {exc}") from exc


def load(
    cls: type[T],
    *,
    env_prefix: str,
    table: str,
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
    error: type[Exception] = SettingsError,
    subtables: Mapping[str, str] | None = None,
    forbidden: Mapping[str, str] | None = None,
) -> T:
    """Build ``cls`` (a dataclass) from its defaults, the file, the environment and flags.

    - The file: ``path``, else ``$<env_prefix>CONFIG``, else none. Its settings are the
      ``[table]`` table (other tables are left to other programs sharing the file), or, without
      one, the top level.
    - The environment: ``$<env_prefix><FIELD>`` for each field (``INFER_CHAIN_URL``).
    - Flags: ``{field: value}`` from the command line; ``None`` means "not given".
    - ``subtables``: nested dataclass fields, each read from its own top-level table of the
      same name and its own environment prefix (``{"provider": "OCW_PROVIDER_"}``).
    - ``forbidden``: keys that must never be in the file, each with the message to raise.

    Unknown keys, values that do not convert, and ``cls``'s own checks raise ``error``.
    """
    env = os.environ if environ is None else environ
    nested = dict(subtables or {})
    source = path if path else env.get(f"{env_prefix}CONFIG") or None
    data = read_file(source, error) if source else {}
    section = data[table] if table in data else {k: v for k, v in data.items() if k not in nested}
    if not isinstance(section, dict):
        raise error(f"{source}: [{table}] must be a table")
    for key, message in (forbidden or {}).items():
        if key in section:
            raise error(message)
    tables: dict[str, dict[str, Any]] = {}
    for name in nested:
        sub = data.get(name, {})
        if not isinstance(sub, dict):
            raise error(f"{source}: [{name}] must be a table")
        tables[name] = sub
    file_label = str(source) if source else "the config file"

    def build(kind: type[Any], what: str, values: Mapping[str, Any], prefix: str,
              given: Mapping[str, Any]) -> Any:  # fmt: skip
        hints = get_type_hints(kind)
        fields = {f.name: f for f in dataclasses.fields(kind)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise error(f"unknown {what} settings: {', '.join(unknown)}")
        bad_flags = sorted(k for k, v in given.items() if v is not None and k not in fields)
        if bad_flags:
            raise error(f"unknown {what} flags: {', '.join(bad_flags)}")
        result: dict[str, Any] = {}
        for name, f in fields.items():
            if kind is cls and name in nested:
                result[name] = build(hints[name], name, tables[name], nested[name], {})
                continue
            variable = f"{prefix}{name.upper()}"
            alias = f.metadata.get(ENV)
            if variable not in env and alias is not None and alias in env:
                variable = alias
            if given.get(name) is not None:
                raw, origin = given[name], "the command line"
            elif variable in env:
                raw, origin = env[variable], f"${variable}"
            elif name in values:
                raw, origin = values[name], file_label
            else:
                continue
            result[name] = _convert(f, hints[name], raw, origin, error)
        try:
            return kind(**result)
        except TypeError as exc:
            raise error(f"{what} settings: {exc}") from exc

    return build(cls, table, section, env_prefix, flags or {})  # type: ignore[no-any-return]


def _convert(
    f: dataclasses.Field[Any], kind: Any, raw: Any, origin: str, error: type[Exception]
) -> Any:
    parse: Callable[[Any], Any] | None = f.metadata.get(PARSE)
    try:
        return parse(raw) if parse is not None else coerce(kind, raw)
    except (TypeError, ValueError) as exc:
        shown = "a value (hidden: a secret)" if f.metadata.get(SECRET) else repr(raw)
        raise error(
            f"setting {f.name} (from {origin}): expected {describe(kind)}, got {shown}"
        ) from None if f.metadata.get(SECRET) else exc


def redacted(config: Any) -> dict[str, Any]:
    """``config`` as a dict for a log line, with every secret field's value masked."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.metadata.get(SECRET):
            out[f.name] = "***" if value not in (None, "") else value
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            out[f.name] = redacted(value)
        else:
            out[f.name] = value
    return out


@dataclasses.dataclass(frozen=True)
class _Spec:
    env_prefix: str
    table: str
    error: type[Exception]
    subtables: Mapping[str, str]
    forbidden: Mapping[str, str]


class Settings:
    """Base of a settings dataclass: the class names its sources once, ``load`` reads them.

    ```python
    @dataclass(frozen=True)
    class RegistryConfig(Settings, env_prefix="MODEL_REGISTRY_", table="model_registry",
                         error=RegistryConfigError):
        chain_url: str = "ws://127.0.0.1:9944"

    config = RegistryConfig.load(args.config, flags={"chain_url": args.url})
    ```
    """

    __slots__ = ()
    _settings: ClassVar[_Spec]

    def __init_subclass__(
        cls,
        *,
        env_prefix: str | None = None,
        table: str | None = None,
        error: type[Exception] = SettingsError,
        subtables: Mapping[str, str] | None = None,
        forbidden: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if env_prefix is not None:  # dataclass(slots=True) re-creates the class without them
            if table is None:
                raise TypeError(f"{cls.__name__}: a settings class names its table too")
            cls._settings = _Spec(env_prefix, table, error, subtables or {}, forbidden or {})

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
        flags: Mapping[str, Any] | None = None,
    ) -> Self:
        """Defaults < the TOML file (``path``, else ``$<PREFIX>CONFIG``) < the environment <
        ``flags`` (docs/settings.md)."""
        spec = cls._settings
        return load(
            cls,
            env_prefix=spec.env_prefix,
            table=spec.table,
            path=path,
            environ=environ,
            flags=flags,
            error=spec.error,
            subtables=spec.subtables,
            forbidden=spec.forbidden,
        )

"""The settings loader: one precedence, one coercion, typed errors, secrets never shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

import settings
from settings import ENV, PARSE, SECRET, SettingsError, coerce, describe, load, redacted


class AppError(Exception):
    pass


class AppConfigError(AppError, SettingsError):
    pass


@dataclass(frozen=True)
class Inner:
    stake: int = 1
    models: tuple[str, ...] = ()


def _instant(value: object) -> float | None:
    return None if value in ("instant", 0, "0", "") else float(value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class AppConfig:
    url: str = "ws://default"
    port: int = 1
    ratio: float = 0.5
    verbose: bool = False
    data_dir: Path = Path("data")
    keystore: Path | None = None
    start: int | None = None
    mode: Literal["fast", "safe"] = "safe"
    tags: tuple[str, ...] = ()
    ports: list[int] = field(default_factory=list)
    block_time: float | None = field(default=None, metadata={PARSE: _instant})
    password: str = field(default="", metadata={SECRET: True})
    inner: Inner = field(default_factory=Inner)

    def __post_init__(self) -> None:
        if self.port < 0:
            raise AppConfigError("port must be >= 0")


def _load(
    path: Path | None = None, env: dict[str, str] | None = None, **flags: object
) -> AppConfig:
    return load(
        AppConfig, env_prefix="APP_", table="app", path=path, environ=env or {}, flags=flags,
        error=AppConfigError, subtables={"inner": "APP_INNER_"},
    )  # fmt: skip


def test_defaults_without_file_env_or_flags() -> None:
    assert _load() == AppConfig()


def test_precedence_defaults_file_env_flags(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text('[app]\nurl = "ws://file"\nport = 2\nratio = 2\n[inner]\nstake = 5\n')
    from_file = _load(path)
    assert (from_file.url, from_file.port, from_file.ratio, from_file.inner.stake) == (
        "ws://file", 2, 2.0, 5,
    )  # fmt: skip
    env = {"APP_PORT": "3", "APP_URL": "ws://env", "APP_INNER_STAKE": "6"}
    from_env = _load(path, env)
    assert (from_env.url, from_env.port, from_env.inner.stake) == ("ws://env", 3, 6)
    from_flags = _load(path, env, port=4, url=None)
    assert (from_flags.url, from_flags.port) == ("ws://env", 4)  # None: flag not given


def test_config_file_from_the_prefix_variable_and_top_level(tmp_path: Path) -> None:
    path = tmp_path / "flat.toml"
    path.write_text('url = "ws://flat"\n[inner]\nmodels = ["a", "b"]\n')
    config = _load(env={"APP_CONFIG": str(path)})
    assert config.url == "ws://flat" and config.inner.models == ("a", "b")
    other = tmp_path / "other.toml"
    other.write_text('[app]\nport = 9\n[someone_else]\nanything = "goes"\n')
    assert _load(other, {"APP_CONFIG": str(path)}).port == 9  # the explicit path wins


def test_coercion_from_text() -> None:
    env = {
        "APP_VERBOSE": "yes", "APP_DATA_DIR": "/srv/x", "APP_KEYSTORE": "", "APP_START": "7",
        "APP_MODE": "fast", "APP_TAGS": "a, b,,c", "APP_PORTS": "1,2", "APP_BLOCK_TIME": "instant",
    }  # fmt: skip
    config = _load(env=env)
    assert config.verbose is True and config.data_dir == Path("/srv/x")
    assert config.keystore is None and config.start == 7 and config.mode == "fast"
    assert config.tags == ("a", "b", "c") and config.ports == [1, 2]
    assert config.block_time is None
    assert _load(env={"APP_BLOCK_TIME": "0.5", "APP_VERBOSE": "off"}).block_time == 0.5


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        (bool, "TRUE", True), (bool, "0", False), (int, "12", 12), (int, 3.0, 3),
        (float, 2, 2.0), (float, "1e3", 1000.0), (str, "x", "x"), (Path, "p", Path("p")),
        (int | None, "", None), (int | None, None, None), (Path | None, "q", Path("q")),
        (tuple[int, ...], [1, "2"], (1, 2)), (Literal[1, 2], "2", 2),
    ],
)  # fmt: skip
def test_coerce_accepts(kind: object, value: object, expected: object) -> None:
    assert coerce(kind, value) == expected


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (bool, "maybe"), (bool, 1), (int, True), (int, 1.5), (int, "x"), (float, True),
        (str, 5), (Path, ""), (int | None, "x"), (Literal["a"], "b"), (tuple[str, ...], 5),
    ],
)  # fmt: skip
def test_coerce_refuses(kind: object, value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        coerce(kind, value)


def test_describe_names_types() -> None:
    assert describe(int) == "int" and describe(Path | None) == "path or empty"
    assert describe(Literal["a", "b"]) == "one of 'a', 'b'"
    assert describe(tuple[str, ...]) == "a list of str"


def test_errors_are_typed_and_name_the_setting_and_its_source(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[app]\nport = 'x'\n")
    with pytest.raises(AppConfigError, match=r"setting port \(from .*bad.toml\): expected int"):
        _load(path)
    with pytest.raises(AppConfigError, match=r"from \$APP_VERBOSE\): expected bool"):
        _load(env={"APP_VERBOSE": "perhaps"})
    with pytest.raises(AppConfigError, match=r"from the command line"):
        _load(port="many")
    path.write_text("[app]\ncolour = 1\n")
    with pytest.raises(AppConfigError, match="unknown app settings: colour"):
        _load(path)
    path.write_text("[inner]\nbogus = 1\n")
    with pytest.raises(AppConfigError, match="unknown inner settings: bogus"):
        _load(path)
    path.write_text("app = 3\n")
    with pytest.raises(AppConfigError, match="must be a table"):
        _load(path)
    path.write_text("[app\n")
    with pytest.raises(AppConfigError, match="cannot read config"):
        _load(path)
    with pytest.raises(AppConfigError, match="cannot read config"):
        _load(tmp_path / "missing.toml")
    with pytest.raises(AppConfigError, match="port must be >= 0"):  # the class's own check
        _load(port=-1)
    with pytest.raises(SettingsError):  # every package's error is also a SettingsError
        _load(port="x")


def test_forbidden_keys(tmp_path: Path) -> None:
    path = tmp_path / "f.toml"
    path.write_text("[app]\nseed = '//Alice'\n")
    with pytest.raises(AppConfigError, match="never goes in the config file") as caught:
        load(
            AppConfig, env_prefix="APP_", table="app", path=path, environ={},
            error=AppConfigError, forbidden={"seed": "the key never goes in the config file"},
        )  # fmt: skip
    assert "Alice" not in str(caught.value)


def test_secrets_never_appear_in_errors_or_redacted_output() -> None:
    @dataclass(frozen=True)
    class Secretive:
        token: int = field(default=0, metadata={SECRET: True})

    with pytest.raises(SettingsError) as caught:
        load(Secretive, env_prefix="S_", table="s", environ={"S_TOKEN": "hunter2"})
    assert "hunter2" not in str(caught.value) and "token" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    config = _load(env={"APP_PASSWORD": "hunter2"})
    assert config.password == "hunter2"
    shown = redacted(config)
    assert shown["password"] == "***" and "hunter2" not in repr(shown)
    assert shown["inner"] == {"stake": 1, "models": ()}
    assert redacted(AppConfig())["password"] == ""


def test_a_shared_variable_is_read_when_the_own_one_is_unset() -> None:
    @dataclass(frozen=True)
    class Shared:
        chain_url: str = field(default="ws://default", metadata={ENV: "INFER_CHAIN_URL"})

    def shared(env: dict[str, str]) -> str:
        config = load(Shared, env_prefix="GW_", table="gw", environ=env)
        return config.chain_url

    assert shared({}) == "ws://default"
    assert shared({"INFER_CHAIN_URL": "ws://shared"}) == "ws://shared"
    assert shared({"INFER_CHAIN_URL": "ws://shared", "GW_CHAIN_URL": "ws://own"}) == "ws://own"


@dataclass(frozen=True, slots=True)
class Declared(settings.Settings, env_prefix="DECL_", table="decl", error=AppConfigError):
    port: int = 1
    inner: Inner = field(default_factory=Inner)


def test_a_settings_class_names_its_sources_once(tmp_path: Path) -> None:
    path = tmp_path / "d.toml"
    path.write_text("[decl]\nport = 2\n")
    assert Declared.load(path, {}).port == 2
    assert Declared.load(path, {"DECL_PORT": "3"}).port == 3
    assert Declared.load(path, {"DECL_PORT": "3"}, flags={"port": 4}).port == 4
    assert Declared.load(environ={"DECL_CONFIG": str(path)}).port == 2
    with pytest.raises(AppConfigError):
        Declared.load(environ={"DECL_PORT": "x"})
    with pytest.raises(TypeError, match="names its table"):

        class Untabled(settings.Settings, env_prefix="U_"):
            pass


def test_public_api() -> None:
    assert set(settings.__all__) >= {"load", "SettingsError", "coerce", "redacted", "SECRET"}

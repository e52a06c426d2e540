"""Typed, frozen settings and the loader that fills them.

Sources, later ones winning: the defaults below, the TOML file given by ``--config``
(or ``SWITCHBOARD_CONFIG``), then environment variables ``SWITCHBOARD_<SECTION>__<KEY>``
so secrets never need to live in a file. Every problem raises :class:`ConfigError`
naming the source, the key and what was expected.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from config.database_url import DatabaseUrl, parse_database_url, redact_url
from config.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "SWITCHBOARD_"
# ConfigError.key when the problem is the whole file (missing, not TOML), not one key.
WHOLE_FILE = "-"


@dataclass(frozen=True, slots=True)
class AmiSettings:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "switchboard"
    secret: str = ""
    auth: Literal["md5", "plain"] = "md5"
    ping_interval: float = 20.0
    ping_timeout: float = 5.0
    connect_timeout: float = 5.0
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0
    max_message_bytes: int = 1 << 20
    # Dialplan context the service redirects a waiting caller into to ring an agent.
    connect_context: str = "switchboard-connect"
    # Context for outbound legs (click-to-dial, callbacks).
    outbound_context: str = "switchboard-outbound"


@dataclass(frozen=True, slots=True)
class HttpSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    public_origin: str = "http://127.0.0.1:8080"
    # Set: /metrics needs "Authorization: Bearer <token>" (or a supervisor's or admin's
    # session); unset: /metrics is open. /healthz shows its details (AMI host and port,
    # errors) only to the token or such a session; its status and ok flags to anyone.
    ops_token: str = ""


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    # sqlite:///relative/path (under the project root), sqlite:////absolute/path, or
    # postgresql://user:password@host:port/database. Empty: the SQLite file at ``path``.
    url: str = ""
    path: str = "var/switchboard.sqlite3"
    # PostgreSQL: connections the pool keeps open / may open.
    pool_min_size: int = 1
    pool_max_size: int = 10


@dataclass(frozen=True, slots=True)
class IvrSettings:
    scripts_dir: str = "ivr_scripts"
    prompts_dir: str = "ivr_scripts/prompts"
    default_language: str = "en"
    # dialed number (DID) or extension -> script name; "default" catches the rest
    entries: dict[str, str] = field(default_factory=lambda: {"default": "main"})
    reload_interval: float = 2.0
    # Where Asterisk writes voicemail (RECORD FILE): a path on the Asterisk host.
    recordings_dir: str = "var/voicemail"


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    queues_file: str = "config/queues.yaml"
    not_ready_reasons: list[str] = field(
        default_factory=lambda: ["break", "lunch", "meeting", "training", "no answer"]
    )
    dispositions: list[str] = field(
        default_factory=lambda: ["resolved", "follow-up", "escalated", "sale", "wrong number"]
    )
    sticky_window_hours: float = 72.0
    sticky_offer_seconds: float = 10.0
    short_abandon_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class CrmSettings:
    default_region: str = "US"
    adapter: Literal["local", "http"] = "local"
    url_template: str = ""
    auth_header: str = ""
    timeout_ms: int = 300
    cache_ttl: float = 60.0
    breaker_failures: int = 5
    breaker_reset: float = 30.0


@dataclass(frozen=True, slots=True)
class SecuritySettings:
    session_secret: str = ""
    session_max_age: int = 12 * 3600
    login_attempts_per_minute: int = 10


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """Several service nodes over one PostgreSQL (docs/DEPLOYMENT.md): one routes, the
    others serve consoles and take over when it dies."""

    enabled: bool = False
    # This node's name on the bus and in /healthz: letters, digits, "_" (default: host name).
    node: str = ""
    # The pg_try_advisory_lock key only the routing node holds; the same on every node.
    lock_key: int = 0x5357_4C44
    # LISTEN/NOTIFY channel prefix (events, requests); the same on every node.
    channel: str = "switchboard"
    # Standbys try the lock this often (seconds).
    retry_interval: float = 0.5
    # The leader proves it still holds the lock this often, each proof within check_timeout;
    # a missed proof makes it stop routing (see docs/DEPLOYMENT.md for the timings).
    check_interval: float = 0.5
    check_timeout: float = 1.5
    # A standby's console action forwarded to the leader fails after this many seconds.
    rpc_timeout: float = 5.0


@dataclass(frozen=True, slots=True)
class Settings:
    ami: AmiSettings = field(default_factory=AmiSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    ivr: IvrSettings = field(default_factory=IvrSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    crm: CrmSettings = field(default_factory=CrmSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)

    def path(self, relative: str) -> Path:
        """Resolve a configured path: absolute stays, relative is under the project root."""
        p = Path(relative)
        return p if p.is_absolute() else PROJECT_ROOT / p

    def database_url(self) -> DatabaseUrl:
        """The configured database: ``database.url`` if set, else the SQLite file at
        ``database.path``; a SQLite path comes back resolved like :meth:`path`.

        Raises:
            ConfigError: a malformed URL (shown without its password), or pool sizes
                that are not ``1 <= pool_min_size <= pool_max_size``.
        """
        db = self.database
        if not 1 <= db.pool_min_size <= db.pool_max_size:
            raise ConfigError(
                "settings", "database.pool_min_size", "1 <= pool_min_size <= pool_max_size"
            )
        where = parse_database_url(db.url) if db.url.strip() else DatabaseUrl("sqlite", db.path)
        if where.scheme == "sqlite" and where.path != ":memory:":
            return DatabaseUrl("sqlite", path=str(self.path(where.path)))
        return where

    def database_target(self) -> str:
        """What ``crm_lookup.store.open_store`` is given: the PostgreSQL URL, or the
        SQLite file's resolved path. Raises ConfigError as :meth:`database_url`."""
        where = self.database_url()
        return where.dsn if where.scheme == "postgresql" else where.path

    def require_production(self) -> None:
        """Raise ConfigError for values that have no safe default outside the demo."""
        for section, key in (("ami", "secret"), ("security", "session_secret")):
            if not getattr(getattr(self, section), key):
                raise ConfigError(
                    "settings",
                    f"{section}.{key}",
                    f"required; set it in the file or in {ENV_PREFIX}{section.upper()}__{key.upper()}",
                )


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin is list:
        return "a list of strings"
    if origin is dict:
        return "a table of strings"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}[tp]


def _coerce(value: Any, tp: Any, source: str, key: str, from_env: bool) -> Any:
    """Check (file) or parse (environment) one value against the field's type."""
    origin = typing.get_origin(tp)
    bad = ConfigError(source, key, f"expected {_describe(tp)}, got {value!r}")
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise bad
        return value
    if origin is list:
        if from_env:
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad
        return list(value)
    if origin is dict:
        if from_env:
            try:
                value = json.loads(value)
            except ValueError:
                raise bad from None
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise bad
        return dict(value)
    if tp is bool:
        if from_env:
            lowered = value.strip().lower()
            if lowered not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                raise bad
            return lowered in {"1", "true", "yes", "on"}
        if not isinstance(value, bool):
            raise bad
        return value
    if tp is int or tp is float:
        if from_env:
            try:
                return tp(value)
            except ValueError:
                raise bad from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad
        if tp is int and not isinstance(value, int):
            raise bad
        return tp(value)
    if not isinstance(value, str):
        raise bad
    return value


def _section_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def load_settings(
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build Settings from defaults, then the TOML file, then the environment.

    Args:
        path: the TOML file; ``None`` takes ``SWITCHBOARD_CONFIG`` from the environment, if set.
        environ: the environment to read overrides from (``os.environ`` by default).

    Raises:
        ConfigError: the file is missing or not TOML, a key is unknown, a value has the
            wrong type. The message names the file (or variable), the key and what was expected.
    """
    env = os.environ if environ is None else environ
    if path is None:
        path = env.get(f"{ENV_PREFIX}CONFIG") or None
    sections = _section_types(Settings)
    values: dict[str, dict[str, Any]] = {name: {} for name in sections}

    if path is not None:
        source = str(path)
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(source, WHOLE_FILE, "file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(source, WHOLE_FILE, f"not valid TOML ({exc})") from None
        for section, table in data.items():
            if section not in sections:
                raise ConfigError(
                    source, section, f"unknown section; expected one of {', '.join(sections)}"
                )
            if not isinstance(table, dict):
                raise ConfigError(source, section, "expected a [section] table")
            types_ = _section_types(sections[section])
            for key, value in table.items():
                if key not in types_:
                    raise ConfigError(
                        source,
                        f"{section}.{key}",
                        f"unknown key; expected one of {', '.join(types_)}",
                    )
                values[section][key] = _coerce(
                    value, types_[key], source, f"{section}.{key}", False
                )

    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if section not in sections:
            raise ConfigError(
                name, f"{section}.{key}", f"unknown section; expected one of {', '.join(sections)}"
            )
        types_ = _section_types(sections[section])
        if key not in types_:
            raise ConfigError(
                name, f"{section}.{key}", f"unknown key; expected one of {', '.join(types_)}"
            )
        values[section][key] = _coerce(value, types_[key], name, f"{section}.{key}", True)

    return Settings(**{name: cls(**values[name]) for name, cls in sections.items()})


def redacted(settings: Settings) -> dict[str, dict[str, Any]]:
    """The settings as plain data with secrets blanked, for ``switchboard config show``."""
    out = dataclasses.asdict(settings)
    secrets = (
        ("ami", "secret"),
        ("security", "session_secret"),
        ("crm", "auth_header"),
        ("http", "ops_token"),
    )
    for section, key in secrets:
        if out[section][key]:
            out[section][key] = "***"
    out["database"]["url"] = redact_url(out["database"]["url"])
    return out

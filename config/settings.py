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
import re
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from config.database_url import DatabaseUrl, parse_database_url, redact_url
from config.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "SWITCHBOARD_"
# ConfigError.key when the problem is the whole file (missing, not TOML), not one key.
WHOLE_FILE = "-"
# The placeholder of a trunk dial string (AmiSettings.trunks).
EXTENSION = "{extension}"
# PBX names tag contact keys and label metrics: short, lower case, no separators.
PBX_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
# The extra PBXs' table: [pbx.<name>], keys as [ami].
PBX_SECTION = "pbx"


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
    # This PBX's name: it tags the PBX's calls (contact keys of every PBX but the first
    # are "<name>:<Linkedid>") and is what an agent's `pbx:` in the queue file names.
    # In a [pbx.<name>] table the name is the table's and this key is not allowed.
    name: str = "main"
    # Other PBX name -> dial string that reaches an extension of that PBX from this one
    # over the inter-PBX trunk, e.g. {east = "PJSIP/{extension}@pbx-east"}. A caller on
    # this PBX is offered to agents of another PBX only when a trunk to it is listed.
    trunks: dict[str, str] = field(default_factory=dict)

    def trunk_dial(self, pbx: str, endpoint: str) -> str | None:
        """The dial string for ``endpoint`` (``PJSIP/1001``) of PBX ``pbx`` from this
        PBX: the endpoint itself on this PBX, the trunk's string on another, None when
        no trunk reaches that PBX."""
        if pbx == self.name:
            return endpoint
        template = self.trunks.get(pbx)
        if template is None:
            return None
        return template.replace(EXTENSION, endpoint.rsplit("/", 1)[-1])


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
class RecordingSettings:
    """Call recordings (Asterisk's MixMonitor, docs/RECORDING.md)."""

    # Where the service reads recordings: the Asterisk host's directory itself (same host)
    # or where a shared directory is mounted here.
    dir: str = "var/recordings"
    # The same directory as Asterisk sees it (MixMonitor's file path); empty: ``dir``,
    # resolved (the service and Asterisk on one host).
    pbx_dir: str = ""
    # Recordings older than this many days are deleted; 0 keeps them for ever.
    retention_days: int = 90
    # Seconds between two retention sweeps.
    purge_interval: float = 3600.0


@dataclass(frozen=True, slots=True)
class QualitySettings:
    """Quality review (docs/QUALITY.md): the evaluation forms supervisors score with."""

    # The YAML file of evaluation forms (config/evaluation_forms.yaml).
    forms_file: str = "config/evaluation_forms.yaml"


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    """The agent console's own files."""

    # Canned responses for chats and emails (routing/canned_responses.py), checked at start.
    canned_responses_file: str = "config/canned_responses.yaml"


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """The web chat widget and its visitor websocket (docs/chat.md)."""

    enabled: bool = True
    # Sites allowed to embed the widget (their exact origins, e.g. "https://www.example.com");
    # the service's own public_origin always is. A socket from any other Origin is a 403.
    allowed_origins: list[str] = field(default_factory=list)
    # What the pre-chat form offers: topic -> queue (a queue whose channels include chat).
    topics: dict[str, str] = field(
        default_factory=lambda: {"sales": "sales", "support": "support", "billing": "billing"}
    )
    # Opening hours: a schedule of an IVR script ("" = always open); outside them the widget
    # says offline_message and takes no chat.
    hours_script: str = ""
    hours_schedule: str = ""
    offline_message: str = ""
    # What one visitor may send, and how many sockets one address may hold.
    messages_per_minute: int = 30
    message_burst: int = 10
    max_message_chars: int = 2000
    visitors_per_ip: int = 20
    # Chats one address may start a minute (a burst of as many): a loop of starts would
    # fill the queue with chats no one reads.
    starts_per_minute: int = 5
    # Reverse proxies (addresses or CIDR networks, IPv4 or IPv6) whose forwarded header
    # names the client: only a peer in this list is believed, and the client is the
    # right-most address of forwarded_header that is not itself one of them. Empty (the
    # default) trusts nobody: the TCP peer is the client. Every per-address limit of the
    # service reads it (chat sockets and starts, console logins, the login audit).
    trusted_proxies: list[str] = field(default_factory=list)
    # The header those proxies write: "x-forwarded-for" or "forwarded" (RFC 7239). Only
    # that one is read: the other one arrives as the client sent it.
    forwarded_header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for"


@dataclass(frozen=True, slots=True)
class CaseSettings:
    """Cases with SLA (docs/ARCHITECTURE.md "Cases and SLA (issue 17)")."""

    # The SLA policies: targets per priority in business hours and the IVR schedule they
    # count in (config/sla.yaml documents the format); "" = no SLA.
    sla_file: str = "config/sla.yaml"
    # Seconds between two SLA checks (breach flags, case_sla alerts).
    check_interval: float = 30.0


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """Supervisor alerts (docs/ARCHITECTURE.md "Supervisor alerts"): thresholds, 0 = off.

    The queue thresholds are defaults; a queue file's ``alerts`` table overrides them per
    queue."""

    # A queue's longest waiting caller above this many seconds.
    longest_wait_seconds: float = 0.0
    # A queue's service level over the last ``service_level_window`` seconds below this %.
    service_level_below: float = 0.0
    service_level_window: float = 900.0
    # Callers waiting in a queue and no agent ready for it, for this many seconds.
    no_agent_ready: float = 0.0
    # An agent in not-ready / wrap-up longer than this many minutes.
    not_ready_minutes: float = 0.0
    wrap_up_minutes: float = 0.0
    # A PBX's AMI link down / the database failing writes for this many seconds.
    ami_down: float = 0.0
    database_failing: float = 0.0
    # Seconds between two checks, and how long a condition must be gone before its alert
    # clears (so it does not flap).
    check_interval: float = 5.0
    clear_after: float = 10.0
    # Cleared alerts kept for the wallboard's list, this many seconds.
    keep_cleared: float = 3600.0
    # Optional webhook: POST JSON to this URL, signed with the secret (set it in the
    # environment: SWITCHBOARD_ALERTS__WEBHOOK_SECRET).
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_timeout: float = 5.0
    webhook_retries: int = 5
    webhook_queue: int = 1000


@dataclass(frozen=True, slots=True)
class SiteSettings:
    # The contact center's time zone (IANA name): report days and intervals, exports.
    timezone: str = "UTC"


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
    # a queue's statistics go to consoles and the wallboard at most this often (seconds)
    stats_interval: float = 0.25


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
class EmailSettings:
    """The email channel (docs/EMAIL.md): mail in by the SMTP listener and/or an IMAP
    mailbox, replies out through an SMTP relay. The passwords come from the environment
    only (SWITCHBOARD_EMAIL__SMTP_PASSWORD, SWITCHBOARD_EMAIL__IMAP_PASSWORD): a settings
    file that sets them is refused, and no log line or ``config show`` shows them."""

    enabled: bool = False
    # Our address (From of replies and transcripts) and the name shown with it.
    from_address: str = ""
    from_name: str = ""
    # The domain of the Message-IDs we create (default: the from_address's domain).
    domain: str = ""
    # Mailbox address -> queue: mail to support@ goes to queue "support". An address not
    # listed is refused by the listener (550); IMAP mail to none of them goes to
    # default_queue (empty: the first mailbox's queue).
    mailboxes: dict[str, str] = field(default_factory=dict)
    default_queue: str = ""
    # The SMTP listener the service runs (loopback unless you put a relay in front).
    listen: bool = False
    listen_host: str = "127.0.0.1"
    listen_port: int = 2525
    # An IMAP mailbox polled for UNSEEN mail, marked \Seen once stored.
    imap_host: str = ""
    imap_port: int = 993
    imap_tls: Literal["tls", "starttls", "none"] = "tls"
    imap_user: str = ""
    imap_password: str = field(default="", repr=False)
    imap_mailbox: str = "INBOX"
    poll_interval: float = 30.0
    # The relay replies go out through.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_tls: Literal["starttls", "tls", "none"] = "starttls"
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_timeout: float = 30.0
    # Temporary failures (4xx, no connection) are retried this many times, backing off.
    smtp_retries: int = 4
    # Limits on inbound mail: the whole message (bigger is refused with 552), one
    # attachment, attachments per message; where attachment files are kept.
    max_message_bytes: int = 10 * 1024 * 1024
    max_attachment_bytes: int = 8 * 1024 * 1024
    max_attachments: int = 20
    attachments_dir: str = "var/attachments"
    # Quote the customer's last message under an agent's reply.
    quote_thread: bool = True


@dataclass(frozen=True, slots=True)
class Settings:
    ami: AmiSettings = field(default_factory=AmiSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    ivr: IvrSettings = field(default_factory=IvrSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    recording: RecordingSettings = field(default_factory=RecordingSettings)
    quality: QualitySettings = field(default_factory=QualitySettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    cases: CaseSettings = field(default_factory=CaseSettings)
    chat: ChatSettings = field(default_factory=ChatSettings)
    site: SiteSettings = field(default_factory=SiteSettings)
    crm: CrmSettings = field(default_factory=CrmSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    email: EmailSettings = field(default_factory=EmailSettings)
    # PBXs beyond the first ([ami]): name -> settings, from [pbx.<name>] tables.
    pbx: dict[str, AmiSettings] = field(default_factory=dict)

    @property
    def pbxs(self) -> tuple[AmiSettings, ...]:
        """Every PBX, the first ([ami]) first."""
        return (self.ami, *self.pbx.values())

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
        for name, pbx in self.pbx.items():
            if not pbx.secret:
                raise ConfigError(
                    "settings",
                    f"pbx.{name}.secret",
                    f"required; set it in the file or in {ENV_PREFIX}PBX__{name.upper()}__SECRET",
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
    del sections[PBX_SECTION]
    values: dict[str, dict[str, Any]] = {name: {} for name in sections}
    pbx_values: dict[str, dict[str, Any]] = {}
    pbx_types = _section_types(AmiSettings)
    file_email: set[str] = set()
    del pbx_types["name"]  # a [pbx.<name>] table is named by its header

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
            if section == PBX_SECTION:
                _read_pbx_tables(source, table, pbx_types, pbx_values)
                continue
            if section not in sections:
                raise ConfigError(
                    source,
                    section,
                    f"unknown section; expected one of {', '.join(sections)}, {PBX_SECTION}.<name>",
                )
            if not isinstance(table, dict):
                raise ConfigError(source, section, "expected a [section] table")
            _read_table(source, section, table, _section_types(sections[section]), values[section])
            if section == "email":
                file_email = set(table)

    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if section == PBX_SECTION:
            pbx_name, _, key = key.partition("__")
            if pbx_name not in pbx_values:
                raise ConfigError(
                    name,
                    f"{PBX_SECTION}.{pbx_name}.{key}",
                    f"no [{PBX_SECTION}.{pbx_name}] table in the settings file to override",
                )
            where = f"{PBX_SECTION}.{pbx_name}.{key}"
            if key not in pbx_types:
                raise ConfigError(
                    name, where, f"unknown key; expected one of {', '.join(pbx_types)}"
                )
            pbx_values[pbx_name][key] = _coerce(value, pbx_types[key], name, where, True)
            continue
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

    built = {name: cls(**values[name]) for name, cls in sections.items()}
    pbx = {name: AmiSettings(**fields, name=name) for name, fields in pbx_values.items()}
    settings = Settings(**built, pbx=pbx)
    _check_pbxs(settings, str(path) if path is not None else "environment")
    _check_email(settings.email, file_email, str(path) if path is not None else "environment")
    return settings


def _read_table(
    source: str,
    where: str,
    table: Mapping[str, Any],
    types_: Mapping[str, Any],
    into: dict[str, Any],
) -> None:
    for key, value in table.items():
        if key not in types_:
            raise ConfigError(
                source, f"{where}.{key}", f"unknown key; expected one of {', '.join(types_)}"
            )
        into[key] = _coerce(value, types_[key], source, f"{where}.{key}", False)


def _read_pbx_tables(
    source: str, tables: Any, types_: Mapping[str, Any], into: dict[str, dict[str, Any]]
) -> None:
    """``[pbx.<name>]`` tables: one more Asterisk each, with the keys of ``[ami]``."""
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise ConfigError(
            source, PBX_SECTION, f"expected [{PBX_SECTION}.<name>] tables with the keys of [ami]"
        )
    for pbx_name, table in tables.items():
        where = f"{PBX_SECTION}.{pbx_name}"
        if not PBX_NAME.match(pbx_name):
            raise ConfigError(
                source, where, "a PBX name is 1-32 lower-case letters, digits or _, a letter first"
            )
        if "name" in table:
            raise ConfigError(source, f"{where}.name", "not allowed: the table's name is the PBX's")
        into[pbx_name] = {}
        _read_table(source, where, table, types_, into[pbx_name])


def _check_pbxs(settings: Settings, source: str) -> None:
    """The PBXs together: unique names and addresses, trunks to PBXs that exist."""
    first = settings.ami
    if not PBX_NAME.match(first.name):
        raise ConfigError(
            source, "ami.name", "a PBX name is 1-32 lower-case letters, digits or _, a letter first"
        )
    if first.name in settings.pbx:
        raise ConfigError(
            source, f"{PBX_SECTION}.{first.name}", "the first PBX ([ami]) already has this name"
        )
    names = [p.name for p in settings.pbxs]
    addresses: dict[tuple[str, int], str] = {}
    for pbx in settings.pbxs:
        where = "ami" if pbx is first else f"{PBX_SECTION}.{pbx.name}"
        address = (pbx.host, pbx.port)
        if address in addresses:
            # The same Asterisk twice would see every call twice and act on it twice.
            raise ConfigError(
                source,
                f"{where}.port",
                f"{pbx.host}:{pbx.port} is already the address of PBX {addresses[address]!r}",
            )
        addresses[address] = pbx.name
        for target, template in pbx.trunks.items():
            key = f"{where}.trunks.{target}"
            if target == pbx.name or target not in names:
                others = ", ".join(n for n in names if n != pbx.name) or "none"
                raise ConfigError(
                    source, key, f"expected the name of another PBX ({others}), got {target!r}"
                )
            rest = template.replace(EXTENSION, "", 1)
            if (
                template.count(EXTENSION) != 1
                or "/" not in template
                or template.startswith("/")
                or any(c in rest for c in "{},&\r\n\t ")
            ):
                raise ConfigError(
                    source,
                    key,
                    f"expected one dial string with {EXTENSION} once, like "
                    f'"PJSIP/{EXTENSION}@pbx-{target}", got {template!r}',
                )


def shown_url(url: str) -> str:
    """``scheme://host[:port]`` of a webhook URL: its path, query and user info can be
    the credential (Slack, Teams and Discord webhooks), so no log or listing shows them."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", f":{parts.port}" if parts.port else ""
    except ValueError:  # a port that is not a number
        return "(not a URL)"
    return f"{parts.scheme}://{host}{port}/..." if host else "(not a URL)"


def redacted(settings: Settings) -> dict[str, dict[str, Any]]:
    """The settings as plain data with secrets blanked, for ``switchboard config show``."""
    out = dataclasses.asdict(settings)
    secrets = (
        ("ami", "secret"),
        ("security", "session_secret"),
        ("crm", "auth_header"),
        ("http", "ops_token"),
        ("alerts", "webhook_secret"),
        ("email", "smtp_password"),
        ("email", "imap_password"),
    )
    for section, key in secrets:
        if out[section][key]:
            out[section][key] = "***"
    out["database"]["url"] = redact_url(out["database"]["url"])
    if out["alerts"]["webhook_url"]:
        out["alerts"]["webhook_url"] = shown_url(out["alerts"]["webhook_url"])
    for pbx in out[PBX_SECTION].values():
        if pbx["secret"]:
            pbx["secret"] = "***"
    return out


_ADDRESS = re.compile(r"[^@\s<>,;\"']+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+")
_EMAIL_SECRETS = ("smtp_password", "imap_password")


def _check_email(email: EmailSettings, in_file: set[str], source: str) -> None:
    """[email]: secrets only from the environment; when enabled, what it needs to work."""
    for key in _EMAIL_SECRETS:
        if key in in_file:
            raise ConfigError(
                source,
                f"email.{key}",
                f"a secret: set it in the environment ({ENV_PREFIX}EMAIL__{key.upper()}), not in the file",
            )
    for key in ("listen_port", "imap_port", "smtp_port"):
        if not 1 <= getattr(email, key) <= 65535:
            raise ConfigError(source, f"email.{key}", "a port 1..65535")
    for key in ("max_message_bytes", "max_attachment_bytes"):
        if not 1024 <= getattr(email, key) <= 100 * 1024 * 1024:
            raise ConfigError(source, f"email.{key}", "1024..104857600 bytes")
    if not 0 <= email.max_attachments <= 100:
        raise ConfigError(source, "email.max_attachments", "0..100")
    if not 0 <= email.smtp_retries <= 20:
        raise ConfigError(source, "email.smtp_retries", "0..20")
    if not 1.0 <= email.poll_interval <= 3600.0:
        raise ConfigError(source, "email.poll_interval", "1..3600 seconds")
    if not 1.0 <= email.smtp_timeout <= 600.0:
        raise ConfigError(source, "email.smtp_timeout", "1..600 seconds")
    for address in email.mailboxes:
        if not _ADDRESS.fullmatch(address):
            raise ConfigError(source, f"email.mailboxes.{address}", "an email address")
    if not email.enabled:
        return
    if not _ADDRESS.fullmatch(email.from_address):
        raise ConfigError(source, "email.from_address", "an email address (replies come from it)")
    if not email.mailboxes:
        raise ConfigError(source, "email.mailboxes", "at least one address = queue")
    if not email.smtp_host:
        raise ConfigError(source, "email.smtp_host", "the relay replies go out through")
    if not email.listen and not email.imap_host:
        raise ConfigError(
            source, "email.listen", "true, or an imap_host to poll (mail must come in)"
        )
    if email.imap_host and not email.imap_user:
        raise ConfigError(source, "email.imap_user", "the IMAP login")

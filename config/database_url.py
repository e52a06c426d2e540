"""``database.url``: which database the store opens, and how a URL is shown without its
password. In config (not crm_lookup) because the settings resolve a relative SQLite path
against the project root, and config imports nothing of ours."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

from config.errors import ConfigError

__all__ = ["DatabaseUrl", "parse_database_url", "redact_url", "url_secrets"]


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """A parsed ``database.url``: ``sqlite`` with a file path, or ``postgresql``."""

    scheme: str  # "sqlite" or "postgresql"
    path: str = ""  # sqlite: the file (or ":memory:")
    #: postgresql: the URL as given, password included: never log it (not in the repr)
    dsn: str = field(default="", repr=False)

    def display(self) -> str:
        return self.path if self.scheme == "sqlite" else redact_url(self.dsn)


#: query parameters libpq and asyncpg read a secret from (the login's, the client key's)
SECRET_PARAMETERS = frozenset({"password", "sslpassword"})


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``: the one after ``user:`` and any
    ``password=`` / ``sslpassword=`` query parameter (also in a URL that does not parse)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable database url>"
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        user = userinfo.split(":", 1)[0]
        parts = parts._replace(netloc=f"{user}:***@{hostport}")
    if parts.query:
        fields = []
        for field_text in parts.query.split("&"):
            name, eq, _ = field_text.partition("=")
            secret = eq and unquote(name).strip().lower() in SECRET_PARAMETERS
            fields.append(f"{name}=***" if secret else field_text)
        parts = parts._replace(query="&".join(fields))
    return urlunsplit(parts)


def url_secrets(url: str) -> list[str]:
    """Every secret ``url`` carries, as written and percent-decoded (what a driver's
    message could quote), longest first: for scrubbing text that might contain them."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = {parts.password or ""}
    for field_text in parts.query.split("&"):
        name, eq, value = field_text.partition("=")
        if eq and unquote(name).strip().lower() in SECRET_PARAMETERS:
            found.add(value)
    found |= {unquote(value) for value in found}
    found.discard("")
    return sorted(found, key=len, reverse=True)


def parse_database_url(url: str) -> DatabaseUrl:
    """``sqlite:///relative/path``, ``sqlite:////absolute/path``, ``sqlite:///:memory:``,
    or ``postgresql://user:password@host:port/database`` (``postgres://`` too).

    Raises:
        ConfigError: another scheme, or a URL without a path / database (the message
            shows the URL without its password).
    """
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ConfigError("database", "url", "sqlite:///path or postgresql://... (no scheme)")
    if scheme == "sqlite":
        if not rest.startswith("/") or len(rest) < 2:
            raise ConfigError(
                "database", "url", "sqlite:///relative/path or sqlite:////absolute/path"
            )
        return DatabaseUrl("sqlite", path=unquote(rest[1:]))
    if scheme in ("postgresql", "postgres"):
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            raise ConfigError(
                "database", "url", f"a valid PostgreSQL URL, not {redact_url(text)}"
            ) from None
        if not parts.hostname or len(parts.path) < 2:
            raise ConfigError(
                "database",
                "url",
                f"postgresql://user:password@host:port/database, not {redact_url(text)}",
            )
        return DatabaseUrl("postgresql", dsn=text)
    raise ConfigError("database", "url", f"a sqlite:// or postgresql:// URL, not {scheme}://")

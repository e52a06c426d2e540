"""Settings: defaults, file, environment precedence, and every error path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config.errors import ConfigError
from config.settings import PROJECT_ROOT, Settings, load_settings, redacted


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


def test_defaults_without_file_or_environment() -> None:
    settings = load_settings(environ={})
    assert settings == Settings()
    assert settings.ami.port == 5038
    assert settings.ivr.entries == {"default": "main"}


def test_shipped_file_documents_exactly_the_defaults() -> None:
    assert load_settings(PROJECT_ROOT / "config" / "switchboard.toml", environ={}) == Settings()


def test_file_overrides_defaults_and_environment_overrides_file(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[ami]\nport = 6000\nhost = "10.0.0.5"\n[ivr.entries]\n"5551000" = "sales"\n'
    )
    env = {"SWITCHBOARD_AMI__PORT": "7000", "SWITCHBOARD_ROUTING__DISPOSITIONS": "a, b"}
    settings = load_settings(path, environ=env)
    assert settings.ami.port == 7000
    assert settings.ami.host == "10.0.0.5"
    assert settings.ivr.entries == {"5551000": "sales"}
    assert settings.routing.dispositions == ["a", "b"]


def test_config_file_from_environment_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "[http]\nport = 9999\n")
    assert load_settings(environ={"SWITCHBOARD_CONFIG": str(path)}).http.port == 9999


def test_environment_parses_each_type() -> None:
    env = {
        "SWITCHBOARD_AMI__PING_INTERVAL": "2.5",
        "SWITCHBOARD_AMI__SECRET": "s3cret",
        "SWITCHBOARD_IVR__ENTRIES": '{"100": "main"}',
        "SWITCHBOARD_CRM__ADAPTER": "http",
    }
    settings = load_settings(environ=env)
    assert settings.ami.ping_interval == 2.5
    assert settings.ami.secret == "s3cret"
    assert settings.ivr.entries == {"100": "main"}
    assert settings.crm.adapter == "http"


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().ami.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ('[ami]\nport = "x"\n', "ami.port", "expected an integer, got 'x'"),
        ("[ami]\nport = 1.5\n", "ami.port", "expected an integer"),
        ('[ami]\nauth = "sha1"\n', "ami.auth", "expected one of 'md5', 'plain'"),
        ("[ami]\nbogus = 1\n", "ami.bogus", "unknown key"),
        ("[nosuch]\na = 1\n", "nosuch", "unknown section"),
        ("[ami]\nping_interval = true\n", "ami.ping_interval", "expected a number"),
        ("[routing]\ndispositions = [1]\n", "routing.dispositions", "expected a list of strings"),
        ("ami = 3\n", "ami", "expected a [section] table"),
        ("[ami\n", "-", "not valid TOML"),
    ],
)
def test_file_errors_name_file_key_and_expectation(
    tmp_path: Path, text: str, key: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert info.value.source == str(path)
    assert info.value.key == key
    assert expected in info.value.expected
    assert str(info.value).startswith(f"{path}: {key}: ")


@pytest.mark.parametrize(
    ("name", "value", "key", "expected"),
    [
        ("SWITCHBOARD_HTTP__PORT", "eighty", "http.port", "expected an integer"),
        ("SWITCHBOARD_HTTP__NOPE", "1", "http.nope", "unknown key"),
        ("SWITCHBOARD_NOPE__PORT", "1", "nope.port", "unknown section"),
        ("SWITCHBOARD_IVR__ENTRIES", "{not json", "ivr.entries", "expected a table of strings"),
    ],
)
def test_environment_errors_name_the_variable(
    name: str, value: str, key: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={name: value})
    assert info.value.source == name
    assert info.value.key == key
    assert expected in info.value.expected


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "absent.toml", environ={})


def test_production_requires_secrets() -> None:
    with pytest.raises(ConfigError, match="SWITCHBOARD_AMI__SECRET"):
        load_settings(environ={}).require_production()
    env = {"SWITCHBOARD_AMI__SECRET": "a", "SWITCHBOARD_SECURITY__SESSION_SECRET": "b"}
    load_settings(environ=env).require_production()


def test_redacted_hides_secrets() -> None:
    settings = load_settings(environ={"SWITCHBOARD_AMI__SECRET": "hunter2"})
    data = redacted(settings)
    assert data["ami"]["secret"] == "***"
    assert "hunter2" not in repr(data)


def test_cli_prints_one_line_and_exits_1_on_bad_config(tmp_path: Path) -> None:
    path = write(tmp_path, '[ami]\nport = "x"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "switchboard", "--config", str(path), "config", "show"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert (
        proc.stderr.strip() == f"switchboard: error: {path}: ami.port: expected an integer, got 'x'"
    )
    assert "Traceback" not in proc.stderr


def test_database_url_wins_over_path_and_a_relative_sqlite_path_is_under_the_root() -> None:
    default = load_settings(environ={})
    assert default.database_target() == str(PROJECT_ROOT / "var" / "switchboard.sqlite3")
    old_style = load_settings(environ={"SWITCHBOARD_DATABASE__PATH": "/srv/old.sqlite3"})
    assert old_style.database_target() == "/srv/old.sqlite3"
    relative = load_settings(environ={"SWITCHBOARD_DATABASE__URL": "sqlite:///var/x.sqlite3"})
    assert relative.database_target() == str(PROJECT_ROOT / "var" / "x.sqlite3")
    absolute = load_settings(environ={"SWITCHBOARD_DATABASE__URL": "sqlite:////srv/x.sqlite3"})
    assert absolute.database_target() == "/srv/x.sqlite3"
    pg = "postgresql://sb:s3cret-pw@db.example:5432/switchboard"
    both = load_settings(
        environ={"SWITCHBOARD_DATABASE__URL": pg, "SWITCHBOARD_DATABASE__PATH": "/ignored"}
    )
    assert both.database_target() == pg
    assert both.database_url().display() == "postgresql://sb:***@db.example:5432/switchboard"


def test_database_url_errors_and_the_shown_settings_never_carry_the_password() -> None:
    pg = "postgresql://sb:s3cret-pw@db.example:5432/switchboard"
    data = redacted(load_settings(environ={"SWITCHBOARD_DATABASE__URL": pg}))
    assert data["database"]["url"] == "postgresql://sb:***@db.example:5432/switchboard"
    assert "s3cret-pw" not in repr(data)
    in_query = "postgresql://sb@db.example/switchboard?password=s3cret-pw"
    shown = redacted(load_settings(environ={"SWITCHBOARD_DATABASE__URL": in_query}))
    assert shown["database"]["url"] == "postgresql://sb@db.example/switchboard?password=***"
    for bad in ("mysql://sb:s3cret-pw@db/x", "postgresql://sb:s3cret-pw@db.example"):
        settings = load_settings(environ={"SWITCHBOARD_DATABASE__URL": bad})
        with pytest.raises(ConfigError) as caught:
            settings.database_target()
        assert "s3cret-pw" not in str(caught.value)
    pools = load_settings(
        environ={
            "SWITCHBOARD_DATABASE__POOL_MIN_SIZE": "5",
            "SWITCHBOARD_DATABASE__POOL_MAX_SIZE": "2",
        }
    )
    with pytest.raises(ConfigError, match="pool_min_size"):
        pools.database_target()


# -- several PBXs ([ami] is the first, [pbx.<name>] the others) -------------------------

TWO_PBXS = """
[ami]
name = "west"
host = "10.0.0.1"
trunks = {east = "PJSIP/{extension}@pbx-east"}
[pbx.east]
host = "10.0.0.2"
username = "sb-east"
trunks = {west = "PJSIP/{extension}@pbx-west"}
"""


def test_a_file_without_pbx_tables_has_one_pbx_named_main() -> None:
    settings = load_settings(environ={})
    assert [p.name for p in settings.pbxs] == ["main"]
    assert settings.pbx == {}
    assert settings.ami.trunk_dial("main", "PJSIP/1001") == "PJSIP/1001"
    assert settings.ami.trunk_dial("east", "PJSIP/1001") is None


def test_pbx_tables_add_named_pbxs_with_the_keys_of_ami(tmp_path: Path) -> None:
    env = {"SWITCHBOARD_PBX__EAST__SECRET": "s3", "SWITCHBOARD_PBX__EAST__PORT": "5039"}
    settings = load_settings(write(tmp_path, TWO_PBXS), environ=env)
    assert [p.name for p in settings.pbxs] == ["west", "east"]
    east = settings.pbx["east"]
    assert (east.host, east.port, east.username, east.secret) == ("10.0.0.2", 5039, "sb-east", "s3")
    assert east.connect_context == "switchboard-connect"  # the [ami] defaults
    assert settings.ami.trunk_dial("east", "PJSIP/1001") == "PJSIP/1001@pbx-east"
    assert east.trunk_dial("west", "PJSIP/2002") == "PJSIP/2002@pbx-west"
    assert redacted(settings)["pbx"]["east"]["secret"] == "***"


@pytest.mark.parametrize(
    ("text", "key", "says"),
    [
        ("[pbx]\nhost = 1\n", "pbx", "[pbx.<name>] tables"),
        ("[pbx.East]\n", "pbx.East", "lower-case"),
        ("[pbx.east]\nname = 'x'\n", "pbx.east.name", "table's name"),
        ("[pbx.east]\nhots = 'x'\n", "pbx.east.hots", "unknown key"),
        ("[pbx.east]\nport = 'x'\n", "pbx.east.port", "an integer"),
        ("[pbx.main]\nport = 6000\n", "pbx.main", "already has this name"),
        ("[pbx.east]\n", "pbx.east.port", "already the address of PBX 'main'"),
        (
            "[ami]\ntrunks = {north = 'PJSIP/{extension}@n'}\n[pbx.east]\nport = 6000\n",
            "ami.trunks.north",
            "another PBX (east)",
        ),
        ("[ami]\ntrunks = {main = 'PJSIP/{extension}@x'}\n", "ami.trunks.main", "another PBX"),
        (
            "[ami]\ntrunks = {east = 'PJSIP/1001@x'}\n[pbx.east]\nport = 6000\n",
            "ami.trunks.east",
            "{extension} once",
        ),
        (
            "[ami]\ntrunks = {east = 'PJSIP/{extension}@x,30'}\n[pbx.east]\nport = 6000\n",
            "ami.trunks.east",
            "{extension} once",
        ),
    ],
)
def test_pbx_problems_name_the_key(tmp_path: Path, text: str, key: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), environ={})
    assert info.value.key == key
    assert says in info.value.expected


def test_environment_overrides_only_pbxs_the_file_declares(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no \[pbx.eat\] table") as info:
        load_settings(environ={"SWITCHBOARD_PBX__EAT__SECRET": "x"})
    assert info.value.key == "pbx.eat.secret"
    with pytest.raises(ConfigError, match="unknown key"):
        load_settings(write(tmp_path, TWO_PBXS), environ={"SWITCHBOARD_PBX__EAST__NAME": "x"})


def test_production_needs_every_pbx_secret(tmp_path: Path) -> None:
    env = {"SWITCHBOARD_AMI__SECRET": "a", "SWITCHBOARD_SECURITY__SESSION_SECRET": "b"}
    settings = load_settings(write(tmp_path, TWO_PBXS), environ=env)
    with pytest.raises(ConfigError, match="SWITCHBOARD_PBX__EAST__SECRET"):
        settings.require_production()


def test_config_show_and_logs_never_name_a_webhooks_path() -> None:
    """A chat webhook's URL path is its credential (Slack, Teams, Discord)."""
    from config.settings import redacted, shown_url

    url = "https://user:pw@hooks.example.com:8443/services/T000/B000/XXXXSECRET?token=abc"
    settings = load_settings(
        None, {"SWITCHBOARD_ALERTS__WEBHOOK_URL": url, "SWITCHBOARD_ALERTS__WEBHOOK_SECRET": "s"}
    )
    shown = redacted(settings)["alerts"]
    assert shown["webhook_url"] == "https://hooks.example.com:8443/..."
    assert shown["webhook_secret"] == "***"
    assert shown_url("http://127.0.0.1:99999/x") == "(not a URL)"
    assert shown_url("not a url") == "(not a URL)"

"""[email] settings: secrets from the environment only, never shown; what an enabled
channel needs is checked at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.errors import ConfigError
from config.settings import load_settings, redacted

GOOD = """
[email]
enabled = true
from_address = "support@shop.test"
mailboxes = {"support@shop.test" = "support"}
listen = true
smtp_host = "relay.shop.test"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sb.toml"
    path.write_text(text)
    return path


def test_passwords_come_from_the_environment_and_are_redacted(tmp_path: Path) -> None:
    env = {
        "SWITCHBOARD_EMAIL__SMTP_PASSWORD": "pa55",
        "SWITCHBOARD_EMAIL__IMAP_PASSWORD": "imap-pa55",
    }
    settings = load_settings(write(tmp_path, GOOD), environ=env)
    assert settings.email.smtp_password == "pa55" and settings.email.mailboxes == {
        "support@shop.test": "support"
    }
    shown = redacted(settings)["email"]
    assert shown["smtp_password"] == "***" and shown["imap_password"] == "***"
    assert "pa55" not in repr(settings.email)


@pytest.mark.parametrize("key", ["smtp_password", "imap_password"])
def test_a_password_in_the_file_is_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigError, match=f"SWITCHBOARD_EMAIL__{key.upper()}") as err:
        load_settings(write(tmp_path, GOOD + f'{key} = "hunter2"\n'), environ={})
    assert "hunter2" not in str(err.value)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ('from_address = "nobody"', "email.from_address"),
        ("mailboxes = {}", "email.mailboxes"),
        ('smtp_host = ""', "email.smtp_host"),
        ("listen = false", "email.listen"),
        ("listen_port = 70000", "email.listen_port"),
        ("max_message_bytes = 10", "email.max_message_bytes"),
        ('mailboxes = {"not an address" = "q"}', "email.mailboxes.not an address"),
        ('imap_host = "imap.shop.test"', "email.imap_user"),
        ('smtp_tls = "maybe"', "email.smtp_tls"),
    ],
)
def test_an_enabled_channel_is_checked(tmp_path: Path, change: str, key: str) -> None:
    name = change.split(" = ")[0]
    text = "\n".join(line for line in GOOD.splitlines() if not line.startswith(name + " "))
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_settings(write(tmp_path, text + "\n" + change + "\n"), environ={})


def test_disabled_by_default(tmp_path: Path) -> None:
    assert load_settings(environ={}).email.enabled is False

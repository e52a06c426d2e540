"""``switchboard users add`` / ``list`` against a real store file."""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path

import pytest

from agent_console.auth import Passwords
from switchboard.cli import main


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "users.sqlite3"
    monkeypatch.setenv("SWITCHBOARD_DATABASE__PATH", str(path))
    monkeypatch.delenv("SWITCHBOARD_CONFIG", raising=False)
    return path


def stored(path: Path, username: str) -> object:
    from crm_lookup.store import open_store

    async def get() -> object:
        store = await open_store(path)
        try:
            return await store.users.get_by_username(username)
        finally:
            await store.close()

    return asyncio.run(get())


def run(monkeypatch: pytest.MonkeyPatch, argv: list[str], stdin: str) -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(argv)


def test_add_reads_the_password_from_stdin(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["users", "add", "alice", "--role", "agent", "--agent-id", "1001"]
    assert run(monkeypatch, argv, "s3cret pass\n") == 0
    user = stored(db, "alice")
    assert user is not None
    assert (user.role, user.agent_id) == ("agent", "1001")  # type: ignore[attr-defined]
    assert user.password_hash.startswith("$argon2id$")  # type: ignore[attr-defined]
    assert Passwords().verify(user.password_hash, "s3cret pass")  # type: ignore[attr-defined]
    assert "s3cret" not in capsys.readouterr().out
    assert run(monkeypatch, ["users", "list"], "") == 0
    assert "alice\tagent\t1001" in capsys.readouterr().out


def test_add_refuses_bad_input(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(monkeypatch, ["users", "add", "sue", "--role", "supervisor"], "pw-1-long\n") == 0
    assert run(monkeypatch, ["users", "add", "sue", "--role", "supervisor"], "pw-2-long\n") == 1
    assert "exists" in capsys.readouterr().err
    assert run(monkeypatch, ["users", "add", "bob", "--role", "agent"], "pw\n") == 1
    assert "agent-id" in capsys.readouterr().err
    assert run(monkeypatch, ["users", "add", "carol", "--role", "admin"], "\n") == 1
    assert "password" in capsys.readouterr().err
    assert run(monkeypatch, ["users", "add", "bad name", "--role", "admin"], "pw\n") == 1
    assert stored(db, "carol") is None
    assert stored(db, "bob") is None
    with pytest.raises(SystemExit):
        run(monkeypatch, ["users", "add", "x", "--role", "king"], "pw\n")
    assert run(monkeypatch, ["users", "add", "dora", "--role", "admin"], "short\n") == 1
    assert "at least 8 characters" in capsys.readouterr().err
    argv = ["users", "add", "dave", "--role", "agent", "--agent-id", "1008"]
    assert run(monkeypatch, argv, "long enough\n") == 1
    assert "agent id 1008 is not in" in capsys.readouterr().err
    assert stored(db, "dora") is None and stored(db, "dave") is None

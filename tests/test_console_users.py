"""``switchboard users add`` / ``list`` / ``disable`` / ``enable`` / ``delete`` /
``passwd`` against a real store file."""

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
    assert "alice\tagent\t1001\tactive" in capsys.readouterr().out


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
    assert "agent id 1008 is not an agent of the queue file" in capsys.readouterr().err
    assert stored(db, "dora") is None and stored(db, "dave") is None


def test_add_keeps_the_same_rules_as_the_admin_api(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["users", "add", "alice", "--role", "agent", "--agent-id", "1001"]
    assert run(monkeypatch, argv, "s3cret pass\n") == 0
    argv = ["users", "add", "alan", "--role", "supervisor", "--agent-id", "1001"]
    assert run(monkeypatch, argv, "s3cret pass\n") == 1
    assert "agent 1001 already belongs to user alice" in capsys.readouterr().err
    argv = ["users", "add", "sam", "--role", "supervisor", "--agent-id", "7777"]
    assert run(monkeypatch, argv, "s3cret pass\n") == 1
    assert "is not an agent of the queue file" in capsys.readouterr().err
    for password in ("password123", "QWERTYUIOP", "xx-bob-2024"):
        assert run(monkeypatch, ["users", "add", "bob", "--role", "admin"], password + "\n") == 1
        assert "too easy to guess" in capsys.readouterr().err
    assert stored(db, "alan") is None and stored(db, "sam") is None
    assert stored(db, "bob") is None


def session_rows(path: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute("SELECT username FROM sessions ORDER BY username")]


def add_session(path: Path, username: str) -> None:
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO sessions(key, username, role, agent_id, csrf, expires)"
            " VALUES (?, ?, 'admin', NULL, 'c', 9e12)",
            (f"key-{username}", username),
        )


def test_disable_enable_delete_and_passwd(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("root", "ann"):
        assert run(monkeypatch, ["users", "add", name, "--role", "admin"], "s3cret pass\n") == 0
    add_session(db, "ANN")  # a session stored under another spelling
    add_session(db, "root")
    assert run(monkeypatch, ["users", "disable", "ann"], "") == 0
    assert "user ann disabled; sessions ended" in capsys.readouterr().out
    assert session_rows(db) == ["root"]
    assert stored(db, "ann").disabled is True  # type: ignore[attr-defined]
    assert run(monkeypatch, ["users", "list"], "") == 0
    assert "ann\tadmin\t-\tdisabled" in capsys.readouterr().out
    # The last enabled admin can be neither disabled nor deleted.
    assert run(monkeypatch, ["users", "disable", "root"], "") == 1
    assert "last admin" in capsys.readouterr().err
    assert run(monkeypatch, ["users", "delete", "root"], "") == 1
    assert run(monkeypatch, ["users", "enable", "ann"], "") == 0
    assert stored(db, "ann").disabled is False  # type: ignore[attr-defined]
    assert run(monkeypatch, ["users", "passwd", "root"], "another secret\n") == 0
    assert session_rows(db) == []
    new_hash = stored(db, "root").password_hash  # type: ignore[attr-defined]
    assert Passwords().verify(new_hash, "another secret")
    assert run(monkeypatch, ["users", "passwd", "root"], "welcome123\n") == 1
    assert run(monkeypatch, ["users", "delete", "root"], "") == 0
    assert stored(db, "root") is None
    assert run(monkeypatch, ["users", "delete", "root"], "") == 1
    assert "no user root" in capsys.readouterr().err

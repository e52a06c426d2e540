"""The reload loop: off the event loop, within a time limit, and it never dies.

Each test runs a real Reloader on a real event loop over files in a temporary directory,
with a heartbeat task that measures how late the loop wakes it up.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from routing.acd.config import QueueFile
from routing.ivr.script import TIME_LIMIT_PROBLEM, ScriptLibrary
from routing.reloader import Reloader

pytestmark = pytest.mark.asyncio

GOOD = "nodes:\n  bye: {kind: hangup}\n"
QUEUES = "queues:\n  sales: {ring_timeout: 10}\n"
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)
DEEP = "nodes: " + "[" * 5000 + "]" * 5000 + "\n"


def huge_script(nodes: int) -> str:
    lines = ["nodes:"]
    lines += [f"  n{i}: {{kind: set, variables: {{x: '1'}}, next: n{i + 1}}}" for i in range(nodes)]
    lines.append(f"  n{nodes}: {{kind: hangup}}")
    return "\n".join(lines) + "\n"


class Heartbeat:
    """A task that sleeps 10 ms at a time and keeps the worst lateness seen."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.beats = 0

    async def run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, time.perf_counter() - before - 0.01)
            self.beats += 1


@contextlib.asynccontextmanager
async def heartbeat() -> AsyncIterator[Heartbeat]:
    beat = Heartbeat()
    task = asyncio.ensure_future(beat.run())
    try:
        yield beat
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    prompts = tmp_path / "prompts"
    (prompts / "en").mkdir(parents=True)
    queues = tmp_path / "queues.yaml"
    queues.write_text(QUEUES)
    return scripts, prompts, queues


def make(
    files: tuple[Path, Path, Path],
    applied: list[QueueFile] | None = None,
    apply: Callable[[QueueFile], None] | None = None,
    **kwargs: Any,
) -> Reloader:
    scripts, prompts, queues = files
    got = applied if applied is not None else []
    kwargs.setdefault("interval", 0.05)
    return Reloader(ScriptLibrary(scripts, prompts), queues, apply or got.append, **kwargs)


async def passes(reloader: Reloader, more: int) -> None:
    """Wait (up to a generous 20 s) until ``more`` passes have completed."""
    target = reloader.passes + more
    deadline = time.monotonic() + 20.0
    while reloader.passes < target:
        assert time.monotonic() < deadline, reloader.status()
        await asyncio.sleep(0.01)


async def test_hostile_files_never_stop_the_loop_nor_the_reloads(
    files: tuple[Path, Path, Path],
) -> None:
    scripts, _prompts, queues = files
    (scripts / "main.yaml").write_text(GOOD)
    (scripts / "deep.yaml").write_text(DEEP)
    (scripts / "bomb.yaml").write_text(BOMB)
    (scripts / "huge.yaml").write_text(huge_script(1500))
    applied: list[QueueFile] = []
    reloader = make(files, applied)
    async with heartbeat() as beat:
        await reloader.start()
        try:
            assert reloader.scripts.names == ["huge", "main"]
            errors = {e["file"]: e["error"] for e in reloader.status()["errors"]}
            assert errors == {
                str(scripts / "bomb.yaml"): f"{scripts / 'bomb.yaml'}:6: more than 300000 "
                "values once aliases are expanded",
                str(scripts / "deep.yaml"): f"{scripts / 'deep.yaml'}:1: nested more than 50 "
                "levels deep",
            }
            assert reloader.status()["ok"] is False
            # the same hostile queue file: refused, the current queues stay
            queues.write_text(DEEP.replace("nodes", "queues"))
            await passes(reloader, 2)
            assert applied == [] and reloader.running
            assert str(queues) in {e["file"] for e in reloader.status()["errors"]}
            assert len(reloader.scripts.get("huge").nodes) == 1501  # read off the loop
            # fixing every file makes the reloader healthy again
            (scripts / "deep.yaml").unlink()
            (scripts / "bomb.yaml").write_text(GOOD)
            queues.write_text(QUEUES.replace("10", "12"))
            await passes(reloader, 2)
            status = reloader.status()
            assert status["ok"] is True and status["errors"] == []
            assert status["last_error"] is not None  # what failed last is still told
            assert [q.ring_timeout for q in applied[-1].queues] == [12]
            assert reloader.scripts.names == ["bomb", "huge", "main"]
        finally:
            await reloader.stop()
    assert beat.beats > 10
    # On the loop the alias bomb alone froze it for ~10 s; 2 s leaves room for a busy CI
    # machine (threads share the GIL) and still catches any validation on the loop.
    assert beat.worst < 2.0, f"the event loop stalled for {beat.worst:.3f} s"


async def test_a_loader_that_raises_is_recorded_and_the_loop_carries_on(
    files: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    scripts, _prompts, _queues = files
    (scripts / "main.yaml").write_text(GOOD)
    reloader = make(files)
    await reloader.start()
    try:
        served = reloader.scripts.get("main")
        real = reloader.scripts.reload

        def explode(cancelled: Callable[[], bool] = lambda: False) -> Any:
            raise RecursionError("maximum recursion depth exceeded")

        monkeypatch.setattr(reloader.scripts, "reload", explode)
        await passes(reloader, 2)
        assert reloader.running and reloader.scripts.get("main") is served
        assert reloader.status()["errors"] == [
            {
                "file": str(scripts),
                "error": "RecursionError: maximum recursion depth exceeded",
                "since": pytest.approx(time.time(), abs=10),
            }
        ]
        monkeypatch.setattr(reloader.scripts, "reload", real)
        await passes(reloader, 2)
        assert reloader.status()["ok"] is True
    finally:
        await reloader.stop()


async def test_a_queue_file_the_center_refuses_is_reported_until_it_changes(
    files: tuple[Path, Path, Path],
) -> None:
    _scripts, _prompts, queues = files
    calls: list[QueueFile] = []

    def apply(loaded: QueueFile) -> None:
        calls.append(loaded)
        if len(calls) == 1:
            raise ValueError("the engine said no")

    reloader = make(files, apply=apply)
    await reloader.start()
    try:
        assert calls == []  # the file the service was built from is not applied again
        queues.write_text(QUEUES.replace("10", "11"))
        await passes(reloader, 3)
        assert len(calls) == 1  # refused once, not retried every pass
        assert reloader.status()["errors"][0]["error"] == "ValueError: the engine said no"
        queues.write_text(QUEUES.replace("10", "12"))
        await passes(reloader, 2)
        assert len(calls) == 2 and reloader.status()["ok"] is True
    finally:
        await reloader.stop()


async def test_a_pass_over_its_time_limit_is_stopped_and_reported(
    files: tuple[Path, Path, Path],
) -> None:
    scripts, _prompts, _queues = files
    (scripts / "huge.yaml").write_text(huge_script(4000))  # ~1.5 s to read
    reloader = make(files, time_limit=0.2)
    started = time.perf_counter()
    await reloader.start()
    try:
        assert time.perf_counter() - started < 0.2 + 1.0  # the limit plus the grace
        assert reloader.status()["errors"] == [
            {
                "file": str(scripts / "huge.yaml"),
                "error": f"{scripts / 'huge.yaml'}:1: {TIME_LIMIT_PROBLEM}",
                "since": pytest.approx(time.time(), abs=10),
            }
        ]
        assert reloader.scripts.names == []
    finally:
        await reloader.stop()


async def test_a_thread_that_ignores_the_limit_blocks_no_one_and_is_collected_late(
    files: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    scripts, _prompts, _queues = files
    (scripts / "main.yaml").write_text(GOOD)
    reloader = make(files, time_limit=0.1, grace=0.1)
    release = threading.Event()
    real = reloader.scripts.reload

    def stuck(cancelled: Callable[[], bool] = lambda: False) -> Any:
        release.wait(10)  # does not look at cancelled()
        return real(cancelled)

    monkeypatch.setattr(reloader.scripts, "reload", stuck)
    async with heartbeat() as beat:
        await reloader.start()
        try:
            status = reloader.status()
            assert status["errors"][0]["file"] == "-"
            assert "time limit of 0.1 s" in status["errors"][0]["error"]
            await asyncio.sleep(0.3)  # further passes wait for the stuck one
            assert "still running" in reloader.status()["errors"][0]["error"]
            release.set()
            await passes(reloader, 2)
            assert reloader.status()["ok"] is True and reloader.scripts.names == ["main"]
        finally:
            release.set()
            await reloader.stop()
    assert beat.worst < 2.0

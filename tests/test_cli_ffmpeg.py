"""Without ffmpeg on PATH the CLI stays quiet, wav prompts still build, and only the
sources that need ffmpeg (mp3, ogg, flac) fail, each with a message that says so."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_without_ffmpeg(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    empty_bin = tmp_path / "bin"  # PATH holds nothing, so no ffmpeg, avconv or ffprobe
    empty_bin.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWITCHBOARD_", "PYTHONWARN"))}
    env.update(PATH=str(empty_bin), SWITCHBOARD_DATABASE__PATH=str(tmp_path / "db.sqlite3"))
    return subprocess.run(
        [sys.executable, "-m", "switchboard", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def write_tone_wav(path: Path) -> None:
    frames = b"".join(
        (int(8000 * ((i // 20) % 2 * 2 - 1))).to_bytes(2, "little", signed=True)
        for i in range(8000)
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(frames)


def test_commands_print_no_ffmpeg_warning(tmp_path: Path) -> None:
    for argv in (["--help"], ["config", "show"], ["prompts", "build", "--help"]):
        done = run_without_ffmpeg(tmp_path, *argv)
        assert done.returncode == 0, done.stderr
        assert "ffmpeg" not in done.stderr and "Warning" not in done.stderr, argv


def test_prompts_build_wav_without_ffmpeg_and_names_it_for_mp3(tmp_path: Path) -> None:
    src = tmp_path / "prompts"
    (src / "en").mkdir(parents=True)
    write_tone_wav(src / "en" / "hello.wav")
    (src / "en" / "menu.mp3").write_bytes(b"ID3" + bytes(500))
    done = run_without_ffmpeg(tmp_path, "prompts", "build", "--source", str(src))
    assert done.returncode == 1  # menu.mp3 could not be built
    assert "Warning" not in done.stderr
    assert "built      en/hello.wav" in done.stdout
    assert (src / "en" / "hello.ulaw").is_file()
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "en/menu.mp3" in errors[0]
    assert "needs ffmpeg" in errors[0] and "apt-get install ffmpeg" in errors[0]

"""``switchboard prompts build`` on generated audio: formats, loudness, trimming, skipping
unchanged files, and a corrupt file that fails alone."""

from __future__ import annotations

import hashlib
import os
import wave
from pathlib import Path

import pytest
from pydub import AudioSegment
from pydub.generators import Sine

from switchboard.cli import main
from telephony.prompts import MANIFEST, BuildOptions, build_all, summarize


def tone(ms: int, freq: float = 440.0, volume: float = -6.0) -> AudioSegment:
    return Sine(freq, sample_rate=44100).to_audio_segment(duration=ms, volume=volume)


def padded(ms: int, volume: float = -6.0) -> AudioSegment:
    """Stereo 44.1 kHz: 400 ms silence, a tone, 600 ms silence."""
    silence = AudioSegment.silent(duration=400, frame_rate=44100)
    seg = silence + tone(ms, volume=volume) + AudioSegment.silent(duration=600, frame_rate=44100)
    return seg.set_channels(2)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "en").mkdir(parents=True)
    (src / "ru" / "menus").mkdir(parents=True)
    padded(1000).export(src / "en" / "hello.wav", format="wav")
    padded(700, volume=-30).export(src / "en" / "quiet.mp3", format="mp3")
    padded(500).export(src / "ru" / "hello.ogg", format="ogg")
    padded(800).export(src / "ru" / "menus" / "main.flac", format="flac")
    (src / "en" / "broken.mp3").write_bytes(os.urandom(3000))
    (src / "en" / "notes.aiff").write_bytes(b"FORM....AIFF")
    AudioSegment.silent(duration=500).export(src / "en" / "silent.wav", format="wav")
    (src / "en" / "README.md").write_text("ignored")
    return src


def wav_info(path: Path) -> tuple[int, int, int, int]:
    with wave.open(str(path)) as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_build_converts_normalises_trims_and_reports_failures(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    calls: list[tuple[int, int, str]] = []
    results = build_all(
        source,
        out,
        BuildOptions(target_dbfs=-18.0),
        progress=lambda d, t, n: calls.append((d, t, n)),
    )
    by_name = {r.source: r for r in results}
    assert summarize(results) == {"built": 4, "unchanged": 0, "codecs": 0, "failed": 3}
    assert by_name["en/broken.mp3"].error.startswith("cannot decode")
    assert (
        by_name["en/notes.aiff"].error == "unsupported format .aiff; expected wav, mp3, ogg, flac"
    )
    assert by_name["en/silent.wav"].error == "only silence (nothing above -50.0 dBFS)"
    assert calls[0] == (0, 6, "en/broken.mp3") and calls[-1] == (6, 6, "")

    for rel, tone_ms in (
        ("en/hello", 1000),
        ("en/quiet", 700),
        ("ru/hello", 500),
        ("ru/menus/main", 800),
    ):
        wav = out / f"{rel}.wav"
        rate, channels, width, frames = wav_info(wav)
        assert (rate, channels, width) == (8000, 1, 2)
        # trimmed to the tone plus at most the kept 80 ms each side (mp3 adds a little padding)
        assert tone_ms <= frames / 8 <= tone_ms + 2 * 80 + 60, rel
        assert by_name[
            Path(rel).as_posix()
            + {
                "en/hello": ".wav",
                "en/quiet": ".mp3",
                "ru/hello": ".ogg",
                "ru/menus/main": ".flac",
            }[rel]
        ].duration == pytest.approx(frames / 8000, abs=0.002)
        level = AudioSegment.from_wav(wav).dBFS
        assert level == pytest.approx(-18.0, abs=0.6), rel
        # headerless G.711: one byte per sample
        assert (out / f"{rel}.ulaw").stat().st_size == frames
        assert (out / f"{rel}.alaw").stat().st_size == frames
        assert wav.stat().st_mode & 0o044 == 0o044  # readable by the asterisk user
    assert (out / MANIFEST).is_file()


def test_unchanged_files_are_skipped_and_changes_rebuilt(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build_all(source, out)
    before = digest(out / "en" / "hello.wav")
    again = build_all(source, out)
    assert summarize(again)["unchanged"] == 4 and summarize(again)["built"] == 0

    padded(1500).export(source / "en" / "hello.wav", format="wav")
    (out / "ru" / "hello.alaw").unlink()
    third = {r.source: r.status for r in build_all(source, out)}
    assert third["en/hello.wav"] == "built" and third["ru/hello.ogg"] == "codecs"
    assert third["en/quiet.mp3"] == "unchanged"
    assert digest(out / "en" / "hello.wav") != before
    assert (out / "ru" / "hello.alaw").is_file()

    other = build_all(source, out, BuildOptions(target_dbfs=-24.0))
    assert summarize(other)["built"] == 4  # new options: everything again


def test_in_place_build_does_not_normalise_twice(tmp_path: Path) -> None:
    src = tmp_path / "prompts"
    (src / "en").mkdir(parents=True)
    padded(900).export(src / "en" / "greeting.wav", format="wav")
    padded(600).export(src / "en" / "bye.mp3", format="mp3")
    first = build_all(src, src)
    assert summarize(first)["built"] == 2
    assert wav_info(src / "en" / "greeting.wav")[0] == 8000
    assert (src / "en" / "bye.wav").is_file() and (src / "en" / "bye.mp3").is_file()
    built = digest(src / "en" / "greeting.wav")
    second = build_all(src, src)
    assert summarize(second) == {"built": 0, "unchanged": 2, "codecs": 0, "failed": 0}
    assert digest(src / "en" / "greeting.wav") == built


def test_cli_build_exit_codes(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["prompts", "build", "--source", str(source), "--out", str(out)]) == 1
    stdout, stderr = capsys.readouterr()
    assert "error: en/broken.mp3: cannot decode" in stderr
    assert "error: en/silent.wav: only silence" in stderr
    assert "] 6/6" in stderr  # the progress bar's last state
    assert "built      en/hello.wav" in stdout
    assert "4 built, 0 codecs only, 0 unchanged, 3 failed" in stdout

    for bad in ("broken.mp3", "notes.aiff", "silent.wav"):
        (source / "en" / bad).unlink()
    assert main(["prompts", "build", "--source", str(source), "--out", str(out)]) == 0
    assert "0 built, 0 codecs only, 4 unchanged, 0 failed" in capsys.readouterr().out

    assert main(["prompts", "build", "--source", str(tmp_path / "nope")]) == 1
    assert "is not a directory" in capsys.readouterr().err


def test_shipped_prompts_are_built_and_small() -> None:
    root = Path(__file__).resolve().parent.parent / "ivr_scripts" / "prompts"
    wavs = sorted(root.glob("*/*.wav"))
    assert {p.parent.name for p in wavs} == {"en", "ru"}
    assert sum(p.stat().st_size for p in wavs) < 2_000_000
    for wav in wavs:
        assert wav_info(wav)[:3] == (8000, 1, 2), wav
    assert {p.name for p in (root / "en").glob("*.wav")} == {
        p.name for p in (root / "ru").glob("*.wav")
    }

"""crm_lookup.recordings: a contact's recording reference to a file only inside the
recordings (or voicemail) directory, its status, the start-up check and the retention
sweep. Real files and symlinks in a temporary directory; no event loop."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from crm_lookup.recordings import Purged, RecordingFiles, RecordingStatus

DAY = 86400


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    root = tmp_path / "recordings"
    voicemail = tmp_path / "voicemail"
    outside = tmp_path / "outside"
    for d in (root, voicemail, outside):
        d.mkdir()
    return root, voicemail, outside


def files(root: Path, voicemail: Path) -> RecordingFiles:
    return RecordingFiles(root, also=(voicemail,))


def write(path: Path, data: bytes = b"RIFF", age_days: float = 0.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if age_days:
        then = time.time() - age_days * DAY
        os.utime(path, (then, then))
    return path


def test_a_bare_name_is_under_the_recordings_directory(dirs: tuple[Path, Path, Path]) -> None:
    root, voicemail, _ = dirs
    f = files(root, voicemail)
    wav = write(root / "c1-1001-1700000000000.wav")
    assert f.resolve("c1-1001-1700000000000.wav") == wav.resolve()
    assert f.status("c1-1001-1700000000000.wav") is RecordingStatus.AVAILABLE
    assert f.status("gone.wav") is RecordingStatus.MISSING
    assert f.status("") is RecordingStatus.NONE
    assert f.statuses(["", "gone.wav", "c1-1001-1700000000000.wav"]) == [
        RecordingStatus.NONE,
        RecordingStatus.MISSING,
        RecordingStatus.AVAILABLE,
    ]


def test_dot_dot_cannot_leave_the_directory(dirs: tuple[Path, Path, Path]) -> None:
    root, voicemail, outside = dirs
    write(outside / "secret.wav")
    f = files(root, voicemail)
    for ref in ("../outside/secret.wav", "a/../../outside/secret.wav", "../../etc/passwd.wav"):
        assert f.resolve(ref) is None, ref
        assert f.status(ref) is RecordingStatus.MISSING, ref
    # .. that stays inside is only a name
    inner = write(root / "day" / "x.wav")
    assert f.resolve("day/../day/x.wav") == inner.resolve()


def test_an_absolute_path_only_inside_an_allowed_directory(dirs: tuple[Path, Path, Path]) -> None:
    root, voicemail, outside = dirs
    message = write(voicemail / "call-7.wav")
    elsewhere = write(outside / "call-7.wav")
    f = files(root, voicemail)
    assert f.resolve(str(message)) == message.resolve()  # an IVR voicemail's old ref
    assert f.resolve(str(elsewhere)) is None
    assert f.resolve("/etc/passwd") is None
    assert f.resolve(str(root)) is None  # the directory itself is no recording
    # a sibling whose name merely starts like the root's is outside it
    sibling = write(root.parent / (root.name + "-old") / "x.wav")
    assert f.resolve(str(sibling)) is None


def test_a_symlink_cannot_escape(dirs: tuple[Path, Path, Path]) -> None:
    root, voicemail, outside = dirs
    secret = write(outside / "secret.wav")
    (root / "escape.wav").symlink_to(secret)
    (root / "linked-dir").symlink_to(outside, target_is_directory=True)
    text = write(root / "notes.txt", b"not audio")
    (root / "disguised.wav").symlink_to(text)
    inner = write(root / "real.wav")
    (root / "alias.wav").symlink_to(inner)
    (root / "loop.wav").symlink_to(root / "loop.wav")
    f = files(root, voicemail)
    assert f.resolve("escape.wav") is None
    assert f.resolve("linked-dir/secret.wav") is None
    assert f.resolve("disguised.wav") is None  # a .wav name leading to a .txt
    assert f.resolve("loop.wav") is None
    assert f.resolve("alias.wav") == inner.resolve()  # a link within the directory is fine
    assert f.status("escape.wav") is RecordingStatus.MISSING


def test_only_audio_names_and_sane_refs(dirs: tuple[Path, Path, Path]) -> None:
    root, voicemail, _ = dirs
    write(root / "notes.txt")
    f = files(root, voicemail)
    assert f.resolve("notes.txt") is None
    assert f.resolve("a\x00.wav") is None
    assert f.resolve("x" * 600 + ".wav") is None
    assert f.media_type(Path("a.WAV")) == "audio/wav"
    assert f.media_type(Path("a.mp3")) == "audio/mpeg"


def test_a_root_reached_through_a_symlink_still_works(tmp_path: Path) -> None:
    real = tmp_path / "mnt" / "pbx-recordings"
    wav = write(real / "c.wav")
    alias = tmp_path / "recordings"
    alias.symlink_to(real, target_is_directory=True)
    f = RecordingFiles(alias)
    assert f.resolve("c.wav") == wav.resolve()
    assert f.check_readable() is None


def test_check_readable_says_which_directory_and_what_to_do(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    said = RecordingFiles(missing).check_readable()
    assert said is not None and str(missing) in said and "create it" in said
    plain = write(tmp_path / "file")
    said = RecordingFiles(plain).check_readable()
    assert said is not None and "not a directory" in said
    ok = tmp_path / "ok"
    ok.mkdir()
    assert RecordingFiles(ok).check_readable() is None


def test_check_readable_on_a_directory_it_may_not_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    real_scandir = os.scandir

    def scandir(path: object) -> object:
        # What a 0700 directory of another user gives (the tests may run as root).
        if Path(str(path)) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    said = RecordingFiles(locked).check_readable()
    assert said is not None and "not readable" in said and str(locked) in said


def test_purge_deletes_only_old_audio_files(dirs: tuple[Path, Path, Path]) -> None:
    root, voicemail, _ = dirs
    old = write(root / "old.wav", b"x" * 100, age_days=40)
    old_nested = write(root / "2024" / "01" / "older.WAV", b"y" * 50, age_days=400)
    young = write(root / "young.wav", age_days=5)
    old_text = write(root / "readme.txt", age_days=400)
    old_voicemail = write(voicemail / "vm.wav", age_days=400)
    result = files(root, voicemail).purge(30)
    assert result == Purged(deleted=2, failed=0, freed_bytes=150)
    assert not old.exists() and not old_nested.exists()
    assert young.exists() and old_text.exists()
    assert old_voicemail.exists()  # only the recordings directory is swept
    assert files(root, voicemail).purge(30) == Purged()  # nothing left to do


def test_purge_never_goes_through_symlinks(dirs: tuple[Path, Path, Path]) -> None:
    root, voicemail, outside = dirs
    target = write(outside / "keep.wav", age_days=400)
    nested_target = write(outside / "deep" / "keep-too.wav", age_days=400)
    link = root / "link.wav"
    link.symlink_to(target)
    os.utime(link, (time.time() - 400 * DAY,) * 2, follow_symlinks=False)
    (root / "linked-dir").symlink_to(outside / "deep", target_is_directory=True)
    result = files(root, voicemail).purge(1)
    assert result == Purged()
    assert target.exists() and nested_target.exists()
    assert link.is_symlink()  # not deleted either: not a recording this sweep owns


def test_purge_on_a_missing_directory_does_nothing(tmp_path: Path) -> None:
    assert RecordingFiles(tmp_path / "nope").purge(30) == Purged()


def test_purge_counts_what_it_could_not_delete(
    dirs: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, voicemail, _ = dirs
    stuck = write(root / "stuck.wav", age_days=400)
    gone = write(root / "gone.wav", b"zz", age_days=400)
    real_unlink = os.unlink

    def unlink(name: str, *, dir_fd: int | None = None) -> None:
        # A file the service's user may not delete (the tests may run as root, who may).
        if name == "stuck.wav":
            raise PermissionError(13, "Permission denied", name)
        real_unlink(name, dir_fd=dir_fd)

    monkeypatch.setattr(os, "unlink", unlink)
    assert files(root, voicemail).purge(30) == Purged(deleted=1, failed=1, freed_bytes=2)
    assert stuck.exists() and not gone.exists()


def test_purge_refuses_zero_days(dirs: tuple[Path, Path, Path]) -> None:
    root, voicemail, _ = dirs
    with pytest.raises(ValueError):
        files(root, voicemail).purge(0)

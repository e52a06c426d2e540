"""Where a contact's recording is on disk, and the retention sweep over those files.

A contact's ``recording`` column holds a *reference*, never audio: a call recording is a
bare file name relative to ``[recording] dir`` (what the service writes when an agent
answers a recorded call); an IVR voicemail keeps the absolute path it was recorded to
under ``[ivr] recordings_dir``. :class:`RecordingFiles` turns a reference into a file
only when the file lies inside one of those two directories once every ``..`` and
symlink is resolved, so a reference (written by anyone who could write the database)
can never make the service read or delete another file.
"""

from __future__ import annotations

import enum
import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

MAX_REF = 500
#: what a recording's file name may end with, and the type it is served as
AUDIO_TYPES = {".wav": "audio/wav", ".gsm": "audio/x-gsm", ".mp3": "audio/mpeg"}


class RecordingStatus(enum.StrEnum):
    NONE = "none"  # the contact was not recorded
    AVAILABLE = "available"
    MISSING = "missing"  # recorded, but the file is gone (retention, a move, a lost disk)


@dataclass(frozen=True, slots=True)
class Purged:
    """One retention sweep: files deleted, files that could not be, bytes freed."""

    deleted: int = 0
    failed: int = 0
    freed_bytes: int = 0


class RecordingFiles:
    """The recordings directory (``root``) and the voicemail one, read safely.

    Args:
        root: ``[recording] dir`` resolved: where call recordings are read.
        also: further directories whose files a reference may name by absolute path
            (the IVR's voicemail directory).
    """

    def __init__(self, root: Path, also: Iterable[Path] = ()) -> None:
        self.root = root
        self._allowed = (root, *also)

    def resolve(self, ref: str) -> Path | None:
        """The file ``ref`` names, or None: no reference, a name outside the allowed
        directories (after ``..`` and symlinks), or not an audio file name (neither the
        name given nor the file it leads to: a ``x.wav`` symlink to a ``.txt`` is refused).
        Blocking (it reads symlinks)."""
        if not ref or len(ref) > MAX_REF or "\x00" in ref:
            return None
        candidate = Path(ref)
        if not candidate.is_absolute():
            candidate = self.root / candidate
        if candidate.suffix.lower() not in AUDIO_TYPES:
            return None
        try:
            real = candidate.resolve(strict=False)
        except (OSError, RuntimeError):  # a symlink loop
            return None
        if real.suffix.lower() not in AUDIO_TYPES:
            return None
        for base in self._allowed:
            try:
                top = base.resolve(strict=False)
            except (OSError, RuntimeError):
                continue
            if real != top and real.is_relative_to(top):
                return real
        return None

    def status(self, ref: str) -> RecordingStatus:
        """none / available / missing. A reference that resolves nowhere allowed is
        missing: the contact was recorded, the file cannot be served. Blocking (a stat):
        call it in a thread for many contacts."""
        if not ref:
            return RecordingStatus.NONE
        path = self.resolve(ref)
        if path is None or not path.is_file():
            return RecordingStatus.MISSING
        return RecordingStatus.AVAILABLE

    def statuses(self, refs: Iterable[str]) -> list[RecordingStatus]:
        """:meth:`status` of each reference, in order (one thread hop for a page)."""
        return [self.status(ref) for ref in refs]

    @staticmethod
    def media_type(path: Path) -> str:
        return AUDIO_TYPES.get(path.suffix.lower(), "application/octet-stream")

    def check_readable(self) -> str | None:
        """None when the recordings directory can be listed and read; else one sentence
        saying which directory and what to do (the start-up check)."""
        root = self.root
        if not root.exists():
            return (
                f"recordings directory {root} does not exist: create it, or mount the "
                "directory Asterisk's MixMonitor writes to there ([recording] dir), "
                "or playback will find no file"
            )
        if not root.is_dir():
            return f"recordings directory {root} is not a directory ([recording] dir)"
        try:
            with os.scandir(root) as entries:  # really list it: access() lies on some mounts
                next(entries, None)
        except OSError:
            return (
                f"recordings directory {root} is not readable by this service's user: "
                "give it read access (and write, for retention to delete old files)"
            )
        return None

    def purge(self, older_than_days: int, now: float | None = None) -> Purged:
        """Delete recordings in ``root`` (and its subdirectories) last written more than
        ``older_than_days`` ago. Only audio file names are touched; symlinks are neither
        followed nor deleted, and every directory is opened by descriptor
        (:func:`os.fwalk`), so a directory swapped for a symlink during the sweep cannot
        lead the deletion outside ``root``. Blocking: run it in a thread.

        Raises:
            ValueError: ``older_than_days`` below 1 (0 means "keep for ever": don't call).
        """
        if older_than_days < 1:
            raise ValueError("older_than_days must be at least 1")
        cutoff = (time.time() if now is None else now) - older_than_days * 86400
        deleted = failed = freed = 0
        try:
            # The root itself may be a symlink (a mount point's alias): that one is meant.
            top = self.root.resolve(strict=True)
        except (OSError, RuntimeError):
            return Purged()
        if not top.is_dir():
            return Purged()
        for _folder, _dirs, files, dir_fd in os.fwalk(top, follow_symlinks=False):
            for name in files:
                if Path(name).suffix.lower() not in AUDIO_TYPES:
                    continue
                try:
                    info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                    if not stat.S_ISREG(info.st_mode) or info.st_mtime >= cutoff:
                        continue  # a symlink, a fifo...: not ours to delete; or still kept
                    os.unlink(name, dir_fd=dir_fd)
                except FileNotFoundError:
                    continue  # gone meanwhile: nothing to do
                except OSError:
                    failed += 1
                    continue
                deleted += 1
                freed += info.st_size
        return Purged(deleted, failed, freed)

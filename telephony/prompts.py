"""Build IVR prompts into what Asterisk plays: 8 kHz mono 16-bit wav, plus ulaw and alaw.

Theory of operation: sources are audio files (wav, mp3, ogg, flac) under
``<source>/<lang>/[sub/]name.ext``. Each is decoded with pydub (ffmpeg for anything but
wav), mixed to mono, trimmed of leading and trailing silence, gain-adjusted so its
average loudness hits ``target_dbfs`` (without letting the peak clip), resampled to
8 kHz 16-bit and written as ``<out>/<lang>/name.wav`` plus headerless ``.ulaw`` and
``.alaw`` (Asterisk picks the one matching the channel's codec, saving a transcode).
Writes go to a temporary file renamed into place, so a crash never leaves half a prompt.

A manifest (``.prompts-manifest.json`` in the output directory) remembers each
source's SHA-256, the built wav's SHA-256 and the build options; an unchanged source is
skipped. When source and output are the same directory a wav source is rebuilt in
place; the manifest then recognises the built file by its output hash, so a second run
does not normalise an already normalised prompt again. One bad file is reported and
the others still build.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from config.errors import InvalidInput

if TYPE_CHECKING:
    from pydub import AudioSegment  # type: ignore[import-untyped]

SOURCE_EXTENSIONS = (".wav", ".mp3", ".ogg", ".flac")
# wav is read and written by pydub itself; everything else goes through ffmpeg.
NEEDS_FFMPEG = frozenset(SOURCE_EXTENSIONS) - {".wav"}
# Files that may sit among the prompts without being sources.
IGNORED_EXTENSIONS = (".ulaw", ".alaw", ".gsm", ".sln", ".g722", ".json", ".md", ".txt")
MANIFEST = ".prompts-manifest.json"
MANIFEST_VERSION = 1


class PromptError(InvalidInput):
    """A source file that cannot be built (corrupt, unsupported, silent)."""


@dataclass(frozen=True, slots=True)
class BuildOptions:
    target_dbfs: float = -20.0
    # Anything quieter than this (dBFS) at the start or end is trimmed.
    silence_dbfs: float = -50.0
    # Silence kept at each end so the prompt does not start on a clipped consonant.
    keep_silence_ms: int = 80
    sample_rate: int = 8000
    codecs: tuple[str, ...] = ("ulaw", "alaw")
    # The loudest sample may not go above this after gain, to avoid clipping.
    peak_ceiling_dbfs: float = -1.0


@dataclass(frozen=True, slots=True)
class BuildResult:
    source: str  # relative to the source directory
    outputs: tuple[str, ...] = ()
    duration: float = 0.0
    status: str = "built"  # built | unchanged | codecs | failed
    error: str = ""
    gain_db: float = 0.0


@dataclass(slots=True)
class _Manifest:
    options: dict[str, Any] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def find_sources(source: Path, out: Path) -> tuple[list[Path], list[BuildResult]]:
    """Source files under ``source`` (sorted), and a failure per unusable file.

    When ``out`` is ``source``, a ``name.wav`` next to a ``name.mp3`` (or ogg, flac) is
    the build output of that file, not a second source.
    """
    same_dir = source.resolve() == out.resolve()
    stems: dict[Path, list[Path]] = {}
    failures: list[BuildResult] = []
    for path in sorted(source.rglob("*")):
        if not path.is_file() or any(p.startswith(".") for p in path.relative_to(source).parts):
            continue
        ext = path.suffix.lower()
        rel = path.relative_to(source).as_posix()
        if ext in SOURCE_EXTENSIONS:
            stems.setdefault(path.with_suffix(""), []).append(path)
        elif ext not in IGNORED_EXTENSIONS:
            failures.append(
                BuildResult(
                    rel,
                    status="failed",
                    error=(
                        f"unsupported format {ext or '(none)'}; expected "
                        + ", ".join(e[1:] for e in SOURCE_EXTENSIONS)
                    ),
                )
            )
    chosen: list[Path] = []
    for stem, paths in sorted(stems.items()):
        others = [p for p in paths if p.suffix.lower() != ".wav"]
        if len(others) > 1 or (others and not same_dir and len(paths) > 1):
            rel = stem.relative_to(source).as_posix()
            failures.append(
                BuildResult(
                    rel,
                    status="failed",
                    error=("several sources for one prompt: " + ", ".join(p.name for p in paths)),
                )
            )
            continue
        chosen.append(others[0] if others else paths[0])
    return chosen, failures


def _load_manifest(out: Path) -> _Manifest:
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return _Manifest()
    if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
        return _Manifest()
    files = data.get("files")
    options = data.get("options")
    return _Manifest(
        options if isinstance(options, dict) else {}, files if isinstance(files, dict) else {}
    )


def _save_manifest(out: Path, manifest: _Manifest) -> None:
    data = {
        "version": MANIFEST_VERSION,
        "options": manifest.options,
        "files": dict(sorted(manifest.files.items())),
    }
    _write_atomic(out / MANIFEST, (json.dumps(data, indent=1) + "\n").encode())


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        # mkstemp makes the file private; Asterisk runs as another user and must read it.
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@functools.cache
def _pydub() -> tuple[ModuleType, ModuleType]:
    """pydub and audioop, imported on first use: importing pydub looks for ffmpeg and warns
    on every command when it is missing, although only mp3, ogg and flac need it, and only
    here (:func:`decode` says so in plain words instead)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", "Couldn't find ff", RuntimeWarning)
        import audioop  # removed in 3.13; the audioop-lts backport provides it there

        import pydub
        import pydub.exceptions  # type: ignore[import-untyped]
        import pydub.silence  # type: ignore[import-untyped]
    return pydub, audioop


def ffmpeg_available() -> bool:
    """True when ffmpeg (or avconv, which pydub also accepts) is on PATH."""
    return any(shutil.which(tool) for tool in ("ffmpeg", "avconv"))


def decode(path: Path) -> AudioSegment:
    """Decode any source format.

    Raises:
        PromptError: the file is corrupt, empty, or needs ffmpeg (mp3, ogg, flac) and
            ffmpeg is not installed or cannot read it.
    """
    pydub, _ = _pydub()
    ext = path.suffix.lower()
    if ext in NEEDS_FFMPEG and not ffmpeg_available():
        raise PromptError(
            f"{ext[1:]} needs ffmpeg, which is not on PATH (Debian: apt-get install ffmpeg);"
            " wav sources build without it"
        )
    try:
        seg = pydub.AudioSegment.from_file(str(path), format=ext.lstrip("."))
    except (pydub.exceptions.CouldntDecodeError, IndexError, ValueError, EOFError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PromptError(f"cannot decode ({first[:160]})") from None
    except Exception as exc:  # the wave module raises its own Error class
        if type(exc).__module__ == "wave":
            raise PromptError(f"cannot decode ({exc})") from None
        raise
    if len(seg) == 0:
        raise PromptError("no audio in file")
    return seg


def process(seg: AudioSegment, options: BuildOptions) -> tuple[AudioSegment, float]:
    """Mono, trimmed, loudness-normalised, 8 kHz 16-bit; returns it and the gain applied.

    Raises:
        PromptError: nothing but silence.
    """
    detect_leading_silence = _pydub()[0].silence.detect_leading_silence
    seg = seg.set_channels(1)
    lead = detect_leading_silence(seg, silence_threshold=options.silence_dbfs, chunk_size=5)
    tail = detect_leading_silence(
        seg.reverse(), silence_threshold=options.silence_dbfs, chunk_size=5
    )
    if lead >= len(seg):
        raise PromptError(f"only silence (nothing above {options.silence_dbfs} dBFS)")
    keep = options.keep_silence_ms
    seg = seg[max(0, lead - keep) : max(lead + 1, len(seg) - max(0, tail - keep))]
    gain = options.target_dbfs - seg.dBFS
    gain = min(gain, options.peak_ceiling_dbfs - seg.max_dBFS)
    seg = seg.apply_gain(gain)
    seg = seg.set_frame_rate(options.sample_rate).set_sample_width(2)
    return seg, gain


def _codec_bytes(seg: AudioSegment, codec: str) -> bytes:
    audioop = _pydub()[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if codec == "ulaw":
            return bytes(audioop.lin2ulaw(seg.raw_data, 2))
        if codec == "alaw":
            return bytes(audioop.lin2alaw(seg.raw_data, 2))
    raise InvalidInput(f"unknown codec {codec!r}; expected ulaw or alaw")


def _wav_bytes(seg: AudioSegment) -> bytes:
    fd, tmp = tempfile.mkstemp(suffix=".wav")
    os.close(fd)
    try:
        seg.export(tmp, format="wav")
        return Path(tmp).read_bytes()
    finally:
        os.unlink(tmp)


def build_all(
    source: Path,
    out: Path,
    options: BuildOptions | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    force: bool = False,
) -> list[BuildResult]:
    """Build every source under ``source`` into ``out``; failures do not stop the others.

    Args:
        source: directory of ``<lang>/<name>.<wav|mp3|ogg|flac>``.
        out: output directory (may be ``source``: wav sources are then rebuilt in place).
        options: loudness, trimming, rate, codecs.
        progress: called ``(done, total, name)`` before each file and once at the end.
        force: rebuild even unchanged files.

    Raises:
        InvalidInput: ``source`` is not a directory.
    """
    options = options or BuildOptions()
    if not source.is_dir():
        raise InvalidInput(f"prompt source {source} is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    sources, results = find_sources(source, out)
    manifest = _load_manifest(out)
    wanted_options = asdict(options)
    wanted_options["codecs"] = list(options.codecs)
    if manifest.options != wanted_options:
        manifest = _Manifest(wanted_options, {})
    total = len(sources)
    for i, path in enumerate(sources):
        rel = path.relative_to(source).as_posix()
        if progress is not None:
            progress(i, total, rel)
        result = _build_one(path, rel, out, options, manifest, force)
        results.append(result)
        if result.status != "failed":
            _save_manifest(out, manifest)
    if progress is not None:
        progress(total, total, "")
    return results


def _build_one(
    path: Path, rel: str, out: Path, options: BuildOptions, manifest: _Manifest, force: bool
) -> BuildResult:
    stem = out / Path(rel).with_suffix("")
    wav = stem.with_suffix(".wav")
    codec_paths = [stem.with_suffix(f".{c}") for c in options.codecs]
    outputs = tuple(p.relative_to(out).as_posix() for p in (wav, *codec_paths))
    in_place = wav.resolve() == path.resolve()
    try:
        src_hash = sha256_file(path)
    except OSError as exc:
        return BuildResult(rel, status="failed", error=f"cannot read ({exc.strerror})")
    entry = manifest.files.get(rel)
    if entry is not None and not force and wav.is_file():
        wav_hash = sha256_file(wav)
        known_source = src_hash in (entry.get("source_sha256"), entry.get("output_sha256"))
        if known_source and wav_hash == entry.get("output_sha256"):
            missing = [p for p in codec_paths if not p.is_file()]
            duration = float(entry.get("duration", 0.0))
            if not missing:
                return BuildResult(rel, outputs, duration, "unchanged")
            # Only the codec copies are gone (they are not committed): derive them from
            # the built wav instead of normalising it a second time.
            try:
                seg = decode(wav)
                for p in missing:
                    _write_atomic(p, _codec_bytes(seg, p.suffix[1:]))
            except (PromptError, OSError) as exc:
                return BuildResult(rel, status="failed", error=str(exc))
            return BuildResult(rel, outputs, duration, "codecs")
    try:
        seg, gain = process(decode(path), options)
        wav_data = _wav_bytes(seg)
        _write_atomic(wav, wav_data)
        for p in codec_paths:
            _write_atomic(p, _codec_bytes(seg, p.suffix[1:]))
    except PromptError as exc:
        return BuildResult(rel, status="failed", error=str(exc))
    except OSError as exc:
        return BuildResult(rel, status="failed", error=f"cannot write ({exc})")
    duration = round(len(seg) / 1000.0, 3)
    manifest.files[rel] = {
        "source_sha256": src_hash if not in_place else hashlib.sha256(wav_data).hexdigest(),
        "output_sha256": hashlib.sha256(wav_data).hexdigest(),
        "duration": duration,
        "gain_db": round(gain, 2),
    }
    return BuildResult(rel, outputs, duration, "built", gain_db=round(gain, 2))


def summarize(results: Sequence[BuildResult]) -> dict[str, int]:
    """Counts per status (built, unchanged, codecs, failed)."""
    counts = {"built": 0, "unchanged": 0, "codecs": 0, "failed": 0}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    return counts

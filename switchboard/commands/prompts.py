"""``switchboard prompts build``: convert prompt sources into what Asterisk plays."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from config.settings import Settings
from telephony.prompts import BuildOptions, build_all, summarize


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("prompts", help="build IVR prompt audio")
    inner = parser.add_subparsers(dest="prompts_command", metavar="ACTION", required=True)
    build = inner.add_parser(
        "build",
        help="wav/mp3/ogg/flac -> 8 kHz mono 16-bit wav + ulaw + alaw, normalised and trimmed",
        description="Convert prompt sources into what Asterisk plays. wav sources need"
        " nothing else; mp3, ogg and flac sources need ffmpeg (Debian: apt-get install ffmpeg).",
    )
    build.add_argument("--source", metavar="DIR", help="default: settings ivr.prompts_dir")
    build.add_argument("--out", metavar="DIR", help="default: the source directory")
    build.add_argument(
        "--target-dbfs", type=float, default=-20.0, help="loudness target (default -20 dBFS)"
    )
    build.add_argument("--force", action="store_true", help="rebuild unchanged files too")
    build.set_defaults(handler=build_prompts)


class ProgressBar:
    """A one-line bar redrawn with CR on a terminal, one line per file otherwise."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.tty = stream.isatty()

    def __call__(self, done: int, total: int, name: str) -> None:
        filled = self.width * done // total if total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        line = f"[{bar}] {done}/{total} {name}"
        if self.tty:
            self.stream.write("\r" + line.ljust(self.width + 60)[: self.width + 60])
            if done == total:
                self.stream.write("\n")
        else:
            self.stream.write(line.rstrip() + "\n")
        self.stream.flush()


def build_prompts(args: argparse.Namespace, settings: Settings) -> int:
    source = Path(args.source) if args.source else settings.path(settings.ivr.prompts_dir)
    out = Path(args.out) if args.out else source
    results = build_all(
        source,
        out,
        BuildOptions(target_dbfs=args.target_dbfs),
        ProgressBar(sys.stderr),
        force=args.force,
    )
    for r in results:
        if r.status == "failed":
            print(f"error: {r.source}: {r.error}", file=sys.stderr)
        elif r.status == "built":
            print(
                f"built      {r.source}  {r.duration:6.2f} s  gain {r.gain_db:+.1f} dB  "
                f"-> {', '.join(r.outputs)}"
            )
        elif r.status == "codecs":
            print(f"codecs     {r.source}  {r.duration:6.2f} s  -> {', '.join(r.outputs[1:])}")
        else:
            print(f"unchanged  {r.source}  {r.duration:6.2f} s")
    counts = summarize(results)
    total = sum(r.duration for r in results if r.status != "failed")
    print(
        f"{counts['built']} built, {counts['codecs']} codecs only, {counts['unchanged']} "
        f"unchanged, {counts['failed']} failed; {total:.1f} s of audio"
    )
    return 1 if counts["failed"] else 0

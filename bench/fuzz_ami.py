"""AMI protocol and AGI reply fuzzer: mutated real frames, fed whole and re-chunked.

Each round builds a stream from the 1,488 messages Asterisk 22 really sent in
../shared/ami-transcripts (the banner, then 1 to 8 frames, half of them mutated at the
byte level by ``tests/ami_fuzz.py``: CR/LF and blank lines, ``: ``, non-UTF-8 bytes,
routing headers, deletions, duplications, truncation, shuffling), picks a message size
limit (1 MiB, 2 KiB or 256 bytes, so the size checks fire too) and feeds the stream to a
fresh ``AmiProtocol`` twice: whole, and cut at random points (half of them next to a
blank line; sometimes one byte at a time). Every typed field of every event is read.
Each round also parses one mutated real AGI reply (``parse_agi_result``).

Checked, and reported as failures (exit status 1, with the seed that reproduces each):
* any exception other than the documented ones (``config/errors.py``): the protocol may
  raise only ``RemoteProtocolError``, the AGI parser only ``AgiError``;
* a stream whose whole and re-chunked feeding give different messages.

Reported: frames fed (and how many were mutated), streams, bytes, errors by type and
reason, time, peak memory (max RSS of the process). Not a test; run from the repository
root: ``python -m bench.fuzz_ami [--frames N] [--seed S] [--quick]``.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.errors import AgiError  # noqa: E402
from telephony.ami.agi import parse_agi_result  # noqa: E402
from tests import ami_fuzz  # noqa: E402

LIMITS = (1 << 20, 2048, 256)
DEFAULT_FRAMES = 1_000_000  # mutated frames, the minimum
QUICK_FRAMES = 5_000


@dataclass
class Tally:
    streams: int = 0
    frames: int = 0
    mutated: int = 0
    bytes: int = 0
    agi_replies: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # documented errors, by reason
    agi_errors: Counter[str] = field(default_factory=Counter)
    undocumented: Counter[str] = field(default_factory=Counter)
    mismatches: int = 0
    first_failures: list[str] = field(default_factory=list)

    def fail(self, what: str) -> None:
        if len(self.first_failures) < 10:
            self.first_failures.append(what)


def _reason(message: str) -> str:
    """The kind of a RemoteProtocolError, without the numbers that vary."""
    text = message.removeprefix("AMI: ")
    for known in ("message larger than", "not an AMI server", "no banner line"):
        if text.startswith(known):
            return known
    return text[:40]


def _agi_kind(exc: AgiError) -> str:
    if exc.code == 0:
        return "AgiError: not an AGI reply"
    if exc.code == 200:
        return "AgiError: a number out of range"
    if exc.code in (510, 511, 520):
        return f"{type(exc).__name__} {exc.code}"
    return "AgiError: another status code"


def one_round(seed: int, tally: Tally) -> None:
    """One stream, fed whole and re-chunked, plus one AGI reply; updates ``tally``."""
    rng = random.Random(seed)
    stream = ami_fuzz.mutated_stream(rng)
    limit = LIMITS[seed % len(LIMITS)]
    tally.streams += 1
    tally.frames += stream.frames
    tally.mutated += stream.mutated
    tally.bytes += len(stream.data)
    results = []
    for chunks in ([stream.data], ami_fuzz.random_chunks(rng, stream.data)):
        try:
            results.append(ami_fuzz.run(chunks, max_message_bytes=limit))
        except Exception as exc:  # the point: anything undocumented is counted, not fatal
            tally.undocumented[f"protocol {type(exc).__name__}"] += 1
            tally.fail(f"seed {seed}: protocol raised {type(exc).__name__}: {exc}"[:200])
            return
    whole, chunked = results
    if whole[1] is not None:
        tally.refused[_reason(str(whole[1]))] += 1
    if not ami_fuzz.same_result(whole, chunked):
        tally.mismatches += 1
        tally.fail(f"seed {seed}: whole and re-chunked feeding differ")
    reply = ami_fuzz.mutate_agi(rng, rng.choice(ami_fuzz.real_agi_results()))
    tally.agi_replies += 1
    try:
        parse_agi_result(reply)
    except AgiError as exc:
        tally.agi_errors[_agi_kind(exc)] += 1
    except Exception as exc:  # counted as a failure, like the protocol's
        tally.undocumented[f"AGI {type(exc).__name__}"] += 1
        tally.fail(f"seed {seed}: parse_agi_result({reply[:60]!r}) raised {type(exc).__name__}")


def fuzz(target_mutated: int, seed: int) -> tuple[Tally, float]:
    """Rounds from ``seed`` on until ``target_mutated`` mutated frames were fed."""
    tally = Tally()
    started = time.perf_counter()
    round_seed = seed
    while tally.mutated < target_mutated:
        one_round(round_seed, tally)
        round_seed += 1
    return tally, time.perf_counter() - started


def report(tally: Tally, elapsed: float, seed: int) -> str:
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    lines = [
        f"seed {seed}: {tally.streams:,} streams, {tally.frames:,} frames "
        f"({tally.mutated:,} mutated), {tally.bytes / 1e6:.1f} MB, each fed whole and re-chunked",
        f"time {elapsed:.1f} s ({2 * tally.frames / elapsed:,.0f} frames/s fed), "
        f"peak memory {peak_kib / 1024:.1f} MiB (max RSS)",
        "streams refused with RemoteProtocolError, by reason:",
    ]
    for reason, n in sorted(tally.refused.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {n:>10,}  {reason}")
    lines.append(f"AGI replies parsed: {tally.agi_replies:,}; refused with AgiError, by code:")
    for kind, n in sorted(tally.agi_errors.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {n:>10,}  {kind}")
    lines.append(
        f"undocumented exceptions: {sum(tally.undocumented.values())}"
        + "".join(f"; {k} x{n}" for k, n in tally.undocumented.items())
    )
    lines.append(f"whole vs re-chunked mismatches: {tally.mismatches}")
    lines.extend(f"  {line}" for line in tally.first_failures)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fuzzer; 0 when only documented errors came out and chunking never
    mattered, 1 otherwise."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--frames", type=int, default=DEFAULT_FRAMES, help="mutated frames to feed (1,000,000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="first round's seed (0)")
    parser.add_argument(
        "--quick", action="store_true", help=f"smoke run: {QUICK_FRAMES:,} mutated frames"
    )
    args = parser.parse_args(argv)
    target = QUICK_FRAMES if args.quick else args.frames
    tally, elapsed = fuzz(target, args.seed)
    print(report(tally, elapsed, args.seed))
    return 1 if tally.undocumented or tally.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())

"""Knowledge-base search benchmark: 100,000 generated articles, ranked search with
snippets, on SQLite (FTS5 + bm25) and PostgreSQL (tsvector + GIN + ts_rank_cd).

Not a test: prints a table. Target from issue 17: search over 100,000 articles p99 under
20 ms, on both engines.

    python -m bench.knowledge                  # 100,000 articles (a few minutes)
    python -m bench.knowledge --quick          # 1,000 articles: does it still run
    python -m bench.knowledge --no-postgres    # SQLite only

The articles are generated from a Zipf-distributed vocabulary (20,000 English-like and
8,000 Russian-like words built from syllables, with Russian endings so the stemmer has
work to do), 85 % English and 15 % Russian; titles of 4-8 words, bodies of 60-160, a
few tags. Each search is one ``store.knowledge.search(q, limit=10)`` call as the API
makes it — the full-text query, the ranking, the rows, and the snippets built in
Python — timed from the caller. Queries are 1-3 words an agent would type: topic words
(drawn from the vocabulary past its 200 most frequent words), every tenth with a
language filter, every fifth in another inflection than the indexed one. The most
frequent words (in thousands of articles each) are measured apart, as the worst case.

PostgreSQL: a private server from Debian's binaries (tests/postgres_server.py), fsync
on; the articles are loaded with COPY and the tsvector is the generated column.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.figures import Figure  # noqa: E402
from bench.figures import report as report_figures  # noqa: E402
from crm_lookup.knowledge import search_columns  # noqa: E402
from crm_lookup.store import Store, open_store  # noqa: E402
from tests.postgres_server import PostgresUnavailable, start_server  # noqa: E402

TARGET_MS = 20.0
EN_SYLLABLES = "ba be bi bo bu ca co de di do fa fe fi ga go ha he ho ka ke la le li lo lu " \
    "ma me mi mo na ne ni no pa pe pi po ra re ri ro sa se si so ta te ti to va ve vi wa we"  # fmt: skip
RU_SYLLABLES = "ба бо ва ве ви да де ди до жа за зе ка ко ла ле ли ло ма ме ми мо на не " \
    "ни но па пе по ра ре ри ро са се си со та те ти то ча ше"  # fmt: skip
RU_ENDINGS = ("а", "ы", "у", "ой", "е", "ами", "ов", "ом", "ить", "ает")
EN_ENDINGS = ("", "s", "ed", "ing")
COLUMNS = (
    "title", "body", "tags", "language", "owner", "last_reviewed_at", "created_at", "updated_at",
)  # fmt: skip
SHADOW = ("search_title", "search_body", "search_tags")


def vocabulary(rng: random.Random, syllables: str, size: int) -> list[str]:
    parts = syllables.split()
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(parts) for _ in range(rng.randint(2, 4))))
    return sorted(words)


class Corpus:
    """Articles and queries drawn from one seeded random source."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.en = vocabulary(self.rng, EN_SYLLABLES, 20_000)
        self.ru = vocabulary(self.rng, RU_SYLLABLES, 8_000)
        self.rng.shuffle(self.en)
        self.rng.shuffle(self.ru)
        # Zipf weights: the k-th word is 1/k as frequent as the first
        # (cumulative: random.choices re-adds plain weights on every call)
        self.en_weights = list(itertools.accumulate(1.0 / (k + 1) for k in range(len(self.en))))
        self.ru_weights = list(itertools.accumulate(1.0 / (k + 1) for k in range(len(self.ru))))

    def _words(self, language: str, n: int) -> list[str]:
        if language == "ru":
            stems = self.rng.choices(self.ru, cum_weights=self.ru_weights, k=n)
            return [s + self.rng.choice(RU_ENDINGS) for s in stems]
        stems = self.rng.choices(self.en, cum_weights=self.en_weights, k=n)
        return [s + self.rng.choice(EN_ENDINGS) for s in stems]

    def article(self, now: float) -> tuple[Any, ...]:
        language = "ru" if self.rng.random() < 0.15 else "en"
        title = " ".join(self._words(language, self.rng.randint(4, 8))).capitalize()
        sentences = []
        for _ in range(self.rng.randint(6, 14)):
            sentences.append(" ".join(self._words(language, self.rng.randint(8, 14))) + ".")
        body = " ".join(sentences)
        tags = " ".join(dict.fromkeys(self._words(language, self.rng.randint(1, 3))))
        return (title, body, tags, language, "sam", now, now, now)

    def query(self, index: int) -> tuple[str, str | None]:
        language = "ru" if index % 7 == 0 else "en"
        words = self.ru if language == "ru" else self.en
        endings = RU_ENDINGS if language == "ru" else EN_ENDINGS
        n = 1 + index % 3
        picked = [self.rng.choice(words[200:4000]) + self.rng.choice(endings) for _ in range(n)]
        return " ".join(picked), (language if index % 10 == 0 else None)

    def common_query(self, index: int) -> tuple[str, str | None]:
        return self.rng.choice(self.en[:20]) + self.rng.choice(EN_ENDINGS), None


async def load(store: Store, corpus: Corpus, n: int, *, sqlite: bool) -> float:
    started = time.perf_counter()
    now = time.time()
    columns = COLUMNS + (SHADOW if sqlite else ())
    batch: list[tuple[Any, ...]] = []
    for i in range(n):
        row = corpus.article(now)
        if sqlite:
            row = row + tuple(search_columns(row[0], row[1], row[2]))
        batch.append(row)
        if len(batch) == 5_000 or i == n - 1:
            async with store.transaction() as tx:
                await tx.insert_rows("articles", columns, batch)
            batch = []
    if not sqlite:
        # what autovacuum does soon after a bulk load: statistics, and the GIN indexes'
        # pending lists merged (a search would scan them linearly until then)
        await store.write("VACUUM ANALYZE articles")
    else:
        await store.write("INSERT INTO articles_fts(articles_fts) VALUES ('optimize')")
    return time.perf_counter() - started


async def timed_searches(
    store: Store, queries: Sequence[tuple[str, str | None]]
) -> tuple[list[float], float]:
    for q, lang in queries[:20]:  # warm the caches and the statement cache
        await store.knowledge.search(q, language=lang)
    times = []
    found = 0
    for q, lang in queries:
        started = time.perf_counter()
        hits = await store.knowledge.search(q, language=lang, limit=10)
        times.append((time.perf_counter() - started) * 1000)
        found += bool(hits)
    return times, found / len(queries)


def p(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_engine(
    url: str, corpus_seed: int, n: int, searches: int, sqlite: bool
) -> dict[str, Any]:
    store = await open_store(url)
    try:
        corpus = Corpus(corpus_seed)
        load_s = await load(store, corpus, n, sqlite=sqlite)
        queries = [corpus.query(i) for i in range(searches)]
        common = [corpus.common_query(i) for i in range(max(20, searches // 10))]
        times, hit_rate = await timed_searches(store, queries)
        common_times, _ = await timed_searches(store, common)
        return {
            "load_s": load_s,
            "p50": statistics.median(times),
            "p99": p(times, 0.99),
            "max": max(times),
            "hit_rate": hit_rate,
            "common_p99": p(common_times, 0.99),
            "searches": len(times),
        }
    finally:
        await store.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--searches", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--quick", action="store_true", help="1,000 articles, 100 searches")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.articles, args.searches = 1_000, 100
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-kb-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'kb.sqlite3'}"
        results["SQLite"] = asyncio.run(
            run_engine(url, args.seed, args.articles, args.searches, sqlite=True)
        )
    if not args.no_postgres:
        try:
            server = start_server(durable=True)
        except PostgresUnavailable as exc:
            print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
        else:
            try:
                pg_url = server.create_database("bench_kb")
                results["PostgreSQL"] = asyncio.run(
                    run_engine(pg_url, args.seed, args.articles, args.searches, sqlite=False)
                )
            finally:
                server.stop()
    print()
    print(
        f"Knowledge-base search — {args.articles:,} articles, {args.searches:,} searches, "
        f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}"
    )
    print(f"{'engine':<12} {'load s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'found':>6} {'common-word p99 ms':>19}")  # fmt: skip
    figures = []
    for engine, r in results.items():
        print(
            f"{engine:<12} {r['load_s']:8.1f} {r['p50']:8.2f} {r['p99']:8.2f} {r['max']:8.2f} "
            f"{r['hit_rate']:6.0%} {r['common_p99']:19.2f}"
        )
        figures += [
            Figure(
                f"{engine}: search p99, {args.articles:,} articles",
                round(r["p99"], 3),
                "ms",
                f"< {TARGET_MS:g} ms",
                r["p99"] < TARGET_MS,
            ),
            Figure(f"{engine}: search p50", round(r["p50"], 3), "ms"),
            Figure(f"{engine}: most frequent words, p99", round(r["common_p99"], 3), "ms"),
            Figure(f"{engine}: load {args.articles:,} articles", round(r["load_s"], 1), "s"),
        ]
    report_figures(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())

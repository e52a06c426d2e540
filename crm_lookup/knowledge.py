"""The knowledge base: articles agents search and read during a contact (issue 17).

Theory of operation: an article is Markdown (rendered safely by the console, never
here), a title, tags and a language (``en`` / ``ru``). Search is the database's own full
text, ranked: on SQLite FTS5 with ``bm25`` over stemmed shadow columns
(:mod:`crm_lookup.kb_text` stems both the article, when it is written, and the query),
title weighted 10, tags 5, body 1; on PostgreSQL a generated ``tsvector`` in the
article's language (Snowball 'english' / 'russian', tags 'simple') under GIN, ranked by
``ts_rank_cd`` with title and tags weight A five times body B, queried through
``websearch_to_tsquery``. Every word of the query must match; when no article has them
all the search asks for any of them (still ranked), so a long question finds the
article that answers part of it. Retired articles are never found; they can still be
read by id (a case may name one). Snippets come from :func:`kb_text.snippet` on both
engines, as ``(text, is_match)`` pieces: no markup crosses the API.

Cost: ranking reads every matching article, so a word in thousands of bodies would cost
thousands of scores. The search asks an index of titles and tags alone first
(``articles_title_fts`` / ``title_search``); when it finds ``limit`` articles they are the
answer (a title outweighs a body several times, so the full ranking would put them
first too), else the full index is asked.

Counters: ``uses`` (an agent inserted the article into a reply, or marked it used) and
``helpful`` / ``unhelpful`` (one vote per user per article; voting again replaces the
vote). ``article_uses`` keeps which article was used on which contact, for the case and
the contact pages.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from config.errors import Conflict, InvalidInput, NotFound
from crm_lookup import kb_text
from crm_lookup.database import Dialect

__all__ = [
    "LANGUAGES",
    "MAX_BODY_BYTES",
    "MAX_TITLE",
    "Article",
    "KnowledgeRepo",
    "SearchHit",
    "clean_tags",
    "search_columns",
]

LANGUAGES = ("en", "ru")
MAX_TITLE = 200
MAX_BODY_BYTES = 48 * 1024  # under the console's 64 KiB request cap, with JSON's quoting
MAX_TAGS = 12
MAX_TAG = 40
MAX_LIMIT = 50
MAX_CONTACTS = 500  # a case's linked contacts asked about at once (a page, not a crawl)
_TAG = re.compile(r"^[^\W_][\w-]*$")
# title 10, body 1, tags 5: an article *about* the words outranks one that mentions them
_BM25 = "bm25(articles_fts, 10.0, 1.0, 5.0)"
_BM25_TITLES = "bm25(articles_title_fts, 2.0, 1.0)"
_COLUMNS = (
    "a.id, a.title, a.body, a.tags, a.language, a.owner, a.last_reviewed_at, a.retired,"
    " a.uses, a.helpful, a.unhelpful, a.created_at, a.updated_at"
)
_PG_CONFIG = {"en": "english", "ru": "russian"}
# ts_rank_cd's weights of D, C, B (body), A (title, tags): A five times B. With the
# default {0.1, 0.2, 0.4, 1.0} two words side by side in a body ("a password reset
# helps") outrank both in the title ("Resetting a customer's password").
_PG_WEIGHTS = "'{0.05, 0.1, 0.2, 1.0}'"


@dataclass(frozen=True, slots=True)
class Article:
    id: int
    title: str
    body: str
    tags: tuple[str, ...]
    language: str
    owner: str
    last_reviewed_at: float | None
    retired: bool
    uses: int
    helpful: int
    unhelpful: int
    created_at: float
    updated_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "body": self.body,
            "tags": list(self.tags),
            "language": self.language,
            "owner": self.owner,
            "last_reviewed_at": self.last_reviewed_at,
            "retired": self.retired,
            "uses": self.uses,
            "helpful": self.helpful,
            "unhelpful": self.unhelpful,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class SearchHit:
    article: Article
    score: float  # higher is better, comparable only within one search
    snippet: tuple[tuple[str, bool], ...]

    def to_json(self) -> dict[str, Any]:
        a = self.article
        return {
            "id": a.id,
            "title": a.title,
            "tags": list(a.tags),
            "language": a.language,
            "owner": a.owner,
            "last_reviewed_at": a.last_reviewed_at,
            "uses": a.uses,
            "helpful": a.helpful,
            "unhelpful": a.unhelpful,
            "updated_at": a.updated_at,
            "score": round(self.score, 6),
            "snippet": [{"text": text, "match": match} for text, match in self.snippet],
        }


class KnowledgeRepo:
    """``store.knowledge``."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._dialect: Dialect = store.dialect

    # -- reading ---------------------------------------------------------------------

    async def search(
        self, query: str, *, language: str | None = None, limit: int = 10
    ) -> list[SearchHit]:
        """Live articles matching ``query``, best first, with snippets. An empty query
        (no searchable word) lists the most used articles.

        Raises:
            InvalidInput: an unknown language or a limit outside 1..50.
        """
        if language is not None and language not in LANGUAGES:
            raise InvalidInput("language must be en or ru", field="lang")
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be from 1 to {MAX_LIMIT}", field="limit")
        terms = kb_text.query_words(query[:1000])
        if not terms:
            return await self._most_used(language, limit)
        stems = [kb_text.stem(t) for t in terms]
        rows: list[Any] = []
        for any_term in (False, True) if len(terms) > 1 else (False,):
            # Titles and tags first: when enough articles hold the words there, they are
            # the answer (a title outweighs a body several times), and a word found in
            # thousands of bodies costs the ranking of its far fewer titles only.
            rows = await self._match(terms, stems, language, limit, any_term, titles=True)
            if len(rows) < limit:
                rows = await self._match(terms, stems, language, limit, any_term, titles=False)
            if rows:
                break
        hits = []
        for row in rows:
            article = _article(row)
            plain = kb_text.plain_text(article.body)
            pieces = kb_text.snippet(plain, stems)
            hits.append(SearchHit(article, float(row[13]), tuple(pieces)))
        return hits

    async def _match(
        self,
        terms: Sequence[str],
        stems: Sequence[str],
        language: str | None,
        limit: int,
        any_term: bool,
        *,
        titles: bool,
    ) -> list[Any]:
        where_language = " AND a.language = ?" if language else ""
        if self._dialect.is_postgres:
            text = kb_text.websearch_text(terms, any_term=any_term)
            configs = [_PG_CONFIG[language]] if language else list(_PG_CONFIG.values())
            query = " || ".join(
                f"websearch_to_tsquery('{c}'::regconfig, ?)" for c in [*configs, "simple"]
            )
            per_query = [text] * (len(configs) + 1)
            vector = "a.title_search" if titles else "a.search"
            # The tsquery through a CTE read by scalar sub-selects: each becomes an InitPlan,
            # computed once. Written inline, a cached (generic) plan re-evaluates the three
            # websearch_to_tsquery calls for every candidate row, in the recheck and in the
            # ranking: ten times slower with a few thousand candidates.
            sql = (
                f"WITH x AS (SELECT {query} AS q)"
                f" SELECT {_COLUMNS},"
                f" ts_rank_cd({_PG_WEIGHTS}, {vector}, (SELECT q FROM x), 1) AS score"
                f" FROM articles a WHERE {vector} @@ (SELECT q FROM x) AND a.retired = 0"
                f"{where_language} ORDER BY score DESC, a.id LIMIT ?"
            )
            params: list[Any] = list(per_query)
        else:
            table, rank = (
                ("articles_title_fts", _BM25_TITLES) if titles else ("articles_fts", _BM25)
            )
            sql = (
                f"SELECT {_COLUMNS}, -{rank} AS score FROM {table}"
                f" JOIN articles a ON a.id = {table}.rowid"
                f" WHERE {table} MATCH ? AND a.retired = 0{where_language}"
                f" ORDER BY {rank}, a.id LIMIT ?"
            )
            params = [kb_text.fts5_match(stems, any_term=any_term)]
        if language:
            params.append(language)
        params.append(limit)
        return list(await self._store.fetchall(sql, params))

    async def _most_used(self, language: str | None, limit: int) -> list[SearchHit]:
        where = " AND a.language = ?" if language else ""
        rows = await self._store.fetchall(
            f"SELECT {_COLUMNS}, 0 AS score FROM articles a WHERE a.retired = 0{where}"
            " ORDER BY a.uses DESC, a.updated_at DESC, a.id LIMIT ?",
            [*([language] if language else []), limit],
        )
        hits = []
        for row in rows:
            article = _article(row)
            plain = kb_text.plain_text(article.body)
            hits.append(SearchHit(article, 0.0, tuple(kb_text.snippet(plain, ()))))
        return hits

    async def get(self, article_id: int) -> Article:
        """Raises NotFound."""
        row = await self._store.fetchone(
            f"SELECT {_COLUMNS} FROM articles a WHERE a.id = ?", (article_id,)
        )
        if row is None:
            raise NotFound(f"no article {article_id}")
        return _article(row)

    async def uses_of_contact(self, contact_id: int) -> list[dict[str, Any]]:
        """The articles used on a contact, in the order they were used:
        ``[{"article_id", "title", "username", "at", "contact_id"}]``."""
        return await self.uses_of_contacts([contact_id])

    async def uses_of_contacts(self, contact_ids: Sequence[int]) -> list[dict[str, Any]]:
        """The articles used on any of ``contact_ids`` (a case's contacts), oldest use
        first, as :meth:`uses_of_contact` gives them."""
        ids = sorted(set(contact_ids))[-MAX_CONTACTS:]  # the newest contacts of a long case
        if not ids:
            return []
        rows = await self._store.fetchall(
            "SELECT u.article_id, a.title, u.username, u.at, u.contact_id FROM article_uses u"
            " JOIN articles a ON a.id = u.article_id"
            f" WHERE u.contact_id IN ({', '.join('?' * len(ids))}) ORDER BY u.at, u.id",
            ids,
        )
        return [
            {
                "article_id": int(r[0]),
                "title": r[1],
                "username": r[2],
                "at": float(r[3]),
                "contact_id": int(r[4]),
            }
            for r in rows
        ]

    # -- writing ---------------------------------------------------------------------

    async def add(
        self,
        *,
        title: str,
        body: str,
        language: str,
        owner: str,
        tags: Sequence[str] = (),
        now: float | None = None,
    ) -> Article:
        """A new live article, reviewed now.

        Raises:
            InvalidInput: an empty or over-long title or body, an unknown language, bad tags.
        """
        at = time.time() if now is None else now
        fields = _checked(
            {"title": title, "body": body, "language": language, "owner": owner, "tags": tags}
        )
        columns = ["title", "body", "tags", "language", "owner", "last_reviewed_at"]
        values: list[Any] = [
            fields["title"],
            fields["body"],
            fields["tags"],
            fields["language"],
            fields["owner"],
            at,
        ]
        if not self._dialect.is_postgres:
            columns += ["search_title", "search_body", "search_tags"]
            values += search_columns(fields["title"], fields["body"], fields["tags"])
        columns += ["created_at", "updated_at"]
        values += [at, at]
        async with self._store.transaction() as tx:
            article_id = await tx.insert(
                f"INSERT INTO articles({', '.join(columns)})"
                f" VALUES ({', '.join('?' * len(columns))})",
                values,
            )
        return await self.get(article_id)

    async def update(
        self, article_id: int, changes: Mapping[str, Any], *, reviewed: bool = False
    ) -> tuple[Article, Article]:
        """Change some of ``title``, ``body``, ``tags``, ``language``, ``owner``;
        ``reviewed`` also stamps ``last_reviewed_at``. Returns (before, after).

        Raises:
            NotFound: no such article.
            InvalidInput: a bad value, or a field that cannot be changed.
        """
        unknown = set(changes) - {"title", "body", "tags", "language", "owner"}
        if unknown:
            raise InvalidInput(f"cannot change {sorted(unknown)[0]}", field=sorted(unknown)[0])
        before = await self.get(article_id)
        merged = _checked(
            {
                "title": changes.get("title", before.title),
                "body": changes.get("body", before.body),
                "language": changes.get("language", before.language),
                "owner": changes.get("owner", before.owner),
                "tags": changes.get("tags", before.tags),
            }
        )
        now = time.time()
        sets = ["title = ?", "body = ?", "tags = ?", "language = ?", "owner = ?", "updated_at = ?"]
        values: list[Any] = [
            merged["title"],
            merged["body"],
            merged["tags"],
            merged["language"],
            merged["owner"],
            now,
        ]
        if reviewed:
            sets.append("last_reviewed_at = ?")
            values.append(now)
        if not self._dialect.is_postgres:
            sets += ["search_title = ?", "search_body = ?", "search_tags = ?"]
            values += search_columns(merged["title"], merged["body"], merged["tags"])
        await self._store.write(
            f"UPDATE articles SET {', '.join(sets)} WHERE id = ?", [*values, article_id]
        )
        return before, await self.get(article_id)

    async def retire(self, article_id: int, *, retired: bool = True) -> tuple[Article, Article]:
        """Take an article out of search (``retired=False`` puts it back). Returns
        (before, after). Raises NotFound."""
        before = await self.get(article_id)
        await self._store.write(
            "UPDATE articles SET retired = ?, updated_at = ? WHERE id = ?",
            (int(retired), time.time(), article_id),
        )
        return before, await self.get(article_id)

    async def record_use(
        self,
        article_id: int,
        *,
        username: str,
        contact_id: int | None = None,
        at: float | None = None,
    ) -> Article:
        """Count one use (an agent inserted the article or marked it used), on
        ``contact_id`` when there is one; ``at`` (now by default) for the demo's history.

        Raises:
            NotFound: no such article. Conflict: it is retired.
        """
        await self._live(article_id)
        async with self._store.transaction() as tx:
            await tx.execute("UPDATE articles SET uses = uses + 1 WHERE id = ?", (article_id,))
            await tx.execute(
                "INSERT INTO article_uses(article_id, contact_id, username, at)"
                " VALUES (?, ?, ?, ?)",
                (article_id, contact_id, username, time.time() if at is None else at),
            )
        return await self.get(article_id)

    async def vote(self, article_id: int, *, username: str, helpful: bool) -> Article:
        """The user's vote on the article (replacing their earlier one).

        Raises:
            NotFound: no such article. Conflict: it is retired.
        """
        await self._live(article_id)
        async with self._store.transaction() as tx:
            await tx.execute(
                "INSERT INTO article_votes(article_id, username, helpful, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(article_id, username) DO UPDATE SET helpful = excluded.helpful,"
                " at = excluded.at",
                (article_id, username, int(helpful), time.time()),
            )
            await tx.execute(
                "UPDATE articles SET"
                " helpful = (SELECT count(*) FROM article_votes v"
                "   WHERE v.article_id = articles.id AND v.helpful = 1),"
                " unhelpful = (SELECT count(*) FROM article_votes v"
                "   WHERE v.article_id = articles.id AND v.helpful = 0)"
                " WHERE id = ?",
                (article_id,),
            )
        return await self.get(article_id)

    async def _live(self, article_id: int) -> Article:
        article = await self.get(article_id)
        if article.retired:
            raise Conflict(f"article {article_id} is retired")
        return article


def clean_tags(value: Any) -> str:
    """Tags (a list of words, or one space/comma-separated string) as the stored text:
    lower case, each once, space-separated.

    Raises:
        InvalidInput: not text, more than 12, one longer than 40 or not a word
            (letters, digits, ``-``).
    """
    if isinstance(value, str):
        items: list[Any] = re.split(r"[\s,]+", value)
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise InvalidInput("tags must be a list of words", field="tags")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidInput("tags must be a list of words", field="tags")
        tag = item.strip().lower()
        if not tag:
            continue
        if len(tag) > MAX_TAG or not _TAG.match(tag):
            raise InvalidInput(
                f"a tag is a word of letters, digits and '-', at most {MAX_TAG}", field="tags"
            )
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise InvalidInput(f"at most {MAX_TAGS} tags", field="tags")
    return " ".join(out)


def _checked(fields: Mapping[str, Any]) -> dict[str, Any]:
    title, body = fields["title"], fields["body"]
    language, owner = fields["language"], fields["owner"]
    if not isinstance(title, str) or not title.strip():
        raise InvalidInput("an article needs a title", field="title")
    if len(title) > MAX_TITLE or "\n" in title or "\r" in title:
        raise InvalidInput(f"a title is one line of at most {MAX_TITLE}", field="title")
    if not isinstance(body, str) or not body.strip():
        raise InvalidInput("an article needs a body", field="body")
    if len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise InvalidInput(f"the body is over {MAX_BODY_BYTES // 1024} KiB", field="body")
    if language not in LANGUAGES:
        raise InvalidInput("language must be en or ru", field="language")
    if not isinstance(owner, str) or not owner.strip() or len(owner) > 64:
        raise InvalidInput("an owner is a user name of at most 64", field="owner")
    return {
        "title": title.strip(),
        "body": body,
        "language": language,
        "owner": owner.strip(),
        "tags": clean_tags(fields["tags"]),
    }


def search_columns(title: str, body: str, tags: str) -> list[str]:
    """SQLite's stemmed shadow columns of an article: what FTS5 indexes (and a bulk
    loader such as bench/knowledge.py writes with the row)."""
    return [
        kb_text.stemmed_text(title),
        kb_text.stemmed_text(kb_text.plain_text(body)),
        kb_text.stemmed_text(tags),
    ]


def _article(row: Any) -> Article:
    return Article(
        id=int(row[0]),
        title=row[1],
        body=row[2],
        tags=tuple(row[3].split()) if row[3] else (),
        language=row[4],
        owner=row[5],
        last_reviewed_at=None if row[6] is None else float(row[6]),
        retired=bool(row[7]),
        uses=int(row[8]),
        helpful=int(row[9]),
        unhelpful=int(row[10]),
        created_at=float(row[11]),
        updated_at=float(row[12]),
    )

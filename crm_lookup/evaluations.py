"""Quality review: the evaluations supervisors give contacts (table ``evaluations``).

An evaluation is one supervisor's scored form for one contact. The form is stored as it
was scored (``form``, the JSON of ``routing.evaluation_forms.Form.to_json``), beside the
answers, the comments and the score the console computed from them, so an edit of the
forms file changes no score already given. ``agent_id`` is the contact's agent when it
was scored. Only its evaluator changes an evaluation afterwards.

Periods are the contact's (``contacts.created_at``, when the call began): a score
describes the call, and belongs to the same period as the call in a report however much
later it was given.

Portable SQL only (docs/ARCHITECTURE.md "Writing a query portably").
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from config.errors import InvalidInput, NotFound, PermissionDenied
from crm_lookup.database import Dialect, ForeignKeyViolation, Transaction

MAX_COMMENTS = 4000
MAX_LIST = 500
_MAX_JSON = 256 * 1024


_SELECT = (
    "SELECT e.id, e.contact_id, e.form_id, e.form, e.agent_id, e.evaluator, e.answers,"
    " e.comments, e.score, e.created_at, e.updated_at, c.queue, c.created_at"
    " FROM evaluations e JOIN contacts c ON c.id = e.contact_id"
)


class _Database(Protocol):
    """The calls of ``crm_lookup.store.Store`` this repository uses."""

    dialect: Dialect

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int: ...
    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...
    def transaction(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class Evaluation:
    id: int
    contact_id: int
    form_id: str
    form: Mapping[str, Any]
    agent_id: str
    evaluator: str
    answers: Mapping[str, Any]
    comments: str
    score: float | None
    created_at: float
    updated_at: float
    queue: str  # the contact's
    contact_at: float  # when the contact began

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "contact_id": self.contact_id,
            "form_id": self.form_id,
            "form": dict(self.form),
            "agent_id": self.agent_id,
            "evaluator": self.evaluator,
            "answers": dict(self.answers),
            "comments": self.comments,
            "score": self.score,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "queue": self.queue,
            "contact_at": self.contact_at,
        }


def _json(value: Mapping[str, Any], field: str) -> str:
    try:
        text = json.dumps(dict(value), separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field} must be plain JSON data", field=field) from None
    if len(text.encode()) > _MAX_JSON:
        raise InvalidInput(f"{field} is too large", field=field)
    return text


def _comments(comments: str) -> str:
    if len(comments) > MAX_COMMENTS:
        raise InvalidInput(f"comments are longer than {MAX_COMMENTS} characters", field="comments")
    return comments


def _score(score: float | None) -> float | None:
    if score is not None and not 0.0 <= score <= 100.0:
        raise InvalidInput("a score is between 0 and 100", field="score")
    return score


class EvaluationRepo:
    def __init__(self, store: _Database) -> None:
        self._store = store

    async def add(
        self,
        contact_id: int,
        form: Mapping[str, Any],
        agent_id: str,
        evaluator: str,
        answers: Mapping[str, Any],
        comments: str,
        score: float | None,
        *,
        at: float | None = None,
    ) -> Evaluation:
        """Store an evaluation of ``contact_id`` (``form`` the snapshot, with its ``id``).

        Raises:
            NotFound: no such contact.
            InvalidInput: comments too long, a score outside 0..100, data not JSON.
        """
        now = time.time() if at is None else at
        row = (
            contact_id,
            str(form.get("id", "")),
            _json(form, "form"),
            agent_id,
            evaluator,
            _json(answers, "answers"),
            _comments(comments),
            _score(score),
            now,
            now,
        )
        try:
            async with self._store.transaction() as tx:
                new_id = await _insert(tx, row)
        except ForeignKeyViolation:
            raise NotFound(f"no contact {contact_id}") from None
        return await self.get(new_id)

    async def get(self, evaluation_id: int) -> Evaluation:
        """Raises NotFound."""
        row = await self._store.fetchone(_SELECT + " WHERE e.id = ?", (evaluation_id,))
        if row is None:
            raise NotFound(f"no evaluation {evaluation_id}")
        return _evaluation(row)

    async def update(
        self,
        evaluation_id: int,
        evaluator: str,
        answers: Mapping[str, Any],
        comments: str,
        score: float | None,
    ) -> Evaluation:
        """New answers, comments and score by the evaluation's own evaluator; the form
        stays the one it was first scored with.

        Raises:
            NotFound: no such evaluation.
            PermissionDenied: ``evaluator`` is not who gave it.
            InvalidInput: as :meth:`add`.
        """
        params = (_json(answers, "answers"), _comments(comments), _score(score), time.time())
        same = self._store.dialect.same_text("evaluator", "?")
        changed = await self._store.write(
            "UPDATE evaluations SET answers = ?, comments = ?, score = ?, updated_at = ?"
            f" WHERE id = ? AND {same}",
            (*params, evaluation_id, evaluator),
        )
        if not changed:
            found = await self.get(evaluation_id)  # NotFound
            raise PermissionDenied(f"only {found.evaluator} may change this evaluation")
        return await self.get(evaluation_id)

    async def for_contact(self, contact_id: int) -> list[Evaluation]:
        """The contact's evaluations, oldest first."""
        rows = await self._store.fetchall(
            _SELECT + " WHERE e.contact_id = ? ORDER BY e.created_at, e.id LIMIT ?",
            (contact_id, MAX_LIST),
        )
        return [_evaluation(r) for r in rows]

    async def listing(
        self,
        start: float,
        end: float,
        *,
        agent_id: str | None = None,
        queues: Collection[str] | None = None,
        limit: int = MAX_LIST,
    ) -> list[Evaluation]:
        """Evaluations of contacts begun in ``[start, end)``, newest contact first.

        Args:
            agent_id: only this agent's.
            queues: only contacts of these queues (``None``: every contact).
            limit: at most this many (capped at 500).
        """
        where = ["c.created_at >= ?", "c.created_at < ?"]
        params: list[Any] = [start, end]
        if agent_id is not None:
            where.append("e.agent_id = ?")
            params.append(agent_id)
        if queues is not None:
            if not queues:
                return []
            where.append(f"c.queue IN {self._store.dialect.json_values()}")
            params.append(json.dumps(sorted(queues)))
        params.append(max(1, min(limit, MAX_LIST)))
        rows = await self._store.fetchall(
            _SELECT
            + " WHERE "
            + " AND ".join(where)
            + " ORDER BY c.created_at DESC, e.id DESC LIMIT ?",
            params,
        )
        return [_evaluation(r) for r in rows]

    async def for_agent(self, agent_id: str, start: float, end: float) -> list[Evaluation]:
        """The agent's evaluations of contacts begun in ``[start, end)``, newest first."""
        return await self.listing(start, end, agent_id=agent_id)


async def _insert(tx: Transaction, row: tuple[Any, ...]) -> int:
    return await tx.insert(
        "INSERT INTO evaluations(contact_id, form_id, form, agent_id, evaluator, answers,"
        " comments, score, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        row,
    )


def _evaluation(row: Any) -> Evaluation:
    return Evaluation(
        id=int(row[0]),
        contact_id=int(row[1]),
        form_id=str(row[2]),
        form=json.loads(row[3]),
        agent_id=str(row[4]),
        evaluator=str(row[5]),
        answers=json.loads(row[6]),
        comments=str(row[7]),
        score=None if row[8] is None else float(row[8]),
        created_at=float(row[9]),
        updated_at=float(row[10]),
        queue=str(row[11]),
        contact_at=float(row[12]),
    )

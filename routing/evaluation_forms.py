"""Evaluation forms for quality review: the file, its checks, and the score.

Theory of operation: the forms file (``[quality] forms_file``, e.g.
``config/evaluation_forms.yaml``) lists forms; a form has sections, a section has
questions, each question is ``yes_no`` or ``scale_1_5`` with a weight above zero and,
optionally, ``na: true`` (the evaluator may say "does not apply") and ``required: false``
(may be left unanswered). :func:`load_forms` reads the file within the limits of
:mod:`routing.ivr.yamltree` and :func:`parse_forms` checks it: every problem is one
:class:`~config.errors.InvalidInput` whose message names the file, the form, the question
and what is wrong.

The score (:func:`score`) is pure: the weighted mean of the answered questions, each
valued 0..1 (yes 1, no 0; a scale answer n is (n - 1) / 4), times 100. ``na`` and
unanswered questions count neither in the sum nor in the weights; with nothing scored the
score is ``None``. An evaluation keeps the form as it was scored (:meth:`Form.to_json`,
read back with :func:`form_from_json`), so a later edit of the file changes no old score.

No I/O but reading the file: ``mypy --strict`` passes here.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from config.errors import InvalidInput
from routing.ivr.yamltree import Limits, load_file

__all__ = [
    "FORMS_LIMITS",
    "Form",
    "Question",
    "Section",
    "check_answers",
    "form_from_json",
    "load_forms",
    "parse_forms",
    "score",
]

Kind = Literal["yes_no", "scale_1_5"]
KINDS: tuple[Kind, ...] = ("yes_no", "scale_1_5")
NA = "na"
Answer = str | int  # "yes" | "no" | "na" | 1..5

# A forms file is small: a few forms of a few dozen questions.
FORMS_LIMITS = Limits(max_bytes=256 * 1024, max_depth=20, max_values=50_000)
MAX_FORMS = 50
MAX_SECTIONS = 30
MAX_QUESTIONS = 200  # per form
MAX_TEXT = 500
MAX_WEIGHT = 100.0
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_FORM_KEYS = {"id", "name", "description", "sections"}
_SECTION_KEYS = {"title", "questions"}
_QUESTION_KEYS = {"id", "text", "kind", "weight", "na", "required"}


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    text: str
    kind: Kind
    weight: float
    na: bool = False  # "na" (does not apply) is an allowed answer
    required: bool = True

    def allowed(self) -> tuple[Answer, ...]:
        values: tuple[Answer, ...] = ("yes", "no") if self.kind == "yes_no" else (1, 2, 3, 4, 5)
        return (*values, NA) if self.na else values

    def value(self, answer: Answer) -> float | None:
        """The answer as 0..1, ``None`` for "na"."""
        if answer == NA:
            return None
        if self.kind == "yes_no":
            return 1.0 if answer == "yes" else 0.0
        assert isinstance(answer, int)
        return (answer - 1) / 4


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    questions: tuple[Question, ...]


@dataclass(frozen=True, slots=True)
class Form:
    id: str
    name: str
    sections: tuple[Section, ...]
    description: str = ""

    def questions(self) -> list[Question]:
        return [q for s in self.sections for q in s.questions]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "sections": [
                {
                    "title": s.title,
                    "questions": [
                        {
                            "id": q.id,
                            "text": q.text,
                            "kind": q.kind,
                            "weight": q.weight,
                            "na": q.na,
                            "required": q.required,
                        }
                        for q in s.questions
                    ],
                }
                for s in self.sections
            ],
        }


def score(form: Form, answers: Mapping[str, Answer]) -> float | None:
    """The weighted mean of the answered questions, 0..100 (2 decimals); ``None`` when
    nothing was scored (every answer "na" or missing). ``answers`` are checked ones
    (:func:`check_answers`); answers to questions the form does not have are ignored."""
    total = weights = 0.0
    for q in form.questions():
        if q.id not in answers:
            continue
        value = q.value(answers[q.id])
        if value is None:
            continue
        total += q.weight * value
        weights += q.weight
    if weights == 0:
        return None
    return round(100.0 * total / weights, 2)


def check_answers(form: Form, answers: Any) -> dict[str, Answer]:
    """The answers of an evaluation, checked against its form.

    Args:
        form: the form scored.
        answers: question id -> "yes" | "no" (yes/no), 1..5 (scale; "3" is taken as 3),
            or "na" where the question allows it.

    Raises:
        InvalidInput: not a mapping, a question the form does not have, a value the
            question does not allow, or a required question unanswered; ``field`` is
            ``answers.<question id>``.
    """
    if not isinstance(answers, Mapping):
        raise InvalidInput("answers must be an object: question id -> answer", field="answers")
    known = {q.id: q for q in form.questions()}
    for key in answers:
        if key not in known:
            raise InvalidInput(
                f"form {form.id} has no question {str(key)[:64]!r}", field=f"answers.{key}"[:80]
            )
    checked: dict[str, Answer] = {}
    for q in form.questions():
        raw = answers.get(q.id)
        if raw is None or raw == "":
            if q.required:
                raise InvalidInput(f"answer the question: {q.text}", field=f"answers.{q.id}")
            continue
        value = _answer(q, raw)
        if value is None:
            allowed = ", ".join(str(a) for a in q.allowed())
            raise InvalidInput(
                f"{q.text}: the answer must be one of {allowed}", field=f"answers.{q.id}"
            )
        checked[q.id] = value
    return checked


def _answer(q: Question, raw: Any) -> Answer | None:
    if isinstance(raw, bool):
        return None
    if raw == NA:
        return NA if q.na else None
    if q.kind == "yes_no":
        return raw if raw in ("yes", "no") else None
    if isinstance(raw, str) and raw in ("1", "2", "3", "4", "5"):
        raw = int(raw)
    return raw if isinstance(raw, int) and 1 <= raw <= 5 else None


# -- the file -----------------------------------------------------------------------------


def load_forms(path: str | os.PathLike[str], limits: Limits = FORMS_LIMITS) -> tuple[Form, ...]:
    """Read and check a forms file.

    Raises:
        InvalidInput: the file is missing, too big, not YAML, or a form is wrong; the
            message names the file (and line, form, question) and what is wrong.
    """
    source = str(path)
    return parse_forms(load_file(path, limits), source)


def parse_forms(data: Any, source: str = "<forms>") -> tuple[Form, ...]:
    """Check loaded data (``{"forms": [...]}``) and build the forms.

    Raises:
        InvalidInput: anything wrong; ``field`` is the path (``forms.<id>.<question>``).
    """
    if not isinstance(data, Mapping) or set(data) != {"forms"}:
        _fail(source, "forms", "the file must hold one key, forms: a list of forms")
    items = data["forms"]
    if not isinstance(items, list) or not items:
        _fail(source, "forms", "forms must be a non-empty list")
    if len(items) > MAX_FORMS:
        _fail(source, "forms", f"at most {MAX_FORMS} forms")
    forms: list[Form] = []
    for index, item in enumerate(items, 1):
        form = _form(source, index, item)
        if any(f.id == form.id for f in forms):
            _fail(source, f"form {form.id}", "two forms have this id")
        forms.append(form)
    return tuple(forms)


def form_from_json(data: Any) -> Form:
    """A form from :meth:`Form.to_json` (an evaluation's snapshot). Raises InvalidInput."""
    return _form("<snapshot>", 1, data)


def _fail(source: str, where: str, what: str) -> Any:
    raise InvalidInput(f"{source}: {where}: {what}", field=where)


def _unknown(source: str, where: str, body: Mapping[str, Any], keys: set[str]) -> None:
    unknown = sorted(str(k) for k in set(body) - keys)
    if unknown:
        _fail(
            source, where, f"unknown key {unknown[0]!r}; expected one of {', '.join(sorted(keys))}"
        )


def _text(source: str, where: str, body: Mapping[str, Any], key: str, *, required: bool) -> str:
    value = body.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        _fail(source, where, f"{key} must be non-empty text")
    assert isinstance(value, str)
    if len(value) > MAX_TEXT:
        _fail(source, where, f"{key} is longer than {MAX_TEXT} characters")
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        _fail(source, where, f"{key} holds control characters")
    return value.strip()


def _ident(source: str, where: str, value: Any, what: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        _fail(source, where, f"{what} id must be 1-64 letters, digits, '_', '.' or '-'")
    assert isinstance(value, str)
    return value


def _flag(source: str, where: str, body: Mapping[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        _fail(source, where, f"{key} must be true or false")
    assert isinstance(value, bool)
    return value


def _form(source: str, index: int, body: Any) -> Form:
    where = f"form {index}"
    if not isinstance(body, Mapping):
        _fail(source, where, "a form must be a mapping with id, name and sections")
    form_id = _ident(source, where, body.get("id"), "the form's")
    where = f"form {form_id}"
    _unknown(source, where, body, _FORM_KEYS)
    name = _text(source, where, body, "name", required=True)
    description = _text(source, where, body, "description", required=False)
    sections_raw = body.get("sections")
    if not isinstance(sections_raw, list) or not sections_raw:
        _fail(source, where, "sections must be a non-empty list")
    if len(sections_raw) > MAX_SECTIONS:
        _fail(source, where, f"at most {MAX_SECTIONS} sections")
    sections: list[Section] = []
    seen: set[str] = set()
    for number, section in enumerate(sections_raw, 1):
        sections.append(_section(source, f"{where}: section {number}", section, seen))
    if len(seen) > MAX_QUESTIONS:
        _fail(source, where, f"at most {MAX_QUESTIONS} questions")
    return Form(form_id, name, tuple(sections), description)


def _section(source: str, where: str, body: Any, seen: set[str]) -> Section:
    if not isinstance(body, Mapping):
        _fail(source, where, "a section must be a mapping with title and questions")
    _unknown(source, where, body, _SECTION_KEYS)
    title = _text(source, where, body, "title", required=True)
    where = f"{where} ({title})"
    raw = body.get("questions")
    if not isinstance(raw, list) or not raw:
        _fail(source, where, "questions must be a non-empty list")
    questions: list[Question] = []
    for number, item in enumerate(raw, 1):
        question = _question(source, f"{where}: question {number}", item)
        if question.id in seen:
            _fail(source, f"{where}: question {question.id}", "two questions have this id")
        seen.add(question.id)
        questions.append(question)
    return Section(title, tuple(questions))


def _question(source: str, where: str, body: Any) -> Question:
    if not isinstance(body, Mapping):
        _fail(source, where, "a question must be a mapping with id, text, kind and weight")
    question_id = _ident(source, where, body.get("id"), "the question's")
    where = f"{where.rsplit(': question', 1)[0]}: question {question_id}"
    _unknown(source, where, body, _QUESTION_KEYS)
    text = _text(source, where, body, "text", required=True)
    kind = body.get("kind")
    if kind not in KINDS:
        _fail(source, where, f"kind must be one of {', '.join(KINDS)}")
    weight = body.get("weight", 1)
    if (
        isinstance(weight, bool)
        or not isinstance(weight, int | float)
        or not math.isfinite(weight)
        or not 0 < weight <= MAX_WEIGHT
    ):
        _fail(source, where, f"weight must be a number above 0 and at most {MAX_WEIGHT:g}")
    na = _flag(source, where, body, "na", False)
    required = _flag(source, where, body, "required", True)
    return Question(question_id, text, kind, float(weight), na, required)


def forms_json(forms: Sequence[Form]) -> list[dict[str, Any]]:
    """The forms as the API gives them."""
    return [f.to_json() for f in forms]

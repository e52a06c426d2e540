"""Evaluation forms: the shipped file, the checks of a wrong file, and the score by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config.errors import InvalidInput
from config.settings import Settings
from routing.evaluation_forms import (
    Form,
    check_answers,
    form_from_json,
    load_forms,
    parse_forms,
    score,
)

ROOT = Path(__file__).resolve().parent.parent


def small() -> dict[str, Any]:
    return {
        "forms": [
            {
                "id": "f",
                "name": "Form",
                "sections": [
                    {
                        "title": "One",
                        "questions": [
                            {"id": "greet", "text": "Greeted", "kind": "yes_no", "weight": 1},
                            {"id": "tone", "text": "Tone", "kind": "scale_1_5", "weight": 2},
                        ],
                    },
                    {
                        "title": "Two",
                        "questions": [
                            {
                                "id": "verify",
                                "text": "Verified",
                                "kind": "yes_no",
                                "weight": 3,
                                "na": True,
                            },
                            {
                                "id": "extra",
                                "text": "Extra",
                                "kind": "scale_1_5",
                                "weight": 0.5,
                                "required": False,
                            },
                        ],
                    },
                ],
            }
        ]
    }


def form() -> Form:
    return parse_forms(small())[0]


def test_the_shipped_file_is_the_settings_default_and_loads() -> None:
    path = Settings().path(Settings().quality.forms_file)
    assert path == ROOT / "config" / "evaluation_forms.yaml"
    forms = load_forms(path)
    titles = [s.title for s in forms[0].sections]
    assert titles == ["Greeting", "Verification", "Resolution", "Tone", "Compliance"]
    kinds = {q.kind for q in forms[0].questions()}
    assert kinds == {"yes_no", "scale_1_5"}


def test_score_by_hand() -> None:
    f = form()
    # greet yes (1 x 1) + tone 4 -> 0.75 (x 2) + verify no (0 x 3): 2.5 / 6 = 41.666..
    assert score(f, {"greet": "yes", "tone": 4, "verify": "no"}) == 41.67
    # verify "na" leaves its weight out: (1 + 1.5) / 3 = 83.33
    assert score(f, {"greet": "yes", "tone": 4, "verify": "na"}) == 83.33
    # the optional one counts when answered: tone 1 -> 0, extra 5 -> 1 x 0.5:
    # (0 + 0 + 3 + 0.5) / 6.5 = 53.846..
    assert score(f, {"greet": "no", "tone": 1, "verify": "yes", "extra": 5}) == 53.85
    assert score(f, {"greet": "yes", "tone": 5, "verify": "yes", "extra": 5}) == 100.0
    assert score(f, {"greet": "no", "tone": 1, "verify": "no"}) == 0.0
    # scale steps are quarters: 2 -> 25, 3 -> 50
    one = parse_forms(
        {
            "forms": [
                {
                    "id": "s",
                    "name": "S",
                    "sections": [
                        {
                            "title": "T",
                            "questions": [
                                {"id": "q", "text": "Q", "kind": "scale_1_5", "weight": 7}
                            ],
                        }
                    ],
                }
            ]
        }
    )[0]
    assert [score(one, {"q": n}) for n in (1, 2, 3, 4, 5)] == [0.0, 25.0, 50.0, 75.0, 100.0]


def test_nothing_scored_is_none() -> None:
    f = parse_forms(
        {
            "forms": [
                {
                    "id": "s",
                    "name": "S",
                    "sections": [
                        {
                            "title": "T",
                            "questions": [
                                {"id": "q", "text": "Q", "kind": "yes_no", "weight": 1, "na": True}
                            ],
                        }
                    ],
                }
            ]
        }
    )[0]
    assert score(f, {"q": "na"}) is None


def test_check_answers() -> None:
    f = form()
    assert check_answers(f, {"greet": "yes", "tone": "3", "verify": "na"}) == {
        "greet": "yes",
        "tone": 3,
        "verify": "na",
    }
    cases: list[tuple[Any, str]] = [
        ({"tone": 3, "verify": "yes"}, "answers.greet"),  # required, missing
        ({"greet": "maybe", "tone": 3, "verify": "yes"}, "answers.greet"),
        ({"greet": True, "tone": 3, "verify": "yes"}, "answers.greet"),
        ({"greet": "yes", "tone": 6, "verify": "yes"}, "answers.tone"),
        ({"greet": "yes", "tone": 0, "verify": "yes"}, "answers.tone"),
        ({"greet": "yes", "tone": "na", "verify": "yes"}, "answers.tone"),  # na not allowed
        ({"greet": "yes", "tone": 2.5, "verify": "yes"}, "answers.tone"),
        ({"greet": "yes", "tone": 3, "verify": "yes", "nope": 1}, "answers.nope"),
        (["greet"], "answers"),
    ]
    for answers, field in cases:
        with pytest.raises(InvalidInput) as info:
            check_answers(f, answers)
        assert info.value.field == field, answers


def bad(change: Any) -> str:
    data = small()
    change(data)
    with pytest.raises(InvalidInput) as info:
        parse_forms(data, "forms.yaml")
    return str(info.value)


def q(data: dict[str, Any], section: int = 0, question: int = 0) -> dict[str, Any]:
    result: dict[str, Any] = data["forms"][0]["sections"][section]["questions"][question]
    return result


def test_wrong_files_name_the_form_the_question_and_the_problem() -> None:
    msg = bad(lambda d: q(d, 0, 1).update(weight=0))
    assert msg == (
        "forms.yaml: form f: section 1 (One): question tone:"
        " weight must be a number above 0 and at most 100"
    )
    assert "question greet: kind must be one of yes_no, scale_1_5" in bad(
        lambda d: q(d).update(kind="stars")
    )
    assert "question greet: weight" in bad(lambda d: q(d).update(weight=True))
    assert "question greet: weight" in bad(lambda d: q(d).update(weight=float("nan")))
    assert "question greet: weight" in bad(lambda d: q(d).update(weight="2"))
    assert "question greet: na must be true or false" in bad(lambda d: q(d).update(na="yes"))
    assert "question greet: unknown key 'wieght'" in bad(lambda d: q(d).update(wieght=2))
    assert "question tone: two questions have this id" in bad(
        lambda d: q(d, 1, 0).update(id="tone")
    )
    assert "section 2 (Two): question 1: the question's id" in bad(
        lambda d: q(d, 1, 0).update(id="has space")
    )
    assert "question greet: text must be non-empty text" in bad(lambda d: q(d).update(text=""))
    assert "form f: section 1: title must be non-empty text" in bad(
        lambda d: d["forms"][0]["sections"][0].pop("title")
    )
    assert "form f: sections must be a non-empty list" in bad(
        lambda d: d["forms"][0].update(sections=[])
    )
    assert "form f: two forms have this id" in bad(lambda d: d["forms"].append(dict(d["forms"][0])))
    assert "forms.yaml: forms: the file must hold one key" in bad(lambda d: d.update(extra=1))
    assert "form 1: the form's id" in bad(lambda d: d["forms"][0].pop("id"))


def test_load_forms_reads_within_limits(tmp_path: Path) -> None:
    missing = tmp_path / "none.yaml"
    with pytest.raises(InvalidInput, match=r"none\.yaml: file not found"):
        load_forms(missing)
    big = tmp_path / "big.yaml"
    big.write_text("forms: [" + "1, " * 200_000 + "]")
    with pytest.raises(InvalidInput, match="larger than"):
        load_forms(big)
    laughs = tmp_path / "laughs.yaml"
    laughs.write_text(
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n"
            for p, c in zip("abcd", "bcde", strict=True)
        )
        + "forms: *e\n"
    )
    with pytest.raises(InvalidInput, match=r"laughs\.yaml:.*values once aliases are expanded"):
        load_forms(laughs)
    broken = tmp_path / "broken.yaml"
    broken.write_text("forms:\n  - id: [\n")
    with pytest.raises(InvalidInput, match=r"broken.yaml:\d+: not valid YAML"):
        load_forms(broken)


def test_a_snapshot_reads_back_as_the_same_form() -> None:
    f = load_forms(ROOT / "config" / "evaluation_forms.yaml")[0]
    assert form_from_json(f.to_json()) == f
    with pytest.raises(InvalidInput):
        form_from_json({"id": "x"})

"""The one catalogue: both languages for every string, and every key the pages use."""

from __future__ import annotations

import re
from pathlib import Path

from agent_console import catalogue

CONSOLE = Path(catalogue.__file__).resolve().parent
# t("key") / t('key') in templates and scripts; SB.t and a destructured t alike. A key
# built at run time (t("role." + code)) is not a literal key and is left out.
USE = re.compile(r"""(?<![A-Za-z0-9_.])t\(\s*["']([A-Za-z0-9_.\- ]+)["']\s*[,)]""")


def used_keys() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in [*CONSOLE.glob("templates/*.html"), *CONSOLE.glob("static/*.js")]:
        for key in USE.findall(path.read_text(encoding="utf-8")):
            found.setdefault(key, set()).add(path.name)
    return found


def test_every_string_has_both_languages_with_the_same_placeholders() -> None:
    for key, pair in catalogue.STRINGS.items():
        assert len(pair) == len(catalogue.LANGUAGES), key
        en, ru = pair
        assert en.strip() and ru.strip(), f"{key} is blank in a language"
        assert catalogue.placeholders(en) == catalogue.placeholders(ru), key


def test_every_key_a_page_uses_is_in_the_catalogue() -> None:
    used = used_keys()
    assert used, "the pattern found no use at all: it is broken"
    missing = {key: sorted(files) for key, files in used.items() if key not in catalogue.STRINGS}
    assert not missing, f"keys used but not in agent_console/catalogue.py: {missing}"


def test_translation_fills_placeholders_and_falls_back() -> None:
    t = catalogue.translator("ru")
    assert t("login.too_many", seconds=30) == "Слишком много попыток; повторите через 30 с."
    assert catalogue.translator("en")("no.such.key") == "no.such.key"
    assert catalogue.strings_for("xx") == catalogue.strings_for("en")


def test_language_follows_the_user_then_the_browser() -> None:
    assert catalogue.negotiate("ru", "en-US,en;q=0.9") == "ru"
    assert catalogue.negotiate(None, "de-DE,ru;q=0.8,en;q=0.5") == "ru"
    assert catalogue.negotiate("", "fr-FR") == "en"
    assert catalogue.negotiate("xx", "") == "en"


def test_every_report_measure_has_a_label_and_a_definition() -> None:
    from crm_lookup.report_measures import DEFINED

    for key in DEFINED:
        for kind in ("measure", "definition"):
            en, ru = catalogue.STRINGS[f"report.{kind}.{key}"]
            assert en and ru and en != ru

"""Knowledge-base text: words, a light English/Russian stemmer, query shapes and snippets.

Theory of operation: SQLite's FTS5 has no Russian stemmer (its ``porter`` wrapper is
English only) and its ``trigram`` tokenizer matches substrings, so the query "оплаты"
never finds an article saying "оплата" (the trigram "аты" is not in it) — inflection is
exactly what Russian needs handled. So the knowledge base stems in Python: every word of
an article is reduced by :func:`stem` (an English "S-stemmer" plus -ing/-ed, and a
Russian ending stripper over the word's RV region in the manner of Snowball) and written
beside the original text in shadow columns that FTS5 indexes; a query's words go through
the same function, so "refunds"/"refunded"/"refunding" and "карта"/"карты"/"картой"
meet. The script of each word picks its stemmer, so one index serves both languages and
a mixed query. PostgreSQL has Snowball's real stemmers ('english', 'russian'); there the
database stems and only :func:`query_words` (the bounded, operator-free words) and
:func:`snippet` come from here.

Pure: no I/O, no database; ``mypy --strict``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence

__all__ = [
    "MAX_QUERY_TERMS",
    "fts5_match",
    "plain_text",
    "query_words",
    "snippet",
    "stem",
    "stemmed_text",
    "websearch_text",
    "words",
]

MAX_QUERY_TERMS = 12  # a query longer than this is a pasted paragraph: its first words
MAX_WORD = 40  # longer "words" (a hash, a URL's path) are not searchable text
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CYRILLIC = re.compile(r"[а-яё]")

_EN_STOP_WORDS = (
    "a an and are as at be but by can do does for from how i if in is it its me my no not "
    "of on or our so that the their this to was we what when where which who why will with "
    "you your"
)
_RU_STOP_WORDS = (
    "а без бы в во вы да для до если же за и из или к как ли мне мы на не нет но о об "
    "он она они от по при с со так то у что чтобы это я"
)
_EN_STOP = frozenset(_EN_STOP_WORDS.split())
_RU_STOP = frozenset(_RU_STOP_WORDS.split())


# Russian endings by class, as Snowball's Russian stemmer has them; "group 1" endings
# count only after а/я (which stays). Each tuple is tried longest first.
def _longest_first(text: str) -> tuple[str, ...]:
    return tuple(sorted(text.split(), key=len, reverse=True))


_RU_GERUND_1 = _longest_first("в вши вшись")
_RU_GERUND_2 = _longest_first("ив ивши ившись ыв ывши ывшись")
_RU_REFLEXIVE = ("ся", "сь")
_RU_ADJECTIVE = _longest_first(
    "ее ие ые ое ими ыми ей ий ый ой ем им ым ом его ого ему ому их ых ую юю ая яя ою ею"
)
_RU_PARTICIPLE_1 = _longest_first("ем нн вш ющ щ")
_RU_PARTICIPLE_2 = _longest_first("ивш ывш ующ")
_RU_VERB_1 = _longest_first("ла на ете йте ли й л ем н ло но ет ют ны ть ешь нно")
_RU_VERB_2 = _longest_first(
    "ила ыла ена ейте уйте ите или ыли ей уй ил ыл им ым ен ило ыло ено ят ует уют ит ыт ены "
    "ить ыть ишь ую ю"
)
_RU_NOUN = _longest_first(
    "а ев ов ие ье е иями ями ами еи ии и ией ей ой ий й иям ям ием ем ам ом о у ах иях ях ы "
    "ь ию ью ю ия ья я"
)
_RU_VOWELS = frozenset("аеиоуыэюя")
_EN_VOWELS = frozenset("aeiouy")


def words(text: str) -> list[str]:
    """The words of ``text``, lower-cased and folded: Latin letters lose their accents
    (café -> cafe), ``ё`` is ``е``, digits kept; words longer than :data:`MAX_WORD` are
    dropped."""
    out = []
    for raw in _WORD.findall(text.lower()):
        word = _fold(raw)
        if word and len(word) <= MAX_WORD:
            out.append(word)
    return out


def _fold(word: str) -> str:
    if word.isascii():
        return word
    if _CYRILLIC.search(word):
        # ё is е in Russian text as typed; й stays (its endings -ой/-ий/-ей matter to
        # the stemmer; FTS5's tokenizer then folds the stems of both sides alike)
        return word.replace("ё", "е")
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@functools.lru_cache(maxsize=65_536)  # a knowledge base reuses its words endlessly
def stem(word: str) -> str:
    """The stem of one folded word (from :func:`words`): Russian if it has a Cyrillic
    letter, else English; numbers and short words unchanged."""
    if _CYRILLIC.search(word):
        return _stem_ru(word)
    if word.isascii() and word.isalpha():
        return _stem_en(word)
    return word


def _stem_en(word: str) -> str:
    if len(word) <= 3:
        return word
    if word.endswith("'s"):
        word = word[:-2]
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "i"
    elif word.endswith(("sses", "xes", "zes", "ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ingly", "edly", "ing", "ed", "ly"):
        if word.endswith(suffix):
            base = word[: -len(suffix)]
            if len(base) >= 3 and any(c in _EN_VOWELS for c in base):
                word = base
                if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                    word = word[:-1]  # stopped -> stopp -> stop
            break
    if word.endswith("y") and len(word) > 3:
        word = word[:-1] + "i"  # policy / policies -> polici
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]  # charge / charged / charging -> charg
    return word


def _classes(
    group_1: tuple[str, ...], group_2: tuple[str, ...] = ()
) -> tuple[tuple[str, bool], ...]:
    """One ending class, longest first: ``(ending, only after а/я)``."""
    both = [(e, True) for e in group_1] + [(e, False) for e in group_2]
    return tuple(sorted(both, key=lambda c: len(c[0]), reverse=True))


_RU_GERUND = _classes(_RU_GERUND_1, _RU_GERUND_2)
_RU_ADJECTIVAL = _classes((), _RU_ADJECTIVE)
_RU_PARTICIPLE = _classes(_RU_PARTICIPLE_1, _RU_PARTICIPLE_2)
_RU_VERB = _classes(_RU_VERB_1, _RU_VERB_2)
_RU_NOUNS = _classes((), _RU_NOUN)


def _strip(rv: str, endings: tuple[tuple[str, bool], ...]) -> str | None:
    """``rv`` without its longest ending of the class, or None when it has none."""
    for ending, after_a in endings:
        if rv.endswith(ending) and len(rv) > len(ending):
            if after_a and rv[-len(ending) - 1] not in "ая":
                continue
            return rv[: -len(ending)]
    return None


def _stem_ru(word: str) -> str:
    # RV: the part after the first vowel; endings are only taken from there, so a short
    # word keeps its root ("мы", "дом"). Then Snowball's step 1 (a perfective gerund;
    # else the reflexive and one of adjectival / verb / noun), step 2 (a final и) and
    # step 4 (нн -> н, a final ь); the derivational -ость of step 3 stays.
    start = next((i + 1 for i, c in enumerate(word) if c in _RU_VOWELS), len(word))
    head, rv = word[:start], word[start:]
    stripped = _strip(rv, _RU_GERUND)
    if stripped is None:
        for ending in _RU_REFLEXIVE:
            if rv.endswith(ending):
                rv = rv[: -len(ending)]
                break
        stripped = _strip(rv, _RU_ADJECTIVAL)
        if stripped is not None:
            stripped = _strip(stripped, _RU_PARTICIPLE) or stripped
        else:
            stripped = _strip(rv, _RU_VERB)
            if stripped is None:
                stripped = _strip(rv, _RU_NOUNS)
    rv = rv if stripped is None else stripped
    if rv.endswith("и"):
        rv = rv[:-1]
    if rv.endswith(("нн", "ь")):  # нн -> н; a final ь goes
        rv = rv[:-1]
    return head + rv


def stemmed_text(text: str) -> str:
    """``text`` as its stems, space-separated: what the SQLite index reads."""
    return " ".join(stem(w) for w in words(text))


def query_words(query: str) -> list[str]:
    """The searchable words of a query: folded, stop words left out (unless nothing else
    is left), duplicates once, at most :data:`MAX_QUERY_TERMS`. No operators survive:
    only letters and digits."""
    found = words(query)
    kept = [w for w in found if w not in _EN_STOP and w not in _RU_STOP] or found
    out: list[str] = []
    for word in kept:
        if word not in out:
            out.append(word)
    return out[:MAX_QUERY_TERMS]


def fts5_match(terms: Sequence[str], *, any_term: bool = False) -> str:
    """An FTS5 MATCH expression for stemmed ``terms``: every term (``any_term``: one of
    them). Each term is a quoted string, so no FTS5 syntax can come from the user."""
    quoted = ['"' + term.replace('"', "") + '"' for term in terms]
    return (" OR " if any_term else " ").join(quoted)


def websearch_text(terms: Sequence[str], *, any_term: bool = False) -> str:
    """Text for PostgreSQL's ``websearch_to_tsquery``: every word, or one of them."""
    return (" or " if any_term else " ").join(terms)


_FENCE = re.compile(r"^\s*(```|~~~).*$", re.MULTILINE)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]*)>")
_MARKS = re.compile(r"^\s{0,3}(#{1,6}|>+|[-*+]|\d+[.)])\s+|[*_`~]+", re.MULTILINE)
_SPACES = re.compile(r"\s+")


def plain_text(markdown: str) -> str:
    """Markdown as readable plain text (for snippets and the text an agent inserts):
    link and image syntax reduced to their words, heading/list/quote marks and emphasis
    dropped, whitespace collapsed."""
    text = _FENCE.sub("", markdown)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _MARKS.sub("", text)
    return _SPACES.sub(" ", text).strip()


@functools.lru_cache(maxsize=65_536)
def _token_stems(token: str) -> frozenset[str]:
    return frozenset(stem(w) for w in words(token))


_NONE: frozenset[str] = frozenset()


def _hits(token: str, wanted: set[str]) -> frozenset[str]:
    return _token_stems(token) & wanted


def snippet(
    text: str, terms: Iterable[str], *, width: int = 30, max_chars: int = 240
) -> list[tuple[str, bool]]:
    """The part of plain ``text`` around the query: the window of ``width`` words with
    the most distinct stemmed ``terms`` in it, as ``(piece, is_match)`` pairs, so a page
    can mark the matches without any HTML coming from here. Text of no match: its start.
    """
    wanted = set(terms)
    tokens = [m.group() for m in re.finditer(r"\S+", text)][:20_000]
    if not tokens:
        return []
    # Only tokens holding a stem's beginning are stemmed: a regex scan in C, where
    # stemming every word of a long body would cost more than the search itself.
    prefixes = sorted({w[: max(1, len(w) - 1)] for w in wanted}, key=len, reverse=True)
    likely = re.compile("|".join(map(re.escape, prefixes))) if prefixes else None
    found = [
        _hits(t, wanted) if likely and likely.search(t.lower().replace("ё", "е")) else _NONE
        for t in tokens
    ]
    best, best_score = 0, 0
    if wanted:
        marked = [i for i, f in enumerate(found) if f]
        for start in marked:  # the best window starts at a match
            score = len(set().union(*found[start : start + width]))
            if score > best_score:
                best, best_score = start, score
            if best_score == len(wanted):
                break
    # start a little before the first hit, so the match has context
    first = next((i for i in range(best, min(best + width, len(tokens))) if found[i]), best)
    begin = max(0, min(best, first - 5))
    end = min(len(tokens), begin + width)
    pieces: list[tuple[str, bool]] = [("… ", False)] if begin > 0 else []
    used = 0
    for index in range(begin, end):
        piece = tokens[index]
        if used + len(piece) > max_chars:
            end = index
            break
        used += len(piece) + 1
        if found[index]:
            pieces.append((piece, True))
            piece = ""
        if index + 1 < end:
            piece += " "
        if piece:
            if pieces and not pieces[-1][1]:
                pieces[-1] = (pieces[-1][0] + piece, False)
            else:
                pieces.append((piece, False))
    if end < len(tokens):
        if pieces and not pieces[-1][1]:
            pieces[-1] = (pieces[-1][0].rstrip() + " …", False)
        else:
            pieces.append((" …", False))
    return pieces

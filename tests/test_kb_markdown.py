"""Article Markdown to HTML: what a hostile author writes never becomes script, an event
handler, an image or a javascript:/data: link — checked by parsing the output, for the
known tricks and for generated mixtures of them."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_console.kb_markdown import render, safe_link

ALLOWED_TAGS = {
    "p", "a", "em", "strong", "code", "pre", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5",
    "h6", "blockquote", "hr", "br", "table", "thead", "tbody", "tr", "th", "td", "s",
}  # fmt: skip
ALLOWED_ATTRS = {"href", "title", "rel", "target", "style", "start"}


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def assert_safe(html: str) -> None:
    parser = Elements()
    parser.feed(html)
    for tag, attrs in parser.found:
        assert tag in ALLOWED_TAGS, (tag, html)
        assert set(attrs) <= ALLOWED_ATTRS, (attrs, html)
        if tag == "a":
            assert (attrs["href"] or "").startswith(("http://", "https://", "mailto:")), html
            assert attrs["rel"] == "noopener noreferrer nofollow"
        style = attrs.get("style") or ""
        assert style in ("", "text-align:left", "text-align:center", "text-align:right"), html


HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](jav&#x09;ascript:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "[x](file:///etc/passwd)",
    "[x](//evil.example/a)",
    "<javascript:alert(1)>",
    "![x](https://evil.example/pixel.png)",
    '![x](x" onerror="alert(1))',
    "[ref]\n\n[ref]: javascript:alert(1)",
    '[x](https://ok.example/"onmouseover="alert(1))',
    "<div onclick=alert(1)>text</div>",
    "```\n<script>alert(1)</script>\n```",
    "<iframe src=https://evil.example></iframe>",
    "<!-- <script>alert(1)</script> -->",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_markdown_renders_as_harmless_html(source: str) -> None:
    html = render(source)
    assert_safe(html)
    lowered = html.lower()
    assert "<script" not in lowered and "<img" not in lowered and "<iframe" not in lowered
    assert 'href="javascript' not in lowered and 'href="data' not in lowered


def test_ordinary_articles_keep_their_formatting() -> None:
    html = render(
        "# Refunds\n\n1. Open the **order**\n2. Press *Refund*\n\n"
        "See [the policy](https://example.com/refunds) or <mailto:help@example.com>.\n\n"
        "| Days | Card |\n|---|---|\n| 3-5 | Visa |\n\n`code` and ~~old~~"
    )
    assert_safe(html)
    assert "<h1>Refunds</h1>" in html and "<strong>order</strong>" in html
    assert '<a href="https://example.com/refunds"' in html
    assert 'href="mailto:help@example.com"' in html
    assert "<table>" in html and "<s>old</s>" in html


def test_the_link_validator_allows_only_web_and_mail() -> None:
    assert safe_link("https://a.example") and safe_link("HTTP://a.example")
    assert safe_link("mailto:a@b.example")
    for bad in ("javascript:x", " javascript:x", "java\nscript:x", "data:x", "/local", "#top"):
        assert not safe_link(bad), bad


FRAGMENTS = st.sampled_from(
    [
        "<", ">", "script", "img", "onerror=", "javascript:", "data:", "](", "[", ")", "!",
        '"', "'", "&#", "x09;", "\n", "\t", " ", "`", "*", "a", "https://", "alert(1)",
        "<a href=", "</", "=", "\\", "&lt;", "%0a", "<svg/onload=", "[r]: ", "\n\n",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(FRAGMENTS, max_size=40).map("".join))
def test_no_mixture_of_tricks_gets_through(source: str) -> None:
    assert_safe(render(source))

"""Knowledge-base articles as HTML, safely: the one place Markdown becomes markup.

Theory of operation: markdown-it-py in its CommonMark preset with raw HTML switched off
(``<script>`` in an article is shown as text, escaped), no images (an ``<img>`` is a
request to anywhere a reader's browser makes, and a place for ``onerror``), and a link
validator that allows only ``http:``, ``https:`` and ``mailto:`` — after markdown-it's
own normalisation, so ``JaVaScRiPt:``, entity-encoded or tab-split schemes are judged
as the browser would read them. Links open with ``rel="noopener noreferrer nofollow"``.
Rendering happens on the server (``GET /api/kb/articles/{id}`` sends ``html``); the
pages insert that HTML and nothing else they are sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

__all__ = ["SAFE_SCHEMES", "render", "safe_link"]

SAFE_SCHEMES = ("http:", "https:", "mailto:")
_CONTROL = "".join(chr(c) for c in range(0x21))  # what browsers strip from a scheme


def safe_link(url: str) -> bool:
    """Whether a (normalised) link target may be a link: an absolute http, https or
    mailto URL. Relative links are refused too: an article is read on several pages."""
    scheme = "".join(c for c in url if c not in _CONTROL).lower()
    return scheme.startswith(SAFE_SCHEMES)


def _link_open(
    renderer: Any, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    token.attrSet("rel", "noopener noreferrer nofollow")
    token.attrSet("target", "_blank")
    return str(renderer.renderToken(tokens, idx, options, env))


def _build() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable(["image", "html_block", "html_inline"])
    md.enable(["table", "strikethrough"])  # off in the CommonMark preset; harmless
    md.validateLink = safe_link  # type: ignore[method-assign]
    md.add_render_rule("link_open", _link_open)
    return md


_MD = _build()


def render(markdown: str) -> str:
    """The article body as HTML: no raw HTML, no images, only http/https/mailto links."""
    return _MD.render(markdown)

"""The demo's knowledge base: thirty articles in English and Russian, seeded once, that
the demo's agents find by the words a caller uses."""

from __future__ import annotations

from pathlib import Path

from crm_lookup.store import open_store
from switchboard.demo_kb import ARTICLES, seed_knowledge


async def test_the_demo_articles_are_seeded_once_and_found(tmp_path: Path) -> None:
    store = await open_store(tmp_path / "demo.sqlite3")
    try:
        assert await seed_knowledge(store) == len(ARTICLES) == 30
        assert await seed_knowledge(store) == 0
        languages = [a[2] for a in ARTICLES]
        assert languages.count("ru") >= 5 and languages.count("en") >= 20
        kb = store.knowledge
        assert (await kb.search("refund card"))[0].article.title == "Refunding a card payment"
        assert (await kb.search("router connect"))[0].article.title == "The router does not connect"
        assert (await kb.search("вернуть деньги", language="ru"))[0].article.title == (
            "Возврат денег на карту"
        )
        popular = await kb.search("")
        assert popular[0].article.title == "Refunding a card payment"
        assert popular[0].article.uses == 14 and popular[0].article.helpful == 2
    finally:
        await store.close()

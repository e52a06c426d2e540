"""The knowledge base through the real console server on 127.0.0.1: a supervisor writes
(audited), an agent searches, reads the rendered article, votes and records a use on a
contact; retired articles leave the search; a hostile article renders harmless."""

from __future__ import annotations

from typing import Any

from tests.console_fakes import World, seed


async def test_the_article_life_cycle_over_http(tmp_path: Any) -> None:
    world = await World().start(tmp_path)
    try:
        ids = await seed(world)
        sue = await world.client("sue")
        alice = await world.client("alice")
        resp = await sue.request(
            "POST",
            "/api/kb/articles",
            {
                "title": "Сброс пароля",
                "body": "Отправьте ссылку для **сброса** пароля.\n\n<script>alert(1)</script>",
                "language": "ru",
                "tags": "аккаунт, пароль",
            },
        )
        assert resp.status == 201, await resp.text()
        article = await resp.json()
        assert article["owner"] == "sue" and article["tags"] == ["аккаунт", "пароль"]
        assert "<strong>сброса</strong>" in article["html"]
        assert "<script" not in article["html"] and "&lt;script&gt;" in article["html"]

        resp = await alice.request("GET", "/api/kb/search?q=пароли&lang=ru")
        results = (await resp.json())["results"]
        assert [r["id"] for r in results] == [article["id"]]
        assert any(p["match"] and "пароля" in p["text"] for p in results[0]["snippet"])
        resp = await alice.request("GET", "/api/kb/search?q=пароли&lang=en")
        assert (await resp.json())["results"] == []

        url = f"/api/kb/articles/{article['id']}"
        resp = await alice.request("POST", url + "/helpful", {"helpful": True})
        voted = await resp.json()
        assert (voted["helpful"], voted["my_vote"]) == (1, True)
        resp = await alice.request("POST", url + "/used", {"contact_id": ids["contact"]})
        assert (await resp.json())["uses"] == 1
        used = await world.store.knowledge.uses_of_contact(int(ids["contact"]))
        assert [(u["article_id"], u["username"]) for u in used] == [(article["id"], "alice")]
        mine = await (await alice.request("GET", url)).json()
        assert mine["my_vote"] is True and mine["text"].startswith("Отправьте ссылку")

        resp = await alice.request("PUT", url, {"title": "x"})
        assert resp.status == 403
        resp = await sue.request("PUT", url, {"title": "Как сбросить пароль", "reviewed": True})
        assert (await resp.json())["title"] == "Как сбросить пароль"
        resp = await sue.request("POST", url + "/retire", {})
        assert (await resp.json())["retired"] is True
        resp = await alice.request("GET", "/api/kb/search?q=пароль")
        assert article["id"] not in [r["id"] for r in (await resp.json())["results"]]
        resp = await alice.request("POST", url + "/helpful", {"helpful": False})
        assert resp.status == 409

        audit = [(e.actor, e.action, e.target) for e in await world.store.audit.list()]
        target = str(article["id"])
        for action in ("kb.add", "kb.update", "kb.retire"):
            assert ("sue", action, target) in audit
        update = next(e for e in await world.store.audit.list() if e.action == "kb.update")
        assert update.details["changed"] == ["title"] and update.details["reviewed"] is True
    finally:
        await world.close()


async def test_the_pages_carry_the_panel_and_the_editor_by_role(tmp_path: Any) -> None:
    world = await World().start(tmp_path)
    try:
        await seed(world)
        alice = await world.client("alice")
        sue = await world.client("sue")
        agent_page = await (await alice.request("GET", "/agent")).text()
        assert 'id="btn-kb"' in agent_page and "/static/kb.js" in agent_page
        page = await (await alice.request("GET", "/kb")).text()
        assert 'data-editing="false"' in page and 'id="kb-editor"' not in page
        page = await (await sue.request("GET", "/kb")).text()
        assert 'data-editing="true"' in page and 'id="kb-editor"' in page
    finally:
        await world.close()

"""The admin page in a real browser (issue 13): users with role, agent, last sign-in and
live state; add, edit, reset the password, disable (the user's open page goes to /login
at once), delete through accessible dialogs; the page in Russian; axe-core on /admin and
/login; screenshots."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser_kit import WAIT_MS, assert_accessible, screenshots, signed_in
from tests.console_fakes import PASSWORD

pytestmark = pytest.mark.browser


async def admin_page(browser: Any, world: Any) -> Any:
    from playwright.async_api import expect

    page = await signed_in(browser, world.origin, "root", password=PASSWORD, live=False)
    await page.goto(world.origin + "/admin")
    await expect(page.locator('.user-row[data-user="alice"]')).to_be_visible(timeout=WAIT_MS)
    return page


async def test_users_are_listed_with_agent_last_login_and_state(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    world.center.agents["1001"]["state"] = "ready"
    page = await admin_page(browser, world)
    alice = page.locator('.user-row[data-user="alice"]')
    await expect(alice.locator(".agent")).to_have_text("Alice Agent (1001)")
    await expect(alice.locator(".agent-state")).to_have_text("Ready")
    await expect(alice.locator(".last-login")).to_have_text("Never")
    root = page.locator('.user-row[data-user="root"]')
    await expect(root.locator(".last-login")).not_to_have_text("Never")  # root just signed in
    await expect(root.locator("button.disable")).to_be_disabled()  # not oneself
    # A state change reaches the table over the websocket, without a reload.
    await expect(page.locator("#conn")).to_have_class("conn on", timeout=WAIT_MS)
    await page.locator('.user-row[data-user="bob"] button.edit').focus()
    await world.center.set_agent_state("1002", "ready")
    bob = page.locator('.user-row[data-user="bob"]')
    await expect(bob.locator(".agent-state")).to_have_text("Ready", timeout=WAIT_MS)
    assert await bob.locator("button.edit").evaluate("b => b === document.activeElement")
    await assert_accessible(page, "/admin")
    await screenshots(page, "admin")
    assert page.errors == []


async def test_add_edit_reset_disable_and_delete(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    page = await admin_page(browser, world)
    await page.fill("#new-username", "nina")
    await page.fill("#new-password", "a long enough secret")
    await page.select_option("#new-role", "agent")
    await page.fill("#new-agent-id", "1003")
    await page.click("#add-user button[type=submit]")
    nina = page.locator('.user-row[data-user="nina"]')
    await expect(nina.locator(".agent")).to_have_text("Carol Agent (1003)", timeout=WAIT_MS)

    # A rule broken in the dialog is shown in the dialog, and nothing changes.
    await nina.locator("button.edit").click()
    await expect(page.locator("#edit-dialog")).to_be_visible()
    await page.select_option("#edit-role", "agent")
    await page.fill("#edit-agent-id", "")
    await page.click("#edit-save")
    await expect(page.locator("#edit-error")).to_contain_text("agent id")
    await page.select_option("#edit-role", "supervisor")
    await page.click("#edit-save")
    await expect(page.locator("#edit-dialog")).to_be_hidden()
    await expect(nina.locator(".role")).to_have_text("Supervisor", timeout=WAIT_MS)
    row = await world.store.users.get_by_username("nina")
    assert row is not None and (row.role, row.agent_id) == ("supervisor", None)

    # Alice is signed in elsewhere; a new password ends her session there at once.
    alice = await signed_in(browser, world.origin, "alice", password=PASSWORD)
    await page.locator('.user-row[data-user="alice"] button.set-password').click()
    await page.fill("#reset-password", "short")
    await page.click("#password-save")
    await expect(page.locator("#password-error")).not_to_be_empty()
    await page.fill("#reset-password", "another long secret")
    await page.keyboard.press("Enter")
    await expect(page.locator("#password-dialog")).to_be_hidden(timeout=WAIT_MS)
    await alice.wait_for_url("**/login", timeout=WAIT_MS)

    # A page gone stale (sue deleted meanwhile by another admin): the refusal is said in
    # her row, next to the button.
    await world.store.users.delete("sue")
    await page.locator('.user-row[data-user="sue"] button.disable').click()
    await expect(page.locator('.user-row[data-user="sue"] .row-error')).to_contain_text(
        "sue", timeout=WAIT_MS
    )
    await expect(page.locator("#action-error")).to_be_empty()

    # Bob's open console goes to the login page the moment he is disabled.
    bob_page = await signed_in(browser, world.origin, "bob", password=PASSWORD)
    await page.locator('.user-row[data-user="bob"] button.disable').click()
    await expect(page.locator('.user-row[data-user="bob"] .status')).to_have_text(
        "Disabled", timeout=WAIT_MS
    )
    await bob_page.wait_for_url("**/login", timeout=WAIT_MS)
    bob = await world.store.users.get_by_username("bob")
    assert bob is not None and bob.disabled

    delete = page.locator('.user-row[data-user="nina"] button.delete')
    await delete.click()
    await expect(page.locator("#delete-dialog")).to_be_visible()
    await page.keyboard.press("Escape")  # a dialog closes with Escape; focus goes back
    await expect(page.locator("#delete-dialog")).to_be_hidden()
    assert await delete.evaluate("b => b === document.activeElement")
    await delete.click()
    await page.click("#delete-confirm")
    await expect(page.locator('.user-row[data-user="nina"]')).to_have_count(0, timeout=WAIT_MS)
    assert await world.store.users.get_by_username("nina") is None
    assert page.errors == []


async def test_the_language_is_a_per_user_setting(world: Any, browser: Any) -> None:
    from playwright.async_api import expect

    page = await admin_page(browser, world)
    await page.select_option("#language", "ru")
    await expect(page.locator("#users-title")).to_have_text("Пользователи пульта", timeout=WAIT_MS)
    assert await page.get_attribute("html", "lang") == "ru"
    root = await world.store.users.get_by_username("root")
    assert root is not None and root.language == "ru"
    await assert_accessible(page, "/admin in Russian")
    await screenshots(page, "admin-ru")
    # Another browser of the same user gets Russian too; another user keeps English.
    again = await signed_in(browser, world.origin, "root", password=PASSWORD, live=False)
    await again.goto(world.origin + "/admin")
    await expect(again.locator("#users-title")).to_have_text("Пользователи пульта")
    sue = await signed_in(browser, world.origin, "sue", password=PASSWORD, live=False)
    assert await sue.get_attribute("html", "lang") == "en"
    # The picker is in every signed-in page's topbar (base.html), not only the admin's.
    await expect(sue.locator("#language")).to_have_value("en")
    alice = await signed_in(browser, world.origin, "alice", password=PASSWORD)
    assert "/agent" in alice.url
    await alice.select_option("#language", "ru")
    await expect(alice.locator("html")).to_have_attribute("lang", "ru", timeout=WAIT_MS)
    row = await world.store.users.get_by_username("alice")
    assert row is not None and row.language == "ru"


async def test_the_login_page_follows_the_browser_and_is_accessible(
    world: Any, browser: Any
) -> None:
    from playwright.async_api import expect

    context = await browser.new_context(
        locale="ru-RU", extra_http_headers={"Accept-Language": "ru"}
    )
    page = await context.new_page()
    await page.goto(world.origin + "/login")
    await expect(page.locator("h1")).to_have_text("Вход")
    await assert_accessible(page, "/login in Russian")
    await page.fill("#username", "root")
    await page.fill("#password", "wrong password")
    await page.click("#login-submit")
    await expect(page.locator("#login-error")).to_have_text("Неверное имя пользователя или пароль.")
    english = await browser.new_context(locale="en-GB")
    login = await english.new_page()
    await login.goto(world.origin + "/login")
    await assert_accessible(login, "/login")
    await screenshots(login, "login")

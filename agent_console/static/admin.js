"use strict";
// The admin page: console users (list with agent and live state, add, edit role and agent
// id, disable / enable, new password, delete). Every change ends that user's sessions and
// websockets on the server at once. Dialogs are native <dialog>s: focus moves in, stays in,
// Escape closes, and focus returns to the button that opened it.
(() => {
  const { api, el, clear, t, label, when, showError, openDialog } = SB;
  const $ = (id) => document.getElementById(id);
  const userPath = (name) => "/api/admin/users/" + encodeURIComponent(name);
  const me = ($("users-title").dataset.me || "").toLowerCase();
  const live = new Map(); // agent id -> its live state code

  const say = (message) => { $("admin-status").textContent = message || ""; };

  // One admin action: errors go to ``where`` (the dialog's or the page's slot); the table is
  // reloaded after a change, and the dialog closes only when the change was made.
  async function act(method, path, body, where, done, dialog) {
    showError("", where);
    try {
      await api(method, path, body);
      if (dialog) dialog.close();
      say(done);
      await load();
    } catch (e) { showError(e.message, where); }
  }

  let current = null;
  function edit(u, button) {
    current = u;
    $("edit-role").value = u.role;
    $("edit-agent-id").value = u.agent_id || "";
    openDialog($("edit-dialog"), t("admin.edit_title", { user: u.username }), button);
    $("edit-role").focus();
  }
  $("edit-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = { role: $("edit-role").value, agent_id: $("edit-agent-id").value.trim() || null };
    act("PATCH", userPath(current.username), body, "edit-error",
      t("admin.done_edit", { user: current.username }), $("edit-dialog"));
  });
  function resetPassword(u, button) {
    current = u;
    $("reset-password").value = "";
    openDialog($("password-dialog"), t("admin.password_title", { user: u.username }), button);
    $("reset-password").focus();
  }
  $("password-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act("PUT", userPath(current.username) + "/password", { password: $("reset-password").value },
      "password-error", t("admin.done_password", { user: current.username }), $("password-dialog"));
  });
  function remove(u, button) {
    current = u;
    openDialog($("delete-dialog"), t("admin.delete_title", { user: u.username }), button);
    $("delete-confirm").focus();
  }
  $("delete-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act("DELETE", userPath(current.username), undefined, "delete-error",
      t("admin.done_delete", { user: current.username }), $("delete-dialog"));
  });

  function actions(u) {
    const self = u.username.toLowerCase() === me;
    const button = (cls, key, onclick, disabled) => {
      const b = el("button", { type: "button", class: "small " + cls,
        "aria-label": t(key) + " — " + u.username }, t(key));
      b.addEventListener("click", () => onclick(u, b));
      b.disabled = Boolean(disabled);
      return b;
    };
    // A refused disable / enable is said in the row, next to the button.
    const slot = "row-error-" + u.username;
    const toggle = u.disabled
      ? button("enable", "admin.enable", () => act("POST", userPath(u.username) + "/enable", undefined,
        slot, t("admin.done_enable", { user: u.username })))
      : button("disable", "admin.disable", () => act("POST", userPath(u.username) + "/disable", undefined,
        slot, t("admin.done_disable", { user: u.username })), self);
    return el("td", { class: "actions" },
      button("edit", "admin.edit", edit), toggle,
      button("set-password", "admin.reset_password", resetPassword),
      button("danger delete", "admin.delete", remove, self),
      el("span", { id: slot, class: "error row-error", role: "alert" }));
  }

  function ago(epoch) {
    if (!epoch) return t("admin.never");
    return when(epoch);
  }

  async function load() {
    if (document.querySelector("dialog[open]")) return; // never rebuild under an open dialog
    try {
      const data = await api("GET", "/api/admin/users");
      const body = clear($("users"));
      for (const u of data.users) {
        const agent = u.agent_id ? (u.agent_name ? u.agent_name + " (" + u.agent_id + ")" : u.agent_id) : "—";
        if (u.agent_id && u.agent_state) live.set(u.agent_id, live.get(u.agent_id) || u.agent_state);
        const code = u.agent_id ? live.get(u.agent_id) : null;
        const state = code ? label("state", code) : "—";
        body.append(el("tr", { class: "user-row" + (u.disabled ? " disabled" : ""),
                              dataset: { user: u.username, agent: u.agent_id || "" } },
          el("th", { scope: "row" }, u.username), el("td", { class: "role" }, label("role", u.role)),
          el("td", { class: "agent" }, agent), el("td", { class: "last-login" }, ago(u.last_login)),
          el("td", { class: "agent-state" }, state),
          el("td", { class: "status" }, u.disabled ? t("admin.disabled") : t("admin.active")), actions(u)));
      }
      if (!body.firstChild) body.append(el("tr", {}, el("td", { colspan: "7", class: "empty" }, t("admin.no_users"))));
    } catch (e) { showError(e.message); }
  }

  $("add-user").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showError("", "add-error");
    const body = { username: $("new-username").value.trim(), password: $("new-password").value,
                   role: $("new-role").value };
    if ($("new-agent-id").value.trim()) body.agent_id = $("new-agent-id").value.trim();
    try {
      await api("POST", "/api/admin/users", body);
      $("add-user").reset();
      say(t("admin.done_add", { user: body.username }));
      await load();
      $("new-username").focus();
    } catch (e) { showError(e.message, "add-error"); }
  });
  // Agents' states change under the admin's eyes: they come over the websocket (admins get
  // every agent_state) and only the state cells change. The table is not rebuilt on a
  // timer, which would take the keyboard focus away from a row's buttons.
  function showState(agentId, code) {
    live.set(agentId, code);
    for (const row of document.querySelectorAll("#users .user-row")) {
      if (row.dataset.agent === agentId) row.querySelector(".agent-state").textContent = label("state", code);
    }
  }
  SB.connect((msg) => {
    if (msg.type === "snapshot") for (const a of msg.agents || []) showState(a.agent_id, a.state);
    else if (msg.type === "agent_state" && msg.agent) showState(msg.agent_id, msg.agent.state);
  });
  load();
})();

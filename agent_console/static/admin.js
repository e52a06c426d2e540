"use strict";
// Admin panel on the wallboard: console users (list, add, disable / enable, new password,
// delete). Every change ends that user's sessions and websockets on the server.
(() => {
  const { api, el, clear, showError } = SB;
  const $ = (id) => document.getElementById(id);
  const userPath = (name) => "/api/admin/users/" + encodeURIComponent(name);

  async function act(method, path, body) {
    showError("");
    try {
      await api(method, path, body);
      await load();
    } catch (e) { showError(e.message); }
  }

  function actions(u) {
    const toggle = u.disabled
      ? el("button", { class: "small enable", type: "button", onclick: () => act("POST", userPath(u.username) + "/enable") }, "Enable")
      : el("button", { class: "small disable", type: "button", onclick: () => act("POST", userPath(u.username) + "/disable") }, "Disable");
    const password = el("input", { class: "new-password", type: "password", placeholder: "new password",
                                   maxlength: "1024", autocomplete: "new-password" });
    const setPassword = el("button", { class: "small set-password", type: "button", onclick: () => {
      act("PUT", userPath(u.username) + "/password", { password: password.value });
    } }, "Set password");
    const remove = el("button", { class: "small danger delete", type: "button", onclick: () => {
      if (window.confirm("Delete user " + u.username + "? Their sessions end now.")) act("DELETE", userPath(u.username));
    } }, "Delete");
    return el("td", { class: "actions" }, toggle, password, setPassword, remove);
  }

  async function load() {
    try {
      const data = await api("GET", "/api/admin/users");
      const body = clear($("users"));
      for (const u of data.users) {
        body.append(el("tr", { class: "user-row" + (u.disabled ? " disabled" : ""), dataset: { user: u.username } },
          el("td", {}, u.username), el("td", {}, u.role), el("td", {}, u.agent_id || ""),
          el("td", { class: "status" }, u.disabled ? "disabled" : "active"), actions(u)));
      }
    } catch (e) { showError(e.message); }
  }

  $("add-user").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showError("");
    const body = { username: $("new-username").value.trim(), password: $("new-password").value,
                   role: $("new-role").value };
    if ($("new-agent-id").value.trim()) body.agent_id = $("new-agent-id").value.trim();
    try {
      await api("POST", "/api/admin/users", body);
      $("add-user").reset();
      await load();
    } catch (e) { showError(e.message); }
  });
  load();
})();

"use strict";
// Admin panel on the wallboard: console users (list, add).
(() => {
  const { api, el, clear, showError } = SB;
  const $ = (id) => document.getElementById(id);

  async function load() {
    try {
      const data = await api("GET", "/api/admin/users");
      const body = clear($("users"));
      for (const u of data.users) {
        body.append(el("tr", { class: "user-row", dataset: { user: u.username } },
          el("td", {}, u.username), el("td", {}, u.role), el("td", {}, u.agent_id || "")));
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

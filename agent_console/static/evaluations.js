"use strict";
// The evaluations page (/evaluations): an agent's own quality reviews; a supervisor's
// queues' (every one for an admin), filtered by period and agent.
(() => {
  const { api, el, clear, t, when, showError } = SB;
  const $ = (id) => document.getElementById(id);
  const supervising = $("evaluations-page").dataset.supervising === "true";
  const day = (d) => d.toISOString().slice(0, 10);

  const today = new Date();
  $("filter-to").value = day(today);
  $("filter-from").value = day(new Date(today.getTime() - 30 * 86400 * 1000));

  function row(e) {
    const cells = [
      el("td", {}, when(e.contact_at)),
      el("td", {}, el("a", { href: "/contacts/" + encodeURIComponent(e.contact_id) },
        t("evaluations.open_contact", { id: e.contact_id }))),
    ];
    if (supervising) cells.push(el("td", {}, e.agent_name || e.agent_id));
    cells.push(
      el("td", {}, e.form_name || e.form_id),
      el("td", { class: "num" }, e.score === null ? t("evaluation.no_score") : Number(e.score).toFixed(1)),
      el("td", {}, e.evaluator),
      el("td", { class: "comments" }, e.comments || "—"));
    return el("tr", { dataset: { evaluation: String(e.id) } }, ...cells);
  }

  function fieldError(field, message) {
    const slot = field && document.getElementById("filter-" + field + "-error");
    if (slot) slot.textContent = message;
    else showError(message);
  }

  async function load() {
    showError("");
    for (const slot of document.querySelectorAll(".evaluations-filter .error")) slot.textContent = "";
    const params = new URLSearchParams();
    if ($("filter-from").value) params.set("from", $("filter-from").value);
    if ($("filter-to").value) params.set("to", $("filter-to").value);
    if (supervising && $("filter-agent").value) params.set("agent", $("filter-agent").value);
    const rows = clear($("evaluations-rows"));
    try {
      const data = await api("GET", "/api/evaluations?" + params.toString());
      const list = data.evaluations || [];
      for (const e of list) rows.append(row(e));
      const scored = list.filter((e) => e.score !== null);
      const mean = scored.length ? (scored.reduce((s, e) => s + e.score, 0) / scored.length).toFixed(1) : "—";
      $("evaluations-count").textContent = list.length
        ? t("evaluations.count", { count: list.length, mean })
        : t("evaluations.empty");
    } catch (e) {
      fieldError(e.field, e.message);
    }
  }

  async function loadAgents() {
    try {
      const agents = (await api("GET", "/api/agents/directory")).agents || [];
      const select = $("filter-agent");
      for (const a of agents) select.append(el("option", { value: a.agent_id }, a.name || a.agent_id));
    } catch (e) { showError(e.message); }
  }

  $("evaluations-filter").addEventListener("submit", (event) => { event.preventDefault(); load(); });
  if (supervising) loadAgents();
  load();
})();

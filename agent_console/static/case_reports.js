"use strict";
// The reports page's "Cases and SLA" section (supervisors, admins): cases opened and
// resolved, average first-response and resolution times and SLA breaches per queue,
// category or agent (GET /api/reports/cases).
(() => {
  const { api, el, clear, t, duration, showError } = SB;
  const $ = (id) => document.getElementById(id);
  const heads = { queue: "cases.queue", category: "reports.cases.category", agent: "reports.cases.agent" };

  async function load() {
    showError("", "case-report-error");
    const by = $("case-report-by").value;
    const q = new URLSearchParams({ by });
    if ($("case-report-from").value) q.set("from", $("case-report-from").value);
    if ($("case-report-to").value) q.set("to", $("case-report-to").value);
    const data = await api("GET", "/api/reports/cases?" + q.toString());
    $("case-report-group").textContent = t(heads[by]);
    const rows = clear($("case-report-rows"));
    const time = (s) => (s === null ? "—" : duration(s));
    for (const r of data.rows) {
      rows.append(el("tr", {},
        el("th", { scope: "row" }, r[by] || "—"),
        el("td", {}, String(r.opened)), el("td", {}, String(r.resolved)),
        el("td", {}, time(r.first_response_seconds)), el("td", {}, time(r.resolution_seconds)),
        el("td", {}, String(r.first_response_breaches)), el("td", {}, String(r.resolution_breaches))));
    }
    if (!rows.firstChild) rows.append(el("tr", {}, el("td", { colspan: "7" }, t("reports.cases.none"))));
  }
  $("case-report-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    load().catch((e) => showError(e.message, "case-report-error"));
  });
  load().catch((e) => showError(e.message, "case-report-error"));
})();

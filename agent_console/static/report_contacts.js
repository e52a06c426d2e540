"use strict";
// The drill-down list: the contacts behind one number of a report. The page's URL holds
// the filters (the report row's filter, the measure's outcome, the zone); they show as
// chips, each a link to the same list without it. The list comes from
// GET /api/reports/contacts a page at a time; each contact links to its timeline
// (/contacts/{id}); times are shown in the report's zone (the API gives them in it).
(() => {
  const { api, el, clear, duration, t, has, label, describeStep, showError } = SB;
  const $ = (id) => document.getElementById(id);
  const setup = JSON.parse($("report-config").textContent);
  const PAGE = 50;
  const FILTERS = ["from", "to", "start", "end", "queue", "agent", "channel", "measure", "outcome", "disposition", "customer"];
  const params = new URLSearchParams(location.search);
  const browserZone = (() => { try { return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) { return "UTC"; } })();
  const tz = params.get("tz") || (params.get("zone") === "browser" ? browserZone : setup.site_zone);
  const page = Math.max(1, Math.min(100000, parseInt(params.get("page") || "1", 10) || 1));
  const agentNames = new Map((setup.agents || []).map((a) => [a.id, a.name]));

  function zonedText(value) {
    if (value === null || value === undefined || value === "") return "";
    if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)) return value.slice(0, 19).replace("T", " ");
    const epoch = typeof value === "number" ? value : Number(value);
    if (!isFinite(epoch)) return String(value);
    const parts = {};
    const fmt = new Intl.DateTimeFormat("en-GB", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
    for (const p of fmt.formatToParts(new Date(epoch * 1000))) parts[p.type] = p.value;
    return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
  }

  function filterValue(key, value) {
    switch (key) {
      case "start": case "end": return zonedText(Number(value));
      case "from": case "to": return zonedText(value);
      case "agent": return agentNames.has(value) ? `${agentNames.get(value)} (${value})` : value;
      case "channel": return has("reports.channel." + value) ? t("reports.channel." + value) : value;
      case "outcome": return label("outcome", value);
      case "disposition": return value ? label("disposition", value) : t("reports.no_disposition");
      case "measure": return has("report.measure." + value) ? t("report.measure." + value) : value;
      default: return value;
    }
  }

  const without = (key) => {
    const p = new URLSearchParams(params);
    p.delete(key);
    p.delete("page");
    return "/reports/contacts?" + p.toString();
  };
  function renderChips() {
    const list = clear($("chips"));
    let any = false;
    for (const key of FILTERS) {
      const value = params.get(key);
      if (!value && !(key === "disposition" && params.has(key))) continue;
      any = true;
      const text = t("reports.filter." + key) + ": " + filterValue(key, value);
      list.append(el("li", { class: "filter-chip", dataset: { filter: key } },
        el("span", {}, text),
        el("a", { href: without(key), class: "chip-remove", "aria-label": t("reports.contacts.remove", { filter: text }) }, "×")));
    }
    list.hidden = !any;
    $("no-filters").hidden = any;
  }

  const apiQuery = () => {
    const p = new URLSearchParams();
    for (const key of FILTERS) if (params.get(key) || (key === "disposition" && params.has(key))) p.set(key, params.get(key));
    p.set("tz", tz);
    return p;
  };

  function ivrText(path) {
    if (typeof path === "string") return path;
    if (Array.isArray(path)) return path.map((s) => (typeof s === "string" ? s : describeStep(s))).filter(Boolean).join(" → ");
    return "";
  }

  function row(c) {
    const id = c.contact_id ?? c.id;
    const idText = t("reports.contacts.id", { id });
    return el("tr", { class: "contact-row", dataset: { contact: id } },
      el("th", { scope: "row" }, el("a", { href: `/contacts/${encodeURIComponent(id)}` }, idText)),
      el("td", { class: "when" }, zonedText(c.queued_at || c.arrived_at || c.started_at)),
      el("td", {}, c.queue || ""),
      el("td", {}, c.agent_name || agentNames.get(c.agent_id) || c.agent_id || ""),
      el("td", {}, c.customer_name ? `${c.customer_name} · ${c.caller || ""}` : c.caller || ""),
      el("td", {}, label("outcome", c.outcome)),
      el("td", {}, label("disposition", c.disposition)),
      el("td", { class: "num" }, duration(c.wait_seconds)),
      el("td", { class: "num" }, duration(c.talk_seconds)),
      el("td", { class: "ivr" }, ivrText(c.ivr_path)));
  }

  function pageHref(n) {
    const p = new URLSearchParams(params);
    p.set("page", String(n));
    return "/reports/contacts?" + p.toString();
  }

  async function load() {
    $("report-status").textContent = t("common.loading");
    const query = apiQuery();
    $("export-csv").href = "/api/reports/contacts/export?format=csv&" + query.toString();
    $("export-xlsx").href = "/api/reports/contacts/export?format=xlsx&" + query.toString();
    query.set("limit", String(PAGE));
    query.set("offset", String((page - 1) * PAGE));
    try {
      const answer = await api("GET", "/api/reports/contacts?" + query.toString());
      const contacts = answer.contacts || [];
      const total = typeof answer.total === "number" ? answer.total : contacts.length;
      const body = clear($("contacts"));
      for (const c of contacts) body.append(row(c));
      $("contacts-empty").hidden = contacts.length > 0;
      const first = contacts.length ? (page - 1) * PAGE + 1 : 0;
      const last = (page - 1) * PAGE + contacts.length;
      $("contacts-count").textContent = t("reports.contacts.count", { count: total });
      $("contacts-count").dataset.total = String(total);
      $("page-info").textContent = t("reports.contacts.range", { first, last, total });
      $("page-prev").hidden = page <= 1;
      $("page-prev").href = pageHref(page - 1);
      $("page-next").hidden = last >= total;
      $("page-next").href = pageHref(page + 1);
      $("contacts-caption").textContent = t("reports.contacts.caption_zone", { zone: tz });
      $("report-status").textContent = t("reports.contacts.loaded", { count: contacts.length, total });
    } catch (e) {
      $("report-status").textContent = "";
      showError(t("reports.contacts.failed", { message: e.message }));
    }
  }

  const back = document.referrer ? new URL(document.referrer, location.href) : null;
  if (back && back.origin === location.origin && back.pathname === "/reports") $("back-to-report").href = back.pathname + back.search;
  renderChips();
  load();
})();

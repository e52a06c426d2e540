"use strict";
// Cases with SLA: the list (filters) and one case (its SLA clocks in business hours, the
// timeline of linked contacts, notes and changes; status, priority and assignee).
// Everything a customer or an agent wrote is set as text, never as HTML.
(() => {
  const { api, el, clear, t, label, when, duration, showError } = SB;
  const $ = (id) => document.getElementById(id);
  const number = $("cases-page").dataset.number;
  const say = (message) => { $("case-status-line").textContent = message || ""; };

  function clockText(c) {
    if (!c || c.state === "none") return t("cases.sla.none");
    const left = c.remaining !== null ? duration(c.remaining) : "";
    const words = {
      running: t("cases.sla.running", { left, due: c.due_at ? when(c.due_at) : "" }),
      paused: t("cases.sla.paused", { elapsed: duration(c.elapsed) }),
      met: t("cases.sla.met", { elapsed: duration(c.elapsed) }),
      breached: t("cases.sla.breached", { elapsed: duration(c.elapsed) }),
    };
    return words[c.state] + (c.warning ? " · " + t("cases.sla.warning") : "");
  }

  async function loadList() {
    const q = new URLSearchParams();
    if ($("filter-status").value !== "") q.set("status", $("filter-status").value);
    else q.set("status", "");
    if ($("filter-priority").value) q.set("priority", $("filter-priority").value);
    const data = await api("GET", "/api/cases?" + q.toString());
    const rows = clear($("case-rows"));
    for (const k of data.cases) {
      const sla = k.clock.resolution.state === "none" ? k.clock.first_response : k.clock.resolution;
      rows.append(el("tr", { class: k.clock.resolution.breached || k.clock.first_response.breached ? "breached" : "" },
        el("td", {}, el("a", { href: "/cases/" + encodeURIComponent(k.number) }, k.number)),
        el("td", {}, k.subject),
        el("td", {}, k.customer_name),
        el("td", {}, label("case", k.status)),
        el("td", {}, label("case.priority", k.priority)),
        el("td", {}, k.queue || "—"),
        el("td", {}, clockText(sla))));
    }
    if (!rows.firstChild) rows.append(el("tr", {}, el("td", { colspan: "7" }, t("cases.none"))));
    say(t("cases.count", { n: data.cases.length }));
  }

  function eventText(e) {
    const who = e.actor || "—";
    switch (e.kind) {
      case "created": return t("cases.ev.created", { who });
      case "contact": return t("cases.ev.contact", { who, id: e.contact_id || "" });
      case "note": return t("cases.ev.note", { who });
      case "status": return t("cases.ev.status", { who, from: label("case", e.data.from), to: label("case", e.data.to) });
      case "reopened": return t("cases.ev.reopened", { who });
      case "priority": return t("cases.ev.priority", { who, to: label("case.priority", e.data.to) });
      case "assignee": return t("cases.ev.assignee", { who, to: e.data.to || "—" });
      default: return e.kind;
    }
  }

  let current = null;
  function renderCase(data) {
    const k = data.case;
    current = k;
    $("case-number").textContent = k.number;
    $("case-subject").textContent = k.subject;
    document.title = k.number + " — " + t("app.name");
    const link = $("case-customer");
    link.textContent = k.customer_name;
    link.href = "/customers/" + encodeURIComponent(k.customer_id);
    $("clock-first_response").textContent = clockText(k.clock.first_response);
    $("clock-resolution").textContent = clockText(k.clock.resolution);
    const hours = k.business_hours || {};
    $("clock-hours").textContent = !hours.timezone ? t("cases.sla.always")
      : hours.counting ? t("cases.sla.counting", { zone: hours.timezone })
        : t("cases.sla.stopped", { zone: hours.timezone, when: hours.resumes_at ? when(hours.resumes_at, hours.timezone) : "—" });
    $("case-status-edit").value = k.status;
    $("case-priority-edit").value = k.priority;
    $("case-agent-edit").value = k.agent_id || "";
    const used = clear($("case-articles"));
    for (const a of data.articles || []) {
      used.append(el("li", {},
        el("a", { href: "/kb?article=" + encodeURIComponent(a.article_id) }, a.title), " ",
        el("span", { class: "muted" }, t("cases.article.use", { who: a.username, at: when(a.at) }))));
    }
    if (!used.firstChild) used.append(el("li", { class: "muted" }, t("cases.articles.none")));
    const contacts = Object.fromEntries((data.contacts || []).map((c) => [String(c.id), c]));
    const list = clear($("case-timeline"));
    for (const e of data.timeline) {
      const item = el("li", { class: "ev-" + e.kind }, el("time", {}, when(e.at)), " ", eventText(e));
      if (e.kind === "contact" && contacts[String(e.contact_id)]) {
        const c = contacts[String(e.contact_id)];
        item.append(" ", el("a", { href: "/contacts/" + encodeURIComponent(c.id) },
          t("cases.contact", { channel: label("cases.channel", c.channel || "voice"), caller: c.caller || "", agent: c.agent_name || c.agent_id || "" })));
      }
      if (e.body) item.append(el("p", { class: "note" }, e.body));
      list.append(item);
    }
  }

  async function loadCase() {
    renderCase(await api("GET", "/api/cases/" + encodeURIComponent(number)));
  }

  if (number) {
    loadCase().catch((e) => showError(e.message, "case-error"));
    $("case-edit").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      showError("", "case-error");
      try {
        const body = { status: $("case-status-edit").value, priority: $("case-priority-edit").value };
        if (($("case-agent-edit").value || "") !== (current.agent_id || "")) body.agent_id = $("case-agent-edit").value;
        await api("PATCH", "/api/cases/" + encodeURIComponent(number), body);
        await loadCase();
        say(t("cases.saved"));
      } catch (e) { showError(e.message, "case-error"); }
    });
    $("case-note").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      showError("", "case-error");
      try {
        await api("POST", "/api/cases/" + encodeURIComponent(number) + "/notes", { text: $("case-note-text").value });
        $("case-note-text").value = "";
        await loadCase();
        say(t("cases.saved"));
      } catch (e) { showError(e.message, "case-error"); $("case-note-text").focus(); }
    });
  } else {
    $("case-filter").addEventListener("submit", (ev) => {
      ev.preventDefault();
      loadList().catch((e) => showError(e.message, "case-error"));
    });
    loadList().catch((e) => showError(e.message, "case-error"));
  }
})();

"use strict";
// The report page: a period (fieldset of presets, or custom dates), a grouping, the
// interval, queue and agent filters and the time zone (the site's or the browser's) make
// one query; its answer (GET /api/reports) fills the charts (static/charts.js), the table
// beside them and the definitions of the measures shown. Every number in the tables links
// to the drill-down list (/reports/contacts) with the row's filter; the export buttons
// ask the same query of /api/reports/export. The page's query lives in its URL, so a
// report can be bookmarked, reloaded and gone back to.
const SBReport = (() => {
  const { api, el, clear, duration, t, has, label, spell, showError } = SB;
  const $ = (id) => document.getElementById(id);
  const configNode = $("report-config");
  const setup = configNode ? JSON.parse(configNode.textContent) : {};
  const browserZone = (() => { try { return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) { return "UTC"; } })();
  const PERIODS = ["today", "yesterday", "last7", "last_week", "this_month", "custom"];
  const GROUPS = ["queue", "agent", "day", "interval", "disposition", "channel"];
  const CHANNELS = ["voice", "chat", "email"];
  const COUNTS = new Set(["offered", "answered", "abandoned", "short_abandoned", "transfers", "callbacks", "calls",
    "other", "lost", "evaluations", "contacts"]);
  const DURATIONS = new Set(["asa", "aht", "first_response", "avg_wait", "longest_wait", "talk_seconds", "hold_seconds", "wrapup_seconds",
    "logged_in_seconds"]);
  const FRACTIONS = new Set(["service_level", "occupancy"]);
  const AGENT_MEASURES = ["calls", "talk_seconds", "hold_seconds", "wrapup_seconds", "logged_in_seconds", "occupancy",
    "evaluations", "quality_score"];
  // The contacts behind each measure: the API's ``measure`` of the drill-down
  // (crm_lookup.report_query.MEASURE_WHERE); an average or a time lists the contacts it
  // is the average of.
  const DRILL = {
    offered: "offered", answered: "answered", abandoned: "abandoned", short_abandoned: "short_abandoned",
    callbacks: "callbacks", other: "other", transfers: "transfers", calls: "calls",
    service_level: "offered", avg_wait: "offered", longest_wait: "offered", asa: "answered", aht: "answered",
    first_response: "first_response",
    talk_seconds: "calls", hold_seconds: "calls", wrapup_seconds: "calls", in_progress: "in_progress",
  };
  const CONTACT_KEYS = ["from", "to", "start", "end", "queue", "agent", "channel", "outcome", "disposition", "customer"];

  // -- dates and zones (pure; exported for the tests) ----------------------------------
  function zoned(epoch, zone) {
    const parts = {};
    const fmt = new Intl.DateTimeFormat("en-GB", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    for (const p of fmt.formatToParts(new Date(epoch * 1000))) parts[p.type] = p.value;
    return { date: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}` };
  }
  const todayIn = (zone, at) => zoned((at === undefined ? Date.now() : at) / 1000, zone).date;
  function addDays(iso, n) {
    const d = new Date(iso + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }
  // ``period`` as [from, to] (both inclusive dates) with ``today`` the zone's date; a week
  // runs Monday to Sunday.
  function periodRange(period, today, from, to) {
    switch (period) {
      case "today": return [today, today];
      case "yesterday": { const y = addDays(today, -1); return [y, y]; }
      case "last7": return [addDays(today, -6), today];
      case "last_week": {
        const sinceMonday = (new Date(today + "T00:00:00Z").getUTCDay() + 6) % 7;
        const monday = addDays(today, -sinceMonday - 7);
        return [monday, addDays(monday, 6)];
      }
      case "this_month": return [today.slice(0, 8) + "01", today];
      default: return [from || today, to || from || today];
    }
  }
  const validDate = (s) => /^\d{4}-\d{2}-\d{2}$/.test(s || "") && !isNaN(Date.parse(s + "T00:00:00Z"));

  // -- formatting ------------------------------------------------------------------------
  const pct = (v) => (v === null || v === undefined ? t("common.none") : Math.round(v * 100) + "%");
  function format(measure, v) {
    if (v === null || v === undefined || v === "") return t("common.none");
    if (FRACTIONS.has(measure)) return pct(v);
    if (DURATIONS.has(measure)) return duration(v);
    if (COUNTS.has(measure)) return String(Math.round(v));
    return typeof v === "number" ? String(Math.round(v * 100) / 100) : String(v);
  }
  const measureName = (m) => (has("report.measure." + m) ? t("report.measure." + m) : spell(m));

  // -- the query ---------------------------------------------------------------------------
  function readUrl() {
    const p = new URLSearchParams(location.search);
    const q = {};
    q.period = PERIODS.includes(p.get("period")) ? p.get("period") : (p.get("from") ? "custom" : "today");
    q.by = setup.mine ? "agent" : (GROUPS.includes(p.get("by")) ? p.get("by") : "queue");
    q.interval = ["15", "30", "60"].includes(p.get("interval")) ? Number(p.get("interval")) : 30;
    q.queue = setup.mine ? "" : (p.get("queue") || "");
    q.agent = setup.mine ? (setup.agent_id || "") : (p.get("agent") || "");
    q.channel = CHANNELS.includes(p.get("channel")) ? p.get("channel") : "";
    q.zone = p.get("zone") === "browser" ? "browser" : "site";
    q.tz = q.zone === "browser" ? browserZone : setup.site_zone;
    const [from, to] = periodRange(q.period, todayIn(q.tz), p.get("from"), p.get("to"));
    q.from = validDate(from) ? from : todayIn(q.tz);
    q.to = validDate(to) ? to : q.from;
    return q;
  }
  function readForm() {
    const form = $("report-form");
    const q = {};
    q.period = (form.querySelector('input[name="period"]:checked') || {}).value || "today";
    q.by = setup.mine ? "agent" : $("by").value;
    q.interval = Number($("interval").value);
    q.queue = setup.mine ? "" : $("queue").value;
    q.agent = setup.mine ? (setup.agent_id || "") : $("agent").value;
    q.channel = $("channel").value;
    q.zone = $("zone-browser").checked ? "browser" : "site";
    q.tz = q.zone === "browser" ? browserZone : setup.site_zone;
    [q.from, q.to] = periodRange(q.period, todayIn(q.tz), $("from").value, $("to").value);
    return q;
  }
  function fillForm(q) {
    $("period-" + q.period).checked = true;
    $("from").value = q.from; $("to").value = q.to;
    if (!setup.mine) { $("by").value = q.by; $("queue").value = q.queue; $("agent").value = q.agent; }
    $("interval").value = String(q.interval);
    $("channel").value = q.channel;
    $("zone-" + q.zone).checked = true;
  }
  const pageQuery = (q) => {
    const p = new URLSearchParams({ period: q.period, by: q.by, interval: q.interval, zone: q.zone });
    if (q.period === "custom") { p.set("from", q.from); p.set("to", q.to); }
    if (q.queue) p.set("queue", q.queue);
    if (q.agent && !setup.mine) p.set("agent", q.agent);
    if (q.channel) p.set("channel", q.channel);
    return p;
  };
  const apiQuery = (q) => {
    const p = new URLSearchParams({ by: q.by, from: q.from, to: q.to, tz: q.tz, interval: q.interval });
    if (q.queue) p.set("queue", q.queue);
    if (q.agent) p.set("agent", q.agent);
    if (q.channel) p.set("channel", q.channel);
    return p;
  };

  // The drill-down of ``measure`` on ``row`` (or the totals: the whole query). A row's
  // ``filter`` is the API's, its ``drill`` the measure to list for a figure where it is
  // not DRILL's; ``start``/``end`` (epoch) win over ``from``/``to`` there.
  function drillHref(q, row, measure) {
    const p = new URLSearchParams();
    const filter = Object.assign({}, row && row.filter ? row.filter : { queue: q.queue, agent: q.agent, channel: q.channel, from: q.from, to: q.to });
    if (filter.start !== undefined && filter.start !== null && filter.end !== undefined && filter.end !== null) {
      delete filter.from; delete filter.to;
    }
    for (const key of CONTACT_KEYS) {
      const v = filter[key];
      // a disposition row's "" is "no disposition", which the API reads as disposition=
      if ((v !== null && v !== undefined && v !== "") || (key === "disposition" && v === "" && row && q.by === "disposition")) p.set(key, String(v));
    }
    if (!p.has("from") && !p.has("start")) { p.set("from", q.from); p.set("to", q.to); }
    // a row may name its own list for a figure: an agent row's offered is ``presented``
    const drill = (row && row.drill && row.drill[measure]) || DRILL[measure];
    if (drill) p.set("measure", drill);
    p.set("tz", q.tz);
    p.set("zone", q.zone);
    return "/reports/contacts?" + p.toString();
  }

  // -- drawing ---------------------------------------------------------------------------
  const agentNames = new Map((setup.agents || []).map((a) => [a.id, a.name]));
  function rowName(q, row, multiDay) {
    if (q.by === "interval" && typeof row.start === "number") {
      const z = zoned(row.start, q.tz);
      return multiDay ? `${z.date} ${z.time}` : z.time;
    }
    if (q.by === "agent") return row.label && row.label !== row.key ? row.label : agentNames.get(row.key) || row.key;
    if (q.by === "channel") return has("reports.channel." + row.key) ? t("reports.channel." + row.key) : row.label || row.key;
    if (q.by === "disposition") return row.key ? (row.label && row.label !== row.key ? row.label : label("disposition", row.key)) : t("reports.no_disposition");
    return row.label || row.key;
  }
  function tick(q, row, multiDay) {
    if (q.by === "interval" && typeof row.start === "number") {
      const z = zoned(row.start, q.tz);
      return multiDay ? `${z.date.slice(5)} ${z.time}` : z.time;
    }
    if (q.by === "day") return String(row.key || row.label).slice(5);
    return rowName(q, row, multiDay);
  }

  function columnsOf(answer, q) {
    const cols = (answer.measures || []).filter((m) => m !== "state_seconds");
    if (q.by === "agent") {
      for (const m of AGENT_MEASURES) if (!cols.includes(m) && answer.rows.some((r) => m in r)) cols.push(m);
    }
    return cols;
  }

  function cell(q, row, measure) {
    const v = row ? row[measure] : null;
    const text = format(measure, v);
    if (v === null || v === undefined) return el("td", { class: "num" }, text);
    return el("td", { class: "num" }, el("a", { href: drillHref(q, row, measure), class: "drill", dataset: { measure } }, text));
  }
  function totalsCell(q, totals, measure) {
    const v = totals[measure];
    const text = format(measure, v);
    if (v === null || v === undefined) return el("td", { class: "num" }, text);
    return el("td", { class: "num" }, el("a", { href: drillHref(q, null, measure), class: "drill", dataset: { measure } }, text));
  }

  function staffingText(s) {
    if (!s || typeof s !== "object") return t("common.none");
    const needed = s.agents_needed ?? s.agents ?? null;
    let needs = s.needs_agents ?? s.needs ?? null;
    if (needs === null && typeof needed === "number" && typeof s.logged_in === "number") needs = Math.max(0, needed - s.logged_in);
    if (typeof needs === "number") return needs > 0 ? t("reports.needs", { count: needs }) : t("reports.needs_none");
    if (typeof needed === "number") {
      return typeof s.forecast_calls === "number"
        ? t("reports.staffing_forecast", { count: needed, calls: Math.round(s.forecast_calls * 10) / 10 })
        : t("reports.staffing_agents", { count: needed });
    }
    return t("common.none");
  }

  function renderTable(answer, q, cols, names) {
    const table = $("report-table");
    const staffing = answer.rows.some((r) => r.staffing);
    const head = el("tr", {}, el("th", { scope: "col" }, t("reports.by." + q.by)),
      ...cols.map((m) => el("th", { scope: "col", class: "num" }, measureName(m))),
      staffing ? el("th", { scope: "col" }, t("reports.col.staffing")) : null);
    clear(table.tHead).append(head);
    const body = clear(table.tBodies[0]);
    answer.rows.forEach((row, i) => {
      body.append(el("tr", { dataset: { key: row.key } }, el("th", { scope: "row" }, names[i]),
        ...cols.map((m) => cell(q, row, m)),
        staffing ? el("td", { class: "staffing" }, staffingText(row.staffing)) : null));
    });
    const foot = clear(table.tFoot);
    if (answer.totals && answer.rows.length) {
      foot.append(el("tr", {}, el("th", { scope: "row" }, t("reports.total")), ...cols.map((m) => totalsCell(q, answer.totals, m)),
        staffing ? el("td", {}) : null));
    }
    $("report-caption").textContent = t("reports.caption", { by: t("reports.by." + q.by), from: q.from, to: q.to, zone: q.tz });
    $("report-empty").hidden = answer.rows.length > 0;
  }

  function slTarget(q) {
    const targets = setup.targets || {};
    if (q.queue && typeof targets[q.queue] === "number") return targets[q.queue];
    const all = Object.values(targets).filter((v) => typeof v === "number");
    return all.length ? Math.max(...all) : setup.default_target;
  }

  function renderVolume(answer, q, ticks, names) {
    const rows = answer.rows;
    const show = rows.length > 0 && q.by !== "agent";
    $("volume-figure").hidden = !show;
    if (!show) return;
    const sum = (m) => rows.reduce((s, r) => s + (r[m] || 0), 0);
    const series = [["offered", "bar-offered"], ["answered", "bar-answered"], ["abandoned", "bar-abandoned"]]
      .map(([m, cls]) => ({ cls, name: measureName(m), values: rows.map((r) => r[m] || 0) }));
    clear($("chart-volume")).append(SBChart.bars({
      categories: ticks, series, stacked: false, minSlots: q.by === "interval" || q.by === "day" ? 12 : 4, unit: t("reports.unit.calls"), xUnit: t("reports.axis." + q.by),
      label: t("reports.chart.volume_summary", { count: rows.length, offered: sum("offered"), answered: sum("answered"), abandoned: sum("abandoned") }),
      title: (i) => t("reports.chart.volume_bar", { what: names[i], offered: rows[i].offered || 0, answered: rows[i].answered || 0, abandoned: rows[i].abandoned || 0 }),
    }));
  }

  function renderSl(answer, q, ticks, names) {
    const rows = answer.rows;
    const values = rows.map((r) => (typeof r.service_level === "number" ? r.service_level : null));
    const known = values.filter((v) => v !== null);
    const show = (q.by === "interval" || q.by === "day") && known.length > 0;
    $("sl-figure").hidden = !show;
    if (!show) return;
    const target = slTarget(q);
    const below = known.filter((v) => v < target).length;
    clear($("chart-sl")).append(SBChart.line({
      categories: ticks, values, target, format: pct, unit: t("reports.unit.percent"), xUnit: t("reports.axis." + q.by),
      name: measureName("service_level"), targetName: t("reports.chart.target", { value: pct(target) }),
      label: t("reports.chart.sl_summary", { count: known.length, below, target: pct(target),
        low: pct(Math.min(...known)), high: pct(Math.max(...known)) }),
      title: (i) => `${names[i]}: ${pct(values[i])}`,
    }));
  }

  // Time in each state per agent: stacked bars, not-ready split by reason.
  const STATES = ["ready", "on_call", "ringing", "wrap_up"];
  function renderStates(answer, q, names) {
    const rows = answer.rows;
    const clocked = (r) => {
      const s = r.state_seconds;
      if (!s || typeof s !== "object") return false;
      return Object.entries(s).some(([k, v]) => (k === "not_ready" ? Object.values(v || {}).some((x) => x > 0) : v > 0));
    };
    const show = q.by === "agent" && rows.some(clocked);
    $("state-figure").hidden = !show;
    $("state-panel").hidden = !show;
    if (!show) return;
    const reasons = [...new Set(rows.flatMap((r) => Object.keys((r.state_seconds || {}).not_ready || {})))].sort();
    const parts = [
      ...STATES.map((s) => ({ key: s, name: label("state", s), cls: "state-bar-" + s, of: (r) => (r.state_seconds || {})[s] || 0 })),
      ...reasons.map((reason, k) => ({ key: "not_ready:" + reason, cls: "state-bar-nr-" + (k % 5),
        name: t("reports.state.not_ready", { reason: label("reason", reason) }),
        of: (r) => ((r.state_seconds || {}).not_ready || {})[reason] || 0 })),
    ];
    const longest = Math.max(1, ...rows.map((r) => parts.reduce((s, p) => s + p.of(r), 0)));
    const hours = longest > 2 * 3600;
    const scale = hours ? 1 / 3600 : 1 / 60;
    const series = parts.map((p) => ({ cls: p.cls, name: p.name, values: rows.map(p.of) }));
    clear($("chart-state")).append(SBChart.bars({
      categories: names, series, scale, minSlots: 4, unit: t(hours ? "reports.unit.hours" : "reports.unit.minutes"), xUnit: t("reports.axis.agent"),
      label: t("reports.chart.state_summary", { count: rows.length }),
      title: (i) => names[i] + ": " + parts.map((p) => `${p.name} ${duration(p.of(rows[i]))}`).join(", "),
    }));
    const table = $("state-table");
    clear(table.tHead).append(el("tr", {}, el("th", { scope: "col" }, t("reports.by.agent")),
      ...parts.map((p) => el("th", { scope: "col", class: "num" }, p.name))));
    const body = clear(table.tBodies[0]);
    rows.forEach((r, i) => body.append(el("tr", {}, el("th", { scope: "row" }, names[i]),
      ...parts.map((p) => el("td", { class: "num" }, duration(p.of(r)))))));
  }

  function renderDefinitions(cols, withStates) {
    const dl = clear($("definitions"));
    for (const m of withStates ? [...cols, "state_seconds"] : cols) {
      dl.append(el("dt", {}, measureName(m)),
        el("dd", {}, has("report.definition." + m) ? t("report.definition." + m) : t("reports.no_definition")));
    }
  }

  function render(answer, q) {
    const days = new Set(answer.rows.filter((r) => typeof r.start === "number").map((r) => zoned(r.start, q.tz).date));
    const multiDay = q.from !== q.to || days.size > 1; // a week's rows name their day
    const names = answer.rows.map((r) => rowName(q, r, multiDay));
    const ticks = answer.rows.map((r) => tick(q, r, multiDay));
    const cols = columnsOf(answer, q);
    $("report-heading").textContent = t("reports.heading", { by: t("reports.by." + q.by), from: q.from, to: q.to, zone: q.tz });
    const ip = answer.in_progress;
    $("in-progress").hidden = !ip || !ip.contacts;
    clear($("in-progress"));
    if (ip && ip.contacts) {
      $("in-progress").append(t("reports.in_progress", { contacts: ip.contacts, waiting: ip.waiting || 0, talking: ip.talking || 0 }),
        " ", el("a", { href: drillHref(q, null, "in_progress"), id: "in-progress-link" }, t("reports.in_progress_list")));
    }
    renderVolume(answer, q, ticks, names);
    renderSl(answer, q, ticks, names);
    renderStates(answer, q, names);
    renderTable(answer, q, cols, names);
    renderDefinitions(cols, !$("state-figure").hidden);
    const query = apiQuery(q).toString();
    $("export-csv").href = "/api/reports/export?format=csv&" + query;
    $("export-xlsx").href = "/api/reports/export?format=xlsx&" + query;
    $("report").hidden = false;
  }

  let generation = 0;
  async function load(q) {
    const mine = ++generation;
    showError("");
    $("report-status").textContent = t("common.loading");
    $("report").setAttribute("aria-busy", "true");
    try {
      const answer = await api("GET", "/api/reports?" + apiQuery(q).toString());
      if (mine !== generation) return; // a newer query is on its way
      render(answer, q);
      $("report-status").textContent = t("reports.loaded", { count: answer.rows.length });
    } catch (e) {
      if (mine !== generation) return;
      $("report-status").textContent = "";
      showError(t("reports.failed", { message: e.message }));
      if (e.field && $(e.field)) $(e.field).setAttribute("aria-invalid", "true");
    } finally {
      if (mine === generation) $("report").removeAttribute("aria-busy");
    }
  }

  function start() {
    const form = $("report-form");
    if (!form) return;
    $("zone-browser-label").textContent = t("reports.zone.browser", { zone: browserZone });
    // a preset shows its dates; a date typed makes the period custom
    for (const radio of form.querySelectorAll('input[name="period"]')) {
      radio.addEventListener("change", () => {
        const q = readForm();
        $("from").value = q.from; $("to").value = q.to;
      });
    }
    for (const id of ["from", "to"]) {
      $(id).addEventListener("input", () => { $("period-custom").checked = true; $(id).removeAttribute("aria-invalid"); });
    }
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const q = readForm();
      if (!validDate(q.from) || !validDate(q.to) || q.from > q.to) {
        showError(t("reports.bad_period"));
        $("from").setAttribute("aria-invalid", "true");
        $("from").focus();
        return;
      }
      history.pushState(null, "", "/reports?" + pageQuery(q).toString());
      load(q);
    });
    window.addEventListener("popstate", () => { const q = readUrl(); fillForm(q); load(q); });
    const q = readUrl();
    fillForm(q);
    load(q);
  }
  start();

  return { periodRange, zoned, addDays, drillHref };
})();

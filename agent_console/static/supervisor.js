"use strict";
// The supervisor wallboard: queue tiles coloured by the queue file's thresholds, a totals
// tile, agent rows with one compact actions menu each, waiting calls, charts, a TV view.
// Rows and tiles are keyed (queue name, agent id, call id), built once and updated in
// place, so a menu or select a supervisor has open is never replaced by a live update.
(() => {
  const { api, el, clear, duration, now, connect, showError, t, label } = SB;
  const $ = (id) => document.getElementById(id);
  const setup = JSON.parse($("wall-config").textContent);
  const TV = Boolean(setup.tv);
  const TV_ROWS = 6;
  const HIDDEN_KEY = "sb.wall.hidden-queues";
  const queues = new Map();
  const agents = new Map();
  const calls = new Map();
  let intervals = [];
  // queue -> this interval's staffing figures (the staffing message; GET /api/staffing/now)
  const staffing = new Map();
  // supervisor alerts by id (the snapshot's alerts, then alert messages)
  const alerts = new Map();
  const MAX_ALERT_ROWS = 50;

  const pct = (v) => (v === null || v === undefined ? t("common.none") : Math.round(v * 100) + "%");
  const set = (node, text) => { const s = String(text); if (node.textContent !== s) node.textContent = s; };
  const agentName = (id) => { const a = agents.get(id); return a ? a.name || a.agent_id : id || ""; };

  // Callers by name when the CRM knows them (a call carries the customer's id, not the
  // name): fetched once per customer, kept for the page's life, at most 500.
  const customerNames = new Map();
  function callerOf(c) {
    const id = c.customer_id;
    if (id === null || id === undefined || id === "") return c.caller || t("wall.unknown_caller");
    if (!customerNames.has(id) && customerNames.size < 500) {
      customerNames.set(id, null);
      api("GET", `/api/customers/${encodeURIComponent(id)}`)
        .then((card) => { customerNames.set(id, card && card.name ? String(card.name) : ""); renderWaiting(); renderAgents(); })
        .catch(() => customerNames.set(id, ""));
    }
    const name = customerNames.get(id);
    return name ? name + (c.caller ? " · " + c.caller : "") : c.caller || t("wall.unknown_caller");
  }

  // -- queue filter (remembered per browser; a queue added later shows) ----------------
  let hidden = new Set();
  try { hidden = new Set(JSON.parse(localStorage.getItem(HIDDEN_KEY) || "[]")); } catch (e) { hidden = new Set(); }
  const shown = (queue) => !hidden.has(queue);
  const filterBoxes = new Map();
  function renderFilter() {
    const box = $("queue-filter");
    for (const name of [...queues.keys()].sort()) {
      if (filterBoxes.has(name)) continue;
      const input = el("input", { type: "checkbox", id: "show-" + name, value: name });
      input.checked = shown(name);
      input.addEventListener("change", () => {
        if (input.checked) hidden.delete(name); else hidden.add(name);
        try { localStorage.setItem(HIDDEN_KEY, JSON.stringify([...hidden])); } catch (e) { /* private mode */ }
        renderAll();
      });
      filterBoxes.set(name, input);
      box.append(el("span", { class: "check" }, input, el("label", { for: "show-" + name }, name)));
    }
  }

  // -- thresholds ----------------------------------------------------------------------
  const RANK = { ok: 0, warn: 1, bad: 2 };
  // One metric against {warn, bad}: service level is worse when lower, the others higher.
  function level(metric, value, levels) {
    if (!levels || value === null || value === undefined) return "ok";
    const lower = metric === "service_level";
    const past = (limit) => limit !== undefined && limit !== null && (lower ? value < limit : value >= limit);
    if (past(levels.bad)) return "bad";
    if (past(levels.warn)) return "warn";
    return "ok";
  }
  function worst(q, values) {
    const th = q.thresholds || {};
    let result = { level: "ok", metric: null, levels: {} };
    for (const metric of ["service_level", "longest_wait", "waiting"]) {
      const lv = level(metric, values[metric], th[metric]);
      result.levels[metric] = lv;
      if (RANK[lv] > RANK[result.level]) result = Object.assign(result, { level: lv, metric });
    }
    return result;
  }

  function longestWait(q) {
    const waiting = [...calls.values()].filter((c) => c.queue === q.name && c.state === "waiting" && c.queued_at);
    if (waiting.length) return now() - Math.min(...waiting.map((c) => c.queued_at));
    if (q.longest_wait_since) return now() - q.longest_wait_since;
    return (q.waiting || 0) > 0 ? q.longest_wait || 0 : 0;
  }

  // -- tiles ---------------------------------------------------------------------------
  const tiles = new Map();
  const METRICS = [
    ["longest_wait", "wall.tile.longest"], ["service_level", "wall.tile.sl"], ["answered", "wall.tile.answered"],
    ["abandoned", "wall.tile.abandoned"], ["ewt", "wall.tile.ewt"], ["ready", "wall.tile.ready"],
  ];
  function makeTile(key, title) {
    const cells = {};
    const dl = el("dl", {});
    for (const [metric, text] of METRICS) {
      cells[metric] = el("dd", { class: metric === "service_level" ? "sl" : metric === "longest_wait" ? "longest" : metric });
      dl.append(el("div", { class: "metric" }, el("dt", {}, t(text)), cells[metric]));
    }
    const node = el("article", { class: "tile", dataset: { queue: key, level: "ok" }, "aria-label": title });
    cells.waiting = el("div", { class: "big waiting" }, "0");
    cells.status = el("div", { class: "status" });
    // "Needs +N agents" / "Staffed" in words (the border only repeats it)
    cells.staffing = el("p", { class: "staffing", dataset: { needs: "none" } });
    cells.staffingDetail = el("p", { class: "staffing-detail" });
    node.append(el("h3", {}, title), el("div", { class: "headline" }, cells.waiting, el("span", { class: "label" }, t("wall.tile.waiting"))),
      cells.status, cells.staffing, cells.staffingDetail, dl);
    return { node, cells };
  }
  function fillTile(tile, v, verdict) {
    const c = tile.cells;
    set(c.waiting, v.waiting);
    set(c.longest_wait, duration(v.longest_wait));
    set(c.service_level, pct(v.service_level));
    set(c.answered, v.answered);
    set(c.abandoned, v.abandoned);
    set(c.ewt, v.ewt === null ? t("common.none") : duration(v.ewt));
    set(c.ready, v.ready);
    if (tile.node.dataset.level !== verdict.level) tile.node.dataset.level = verdict.level;
    for (const metric of ["service_level", "longest_wait", "waiting"]) {
      const cell = c[metric];
      const lv = verdict.levels[metric] || "ok";
      if (cell.dataset.level !== lv) cell.dataset.level = lv;
    }
    set(c.status, verdict.metric ? t("wall.level." + verdict.level, { metric: t("wall.metric." + verdict.metric) })
      : t("wall.level.ok"));
  }

  const needsText = (n) => (n === 1 ? t("wall.staff.needs_one") : n > 0 ? t("wall.staff.needs", { count: n }) : t("wall.staff.ok"));
  function fillStaffing(tile, needs, fig) {
    const c = tile.cells;
    const state = needs === null ? "none" : needs > 0 ? "short" : "ok";
    if (c.staffing.dataset.needs !== state) c.staffing.dataset.needs = state;
    set(c.staffing, needs === null ? "" : needsText(needs));
    set(c.staffingDetail, fig ? t("wall.staff.detail", {
      time: fig.label, calls: fig.forecast_calls, aht: duration(fig.aht), needed: fig.agents_needed, logged: fig.logged_in,
    }) : "");
  }

  function renderQueues() {
    const box = $("queues");
    const names = [...queues.keys()].filter(shown).sort();
    if (!tiles.has("*")) { tiles.set("*", makeTile("*", t("wall.totals"))); tiles.get("*").node.classList.add("totals"); }
    const wanted = ["*", ...names];
    for (const name of names) if (!tiles.has(name)) tiles.set(name, makeTile(name, name));
    for (const [name, tile] of tiles) if (!wanted.includes(name) && tile.node.parentNode) tile.node.remove();
    wanted.forEach((name, i) => { const node = tiles.get(name).node; if (box.children[i] !== node) box.insertBefore(node, box.children[i] || null); });

    const total = { waiting: 0, longest_wait: 0, answered: 0, abandoned: 0, ewt: null, ready: 0 };
    let totalNeeds = null;
    let slWeighted = 0, slHandled = 0, worstTotal = { level: "ok", metric: null, levels: {} };
    for (const name of names) {
      const q = queues.get(name);
      const v = {
        waiting: q.waiting || 0, longest_wait: longestWait(q), service_level: q.service_level,
        answered: q.answered || 0, abandoned: q.abandoned || 0, ewt: q.ewt ?? null, ready: q.agents_ready || 0,
      };
      const verdict = worst(q, v);
      fillTile(tiles.get(name), v, verdict);
      const fig = staffing.get(name);
      fillStaffing(tiles.get(name), fig ? fig.needs_agents : null, fig);
      if (fig) totalNeeds = (totalNeeds || 0) + fig.needs_agents;
      total.waiting += v.waiting; total.answered += v.answered; total.abandoned += v.abandoned;
      total.longest_wait = Math.max(total.longest_wait, v.longest_wait);
      if (v.ewt !== null) total.ewt = Math.max(total.ewt || 0, v.ewt);
      const handled = v.answered + v.abandoned;
      if (v.service_level !== null && v.service_level !== undefined && handled) { slWeighted += v.service_level * handled; slHandled += handled; }
      for (const m of ["service_level", "longest_wait", "waiting"]) {
        if (RANK[verdict.levels[m]] > RANK[worstTotal.levels[m] || "ok"]) worstTotal.levels[m] = verdict.levels[m];
      }
      if (RANK[verdict.level] > RANK[worstTotal.level]) worstTotal = Object.assign(worstTotal, { level: verdict.level, metric: verdict.metric });
    }
    total.service_level = slHandled ? slWeighted / slHandled : null;
    total.ready = [...agents.values()].filter((a) => a.state === "ready" && (a.queues || []).some(shown)).length;
    fillTile(tiles.get("*"), total, worstTotal);
    fillStaffing(tiles.get("*"), totalNeeds, null);
  }

  // -- agent rows and their actions menu -------------------------------------------------
  async function act(method, path, body) {
    showError("");
    try { await api(method, path, body); } catch (e) { showError(e.message); }
  }
  const rows = new Map();
  let openMenu = null;

  function closeMenu(focusButton) {
    if (!openMenu) return;
    const { button, menu } = openMenu;
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    openMenu = null;
    if (focusButton) button.focus();
  }
  const items = (menu) => [...menu.querySelectorAll(".menu-item, select")].filter((n) => !n.disabled);
  function openMenuOf(row, focusLast) {
    if (openMenu && openMenu.menu !== row.menu) closeMenu(false);
    row.menu.hidden = false;
    row.button.setAttribute("aria-expanded", "true");
    openMenu = row;
    const list = items(row.menu);
    if (list.length) list[focusLast ? list.length - 1 : 0].focus();
  }

  function makeRow(a) {
    const id = encodeURIComponent(a.agent_id);
    const name = a.name || a.agent_id;
    const r = { id: a.agent_id };
    r.state = el("td", { class: "state" });
    r.time = el("td", { class: "since timer" });
    r.call = el("td", { class: "call" });
    // a disclosure (aria-expanded) holding a group of buttons and the reason select: a
    // role=menu may hold only menu items, and the reason must be a real select
    r.button = el("button", { type: "button", class: "small menu-button", "aria-expanded": "false",
      "aria-controls": "menu-" + a.agent_id, "aria-label": t("wall.actions_for", { name }) }, t("wall.actions"), " ▾");
    const item = (cls, text, onclick) => el("button", { type: "button", class: "menu-item " + cls,
      onclick: () => { closeMenu(true); onclick(); } }, text);
    r.reason = el("select", { class: "reason-pick", "aria-label": t("wall.reason_for", { name }) },
      ...setup.reasons.map((code) => el("option", { value: code }, label("reason", code))));
    r.items = {
      ready: item("force-ready", t("wall.act.ready"), () => act("PUT", `/api/supervisor/agents/${id}/state`, { state: "ready" })),
      not_ready: item("force-not-ready", t("wall.act.not_ready"),
        () => act("PUT", `/api/supervisor/agents/${id}/state`, { state: "not_ready", reason: r.reason.value })),
      logout: item("logout", t("wall.act.logout"), () => act("POST", `/api/supervisor/agents/${id}/logout`)),
    };
    for (const mode of ["listen", "whisper", "barge"]) {
      r.items[mode] = item("spy-" + mode, t("wall.act." + mode), () => act("POST", `/api/supervisor/agents/${id}/spy`, { mode }));
    }
    r.menu = el("div", { class: "menu", role: "group", id: "menu-" + a.agent_id, "aria-label": t("wall.actions_for", { name }) },
      r.items.ready, el("div", { class: "menu-reason" }, r.reason, r.items.not_ready), r.items.logout,
      el("hr", {}), r.items.listen, r.items.whisper, r.items.barge);
    r.menu.hidden = true;
    r.button.addEventListener("click", () => (openMenu === r ? closeMenu(true) : openMenuOf(r, false)));
    r.button.addEventListener("keydown", (ev) => {
      if (ev.key === "ArrowDown" || ev.key === "ArrowUp") { ev.preventDefault(); openMenuOf(r, ev.key === "ArrowUp"); }
    });
    r.menu.addEventListener("keydown", (ev) => {
      const list = items(r.menu);
      const at = list.indexOf(document.activeElement);
      if (ev.key === "Escape") { ev.preventDefault(); closeMenu(true); }
      else if (ev.key === "Tab") closeMenu(false);
      else if (document.activeElement.tagName === "SELECT" && (ev.key === "ArrowDown" || ev.key === "ArrowUp") && !ev.altKey) {
        // arrows inside the reason select pick a reason (its own behaviour)
      } else if (ev.key === "ArrowDown") { ev.preventDefault(); list[(at + 1) % list.length].focus(); }
      else if (ev.key === "ArrowUp") { ev.preventDefault(); list[(at - 1 + list.length) % list.length].focus(); }
      else if (ev.key === "Home") { ev.preventDefault(); list[0].focus(); }
      else if (ev.key === "End") { ev.preventDefault(); list[list.length - 1].focus(); }
    });
    r.nameCell = el("td", { class: "agent-name" }, el("span", { class: "name-text" }, name), " ", el("span", { class: "muted id" }, a.agent_id));
    r.node = el("tr", { class: "agent-row", dataset: { agent: a.agent_id } },
      r.nameCell, r.state, r.time, r.call, el("td", { class: "actions no-tv" }, el("div", { class: "menu-wrap" }, r.button, r.menu)));
    return r;
  }

  function stateOf(a) { return a.state === "wrap_up" && a.wrap_up_overdue ? "wrap_up_overdue" : a.state; }

  function fillRow(r, a) {
    const state = stateOf(a);
    if (r.node.dataset.state !== state) { r.node.dataset.state = state; r.state.className = "state state-" + state; }
    const reason = a.state === "not_ready" && a.reason ? " · " + label("reason", a.reason) : "";
    set(r.state, label("state", state) + reason);
    r.time.dataset.since = a.since || "";
    set(r.time, duration(now() - (a.since || now())));
    const call = a.call_id ? calls.get(a.call_id) : null;
    const left = a.state === "wrap_up" && !a.wrap_up_overdue && a.wrap_up_until ? a.wrap_up_until : "";
    r.call.dataset.until = left;
    set(r.call, call ? [callerOf(call), call.queue].filter(Boolean).join(" · ")
      : left ? t("wall.wrap_left", { time: duration(left - now()) }) : "");
    const onCall = a.state === "on_call" || Boolean(call && (call.state === "talking" || call.state === "held"));
    const enable = {
      ready: !["on_call", "ringing", "ready"].includes(a.state),
      not_ready: !["on_call", "ringing"].includes(a.state),
      logout: a.state !== "logged_out",
      // the supervisor listens on their own phone: a user without an agent has none
      listen: onCall && setup.spy, whisper: onCall && setup.spy, barge: onCall && setup.spy,
    };
    for (const [key, on] of Object.entries(enable)) {
      const node = r.items[key];
      if (node.disabled === on) node.disabled = !on;
    }
    if (r.reason.disabled !== !enable.not_ready) r.reason.disabled = !enable.not_ready;
  }

  const byName = (x, y) => (x.name || x.agent_id).localeCompare(y.name || y.agent_id) || x.agent_id.localeCompare(y.agent_id);
  const agentShown = (a) => !(a.queues || []).length || a.queues.some(shown);

  function renderAgents() {
    const body = $("agents");
    const list = [...agents.values()].filter(agentShown).sort(byName);
    const keep = new Set(list.map((a) => a.agent_id));
    for (const [id, r] of rows) {
      if (!agents.has(id)) { if (openMenu === r) closeMenu(false); r.node.remove(); rows.delete(id); }
      else if (!keep.has(id) && r.node.parentNode) { if (openMenu === r) closeMenu(false); r.node.remove(); }
    }
    list.forEach((a, i) => {
      let r = rows.get(a.agent_id);
      if (!r) { r = makeRow(a); rows.set(a.agent_id, r); }
      fillRow(r, a);
      // only move a row when it is out of place: moving a node drops the focus inside it
      if (body.children[i] !== r.node) body.insertBefore(r.node, body.children[i] || null);
    });
    $("agents-empty").hidden = list.length > 0;
    renderSummary(list);
  }

  // -- the agent summary (both views; the TV's only agent view) ----------------------------
  const SUMMARY = ["ready", "on_call", "ringing", "wrap_up", "wrap_up_overdue", "not_ready"];
  const summary = new Map();
  function renderSummary(list) {
    const box = $("agent-summary");
    if (!summary.size) {
      for (const state of SUMMARY) {
        const count = el("span", { class: "count" }, "0");
        const names = el("span", { class: "names" });
        const chip = el("div", { class: "chip state-" + state, dataset: { state } }, count, " ",
          el("span", { class: "chip-label" }, label("state", state)), names);
        summary.set(state, { count, names, chip });
        box.append(chip);
      }
    }
    for (const state of SUMMARY) {
      const here = list.filter((a) => stateOf(a) === state);
      const s = summary.get(state);
      set(s.count, here.length);
      set(s.names, here.length ? here.map((a) => a.name || a.agent_id).join(", ") : "");
    }
  }

  // -- waiting calls -------------------------------------------------------------------
  const callRows = new Map();
  function moveOptions(select, c) {
    const names = [...queues.keys()].sort().filter((n) => n !== c.queue);
    const want = names.join("|");
    if (select.dataset.options === want || document.activeElement === select) return;
    const keep = select.value;
    clear(select);
    for (const n of names) select.append(el("option", { value: n }, n));
    if (names.includes(keep)) select.value = keep;
    select.dataset.options = want;
  }
  function makeCallRow(c) {
    const r = {};
    r.caller = el("td", { class: "caller" });
    r.queue = el("td", { class: "queue" });
    r.waited = el("td", { class: "waited timer" });
    r.status = el("td", { class: "status" });
    r.select = el("select", { "aria-label": t("wall.move_label") });
    r.move = el("button", { type: "button", class: "small move",
      onclick: () => act("POST", `/api/supervisor/calls/${encodeURIComponent(c.call_id)}/move`, { queue: r.select.value }) }, t("wall.move"));
    r.node = el("tr", { class: "waiting-row", dataset: { call: c.call_id } }, r.caller, r.queue, r.waited, r.status,
      el("td", { class: "no-tv move-cell" }, r.select, r.move));
    return r;
  }
  function renderWaiting() {
    const body = $("waiting");
    const list = [...calls.values()].filter((c) => (c.state === "waiting" || c.state === "ringing") && shown(c.queue))
      .sort((x, y) => (x.queued_at || 0) - (y.queued_at || 0) || x.call_id.localeCompare(y.call_id));
    const keep = new Set(list.map((c) => c.call_id));
    for (const [id, r] of callRows) if (!keep.has(id)) { r.node.remove(); callRows.delete(id); }
    list.forEach((c, i) => {
      let r = callRows.get(c.call_id);
      if (!r) { r = makeCallRow(c); callRows.set(c.call_id, r); }
      set(r.caller, callerOf(c));
      set(r.queue, c.queue || "");
      r.waited.dataset.since = c.queued_at || "";
      set(r.waited, duration(now() - (c.queued_at || now())));
      set(r.status, c.state === "ringing" ? t("wall.ringing_agent", { name: agentName(c.agent_id) }) : label("call", c.state));
      r.select.setAttribute("aria-label", t("wall.move_label_for", { caller: c.caller || t("wall.unknown_caller") }));
      moveOptions(r.select, c);
      const canMove = c.state === "waiting" && r.select.options.length > 0;
      if (r.move.disabled === canMove) r.move.disabled = !canMove;
      if (body.children[i] !== r.node) body.insertBefore(r.node, body.children[i] || null);
    });
    $("waiting-empty").hidden = list.length > 0;
    // the TV shows the oldest TV_ROWS; the rest as a count, so the screen never scrolls
    const more = TV ? Math.max(0, list.length - TV_ROWS) : 0;
    $("waiting-more").hidden = more === 0;
    set($("waiting-more"), more ? t("wall.more_waiting", { count: more }) : "");
  }

  // -- charts (static/charts.js draws them) ----------------------------------------------
  function hhmm(ts) { const d = new Date(ts * 1000); return d.getHours() + ":" + String(d.getMinutes()).padStart(2, "0"); }
  // The SL target: the strictest service-level warn of the queues shown, else 80 %.
  function slTarget() {
    const warns = [...queues.values()].filter((q) => shown(q.name))
      .map((q) => q.thresholds && q.thresholds.service_level && q.thresholds.service_level.warn)
      .filter((v) => typeof v === "number");
    return warns.length ? Math.max(...warns) : 0.8;
  }

  function renderCharts() {
    const data = intervals.slice(-48);
    const categories = data.map((d) => hhmm(d.start));
    const answered = data.reduce((s, d) => s + (d.answered || 0), 0);
    const abandoned = data.reduce((s, d) => s + (d.abandoned || 0), 0);
    const barTitle = (i) => t("wall.chart.bar", { time: categories[i], answered: data[i].answered || 0, abandoned: data[i].abandoned || 0 });
    clear($("chart-calls")).append(SBChart.bars({
      categories, title: barTitle, unit: t("wall.chart.calls_unit"), xUnit: t("wall.chart.time"),
      label: data.length ? t("wall.chart.calls_summary", { count: data.length, answered, abandoned }) : t("wall.chart.none"),
      series: [
        { cls: "bar-answered", name: t("wall.chart.answered"), values: data.map((d) => d.answered || 0) },
        { cls: "bar-abandoned", name: t("wall.chart.abandoned"), values: data.map((d) => d.abandoned || 0) },
      ],
    }));

    const target = slTarget();
    const values = data.map((d) => d.service_level);
    const known = values.filter((v) => v !== null && v !== undefined);
    clear($("chart-sl")).append(SBChart.line({
      categories, values, target, format: pct, xUnit: t("wall.chart.time"),
      name: t("wall.chart.sl"), targetName: t("wall.chart.target", { value: pct(target) }),
      label: known.length ? t("wall.chart.sl_summary", { last: pct(known[known.length - 1]), target: pct(target) }) : t("wall.chart.none"),
    }));

    const rowsBody = clear($("chart-rows"));
    for (const d of data) {
      rowsBody.append(el("tr", {}, el("td", {}, hhmm(d.start)), el("td", { class: "num" }, d.answered || 0),
        el("td", { class: "num" }, d.abandoned || 0), el("td", { class: "num" }, pct(d.service_level))));
    }
  }

  function renderAll() { renderFilter(); renderQueues(); renderAgents(); renderWaiting(); if (!TV) renderCharts(); }

  setInterval(() => {
    for (const td of document.querySelectorAll("td.since, td.waited")) {
      if (td.dataset.since) set(td, duration(now() - Number(td.dataset.since)));
    }
    for (const td of document.querySelectorAll("td.call[data-until]")) {
      if (td.dataset.until) set(td, t("wall.wrap_left", { time: duration(Number(td.dataset.until) - now()) }));
    }
    renderQueues(); // longest waits grow, and may cross a threshold
  }, 1000);

  document.addEventListener("click", (ev) => {
    if (openMenu && !openMenu.node.querySelector(".menu-wrap").contains(ev.target)) closeMenu(false);
  });

  // -- supervisor alerts: a banner (count and the newest active) and the list ----------
  // The banner's live region (role=alert) says what changed in words: the count, the
  // newest alert's rule and subject. It is rewritten only when those change, never for
  // a value moving (a longest wait grows every check): the value beside it is updated
  // silently. List rows are keyed by alert id and updated in place, like the agent rows,
  // so a focused Acknowledge button survives the live updates.
  const clock = (epoch) => new Date(epoch * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const alertSubject = (a) => (a.agent_id ? agentName(a.agent_id) || a.subject : a.subject);
  const alertValue = (a) => t("alerts.unit." + a.unit, { value: a.unit === "s" ? duration(a.value) : Math.round(a.value * 10) / 10 });
  const alertRule = (a) => t("alerts.rule." + a.rule + (a.rule === "agent_state" && a.agent_state ? "." + a.agent_state : ""));
  const alertRows = new Map(); // alert id -> the row's cells
  // The button is marked busy, not disabled: disabling it would drop the keyboard focus
  // to the page before the row can show who acknowledged it.
  function ackAlert(id, button) {
    if (button.getAttribute("aria-disabled") === "true") return;
    button.setAttribute("aria-disabled", "true");
    showError("");
    api("POST", `/api/alerts/${encodeURIComponent(id)}/ack`, {})
      .then((alert) => { alerts.set(alert.id, alert); renderAlerts(); })
      .catch((err) => { button.removeAttribute("aria-disabled"); showError(err.message); });
  }
  function alertRow(a) {
    let r = alertRows.get(a.id);
    if (!r) {
      r = {
        time: el("td"), rule: el("td"), subject: el("td"), value: el("td", { class: "num" }),
        state: el("td"), ack: el("td", { class: "ack", tabindex: "-1" }), button: null,
      };
      r.tr = el("tr", { "data-id": a.id }, r.time, r.rule, r.subject, r.value, r.state, r.ack);
      alertRows.set(a.id, r);
    }
    r.tr.className = "alert-row " + a.state;
    set(r.time, clock(a.raised_at));
    set(r.rule, alertRule(a));
    set(r.subject, alertSubject(a));
    set(r.value, alertValue(a));
    set(r.state, a.state === "active" ? t("alerts.state.active") : t("alerts.state.cleared", { time: clock(a.cleared_at) }));
    if (a.acked_by) {
      const focused = r.button !== null && document.activeElement === r.button;
      r.button = null;
      set(r.ack, t("alerts.acked", { user: a.acked_by, time: clock(a.acked_at) }));
      if (focused) r.ack.focus(); // the keyboard user hears who and when, in the same row
    } else {
      if (!r.button) {
        const b = el("button", { type: "button", class: "ack-alert" }, t("alerts.ack"));
        b.addEventListener("click", () => ackAlert(a.id, b));
        clear(r.ack).append(b);
        r.button = b;
      }
      r.button.setAttribute("aria-label", t("alerts.ack_label", { rule: alertRule(a), subject: alertSubject(a) }));
    }
    return r.tr;
  }
  function renderAlerts() {
    const all = [...alerts.values()];
    const active = all.filter((a) => a.state === "active").sort((x, y) => y.raised_at - x.raised_at);
    const cleared = all.filter((a) => a.state !== "active").sort((x, y) => y.cleared_at - x.cleared_at);
    $("alerts").hidden = all.length === 0;
    const banner = $("alert-banner");
    if (active.length) {
      const a = active[0];
      set($("alert-banner-text"), t("alerts.banner", { count: active.length, rule: alertRule(a), subject: alertSubject(a) }));
      set($("alert-banner-value"), alertValue(a));
      banner.hidden = false;
    } else {
      set($("alert-banner-text"), ""); set($("alert-banner-value"), "");
      banner.hidden = true;
    }
    const body = $("alert-rows");
    const focused = document.activeElement;
    const shown = [...active, ...cleared].slice(0, MAX_ALERT_ROWS);
    const keep = new Set(shown.map((a) => a.id));
    for (const [id, r] of alertRows) if (!keep.has(id)) { r.tr.remove(); alertRows.delete(id); }
    shown.forEach((a, i) => {
      const tr = alertRow(a);
      if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null); // moves only what is out of place
    });
    if (focused && focused !== document.activeElement && focused.isConnected) focused.focus();
  }
  // Keep the map bounded: forget the oldest cleared alerts first, never an active one.
  function forgetOldAlerts() {
    const cleared = [...alerts.values()].filter((a) => a.state !== "active").sort((x, y) => x.cleared_at - y.cleared_at);
    while (alerts.size > MAX_ALERT_ROWS * 2 && cleared.length) alerts.delete(cleared.shift().id);
  }

  // A fresh snapshot replaces the picture: the staffing figures come with the API.
  function loadStaffing() {
    api("GET", "/api/staffing/now")
      .then((body) => { staffing.clear(); for (const f of body.queues || []) staffing.set(f.queue, f); renderQueues(); })
      .catch(() => { /* the next staffing message fills the tiles */ });
  }

  function onMessage(msg) {
    switch (msg.type) {
      case "snapshot":
        queues.clear(); agents.clear(); calls.clear();
        for (const q of msg.queues || []) queues.set(q.name, q);
        for (const a of msg.agents || []) agents.set(a.agent_id, a);
        for (const c of msg.calls || []) calls.set(c.call_id, c);
        intervals = msg.intervals || [];
        alerts.clear();
        for (const a of msg.alerts || []) alerts.set(a.id, a);
        renderAll();
        renderAlerts();
        loadStaffing();
        break;
      case "agent_state": agents.set(msg.agent.agent_id, msg.agent); renderAgents(); renderQueues(); break;
      case "queue_stats":
        queues.set(msg.queue, Object.assign({ name: msg.queue }, queues.get(msg.queue), msg.stats));
        renderFilter(); renderQueues();
        break;
      case "call_update":
        if (msg.call.state === "ended") calls.delete(msg.call.call_id); else calls.set(msg.call.call_id, msg.call);
        renderWaiting(); renderAgents(); renderQueues();
        break;
      case "call_ended": calls.delete(msg.call_id); renderWaiting(); renderAgents(); renderQueues(); break;
      case "staffing": staffing.set(msg.queue, msg.staffing); renderQueues(); break;
      case "wallboard": intervals = msg.intervals || []; if (!TV) renderCharts(); break;
      case "alert":
        alerts.set(msg.alert.id, msg.alert);
        forgetOldAlerts();
        renderAlerts();
        break;
      default: break;
    }
  }
  connect(onMessage);
})();

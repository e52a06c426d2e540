"use strict";
// The supervisor wallboard: queue tiles, agent grid, waiting calls, charts and actions.
(() => {
  const { api, el, clear, duration, now, connect, showError } = SB;
  const $ = (id) => document.getElementById(id);
  const queues = new Map();
  const agents = new Map();
  const calls = new Map();
  let intervals = [];
  const SVG = "http://www.w3.org/2000/svg";

  const pct = (v) => (v === null || v === undefined ? "—" : Math.round(v * 100) + "%");

  function renderQueues() {
    const box = clear($("queues"));
    for (const q of [...queues.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      const waitingCalls = [...calls.values()].filter((c) => c.queue === q.name && c.state === "waiting");
      const oldest = waitingCalls.reduce((m, c) => Math.min(m, c.queued_at || now()), now());
      const longest = waitingCalls.length ? now() - oldest : q.longest_wait;
      box.append(el("article", { class: "tile", dataset: { queue: q.name } },
        el("h3", {}, q.name),
        el("div", { class: "big waiting" }, String(q.waiting ?? 0)), el("div", { class: "label" }, "waiting"),
        el("dl", {},
          el("dt", {}, "Longest wait"), el("dd", { class: "longest" }, duration(longest)),
          el("dt", {}, "Service level"), el("dd", { class: "sl" }, pct(q.service_level)),
          el("dt", {}, "Answered"), el("dd", { class: "answered" }, String(q.answered ?? 0)),
          el("dt", {}, "Abandoned"), el("dd", { class: "abandoned" }, String(q.abandoned ?? 0)),
          el("dt", {}, "Est. wait"), el("dd", { class: "ewt" }, duration(q.ewt)),
          el("dt", {}, "Ready"), el("dd", { class: "ready" }, String(q.agents_ready ?? 0)))));
    }
  }

  async function act(method, path, body) {
    showError("");
    try { await api(method, path, body); } catch (e) { showError(e.message); }
  }

  function agentActions(a) {
    const id = encodeURIComponent(a.agent_id);
    const reason = $("reason-template").cloneNode(true);
    reason.removeAttribute("id");
    reason.classList.remove("hidden");
    reason.setAttribute("aria-label", "reason for " + a.agent_id);
    return el("td", { class: "actions" },
      el("button", { type: "button", class: "small force-ready",
        onclick: () => act("PUT", `/api/supervisor/agents/${id}/state`, { state: "ready" }) }, "Ready"),
      reason,
      el("button", { type: "button", class: "small force-not-ready",
        onclick: () => act("PUT", `/api/supervisor/agents/${id}/state`, { state: "not_ready", reason: reason.value }) }, "Not ready"),
      el("button", { type: "button", class: "small logout",
        onclick: () => act("POST", `/api/supervisor/agents/${id}/logout`) }, "Log out"),
      ...["listen", "whisper", "barge"].map((mode) => el("button", { type: "button", class: "small spy-" + mode,
        onclick: () => act("POST", `/api/supervisor/agents/${id}/spy`, { mode }) }, mode)));
  }

  function renderAgents() {
    const body = clear($("agents"));
    for (const a of [...agents.values()].sort((x, y) => x.agent_id.localeCompare(y.agent_id))) {
      const call = a.call_id ? calls.get(a.call_id) : null;
      body.append(el("tr", { class: "agent-row", dataset: { agent: a.agent_id, state: a.state } },
        el("td", {}, (a.name || a.agent_id) + " (" + a.agent_id + ")"),
        el("td", { class: "state state-" + a.state }, (a.state || "").replace("_", " ")),
        el("td", { class: "reason" }, a.reason || ""),
        el("td", { class: "since", dataset: { since: a.since || "" } }, duration(now() - (a.since || now()))),
        el("td", { class: "call" }, call ? (call.caller || "") + " · " + (call.queue || "")
          : (a.state === "wrap_up" ? "wrapping up" : "")),
        agentActions(a)));
    }
  }

  function renderWaiting() {
    const body = clear($("waiting"));
    const names = [...queues.keys()].sort();
    for (const c of [...calls.values()].filter((x) => x.state === "waiting")
      .sort((x, y) => (x.queued_at || 0) - (y.queued_at || 0))) {
      const select = el("select", { "aria-label": "move " + c.call_id },
        ...names.filter((n) => n !== c.queue).map((n) => el("option", { value: n }, n)));
      body.append(el("tr", { class: "waiting-row", dataset: { call: c.call_id } },
        el("td", {}, c.caller || ""), el("td", {}, c.queue || ""),
        el("td", { class: "waited", dataset: { since: c.queued_at || "" } }, duration(now() - (c.queued_at || now()))),
        el("td", {}, select, el("button", { type: "button", class: "small",
          onclick: () => act("POST", `/api/supervisor/calls/${encodeURIComponent(c.call_id)}/move`, { queue: select.value }) }, "Move"))));
    }
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  function hhmm(t) { const d = new Date(t * 1000); return d.getHours() + ":" + String(d.getMinutes()).padStart(2, "0"); }

  function renderCharts() {
    const W = 480, H = 160, P = 24;
    const data = intervals.slice(-48);
    const box = clear($("chart-calls"));
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "calls per interval" });
    const max = Math.max(1, ...data.map((d) => d.offered || 0));
    const bw = data.length ? (W - 2 * P) / data.length : 0;
    data.forEach((d, i) => {
      const x = P + i * bw;
      const hAns = ((d.answered || 0) / max) * (H - 2 * P);
      const hAb = ((d.abandoned || 0) / max) * (H - 2 * P);
      chart.append(svg("rect", { x, y: H - P - hAns, width: Math.max(1, bw - 2), height: hAns, class: "bar-answered" },
        svg("title", {}, `${hhmm(d.start)} answered ${d.answered || 0}`)));
      chart.append(svg("rect", { x, y: H - P - hAns - hAb, width: Math.max(1, bw - 2), height: hAb, class: "bar-abandoned" },
        svg("title", {}, `${hhmm(d.start)} abandoned ${d.abandoned || 0}`)));
      if (i % Math.ceil(data.length / 6 || 1) === 0) chart.append(svg("text", { x, y: H - 6, class: "axis" }, hhmm(d.start)));
    });
    chart.append(svg("text", { x: 2, y: P, class: "axis" }, String(max)));
    box.append(chart);

    const slBox = clear($("chart-sl"));
    const sl = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "service level" });
    const pts = data.map((d, i) => [P + i * bw + bw / 2, d.service_level]).filter((p) => p[1] !== null && p[1] !== undefined);
    const y = (v) => H - P - v * (H - 2 * P);
    sl.append(svg("line", { x1: P, x2: W - P, y1: y(0.8), y2: y(0.8), class: "target" }));
    if (pts.length) sl.append(svg("polyline", { points: pts.map(([x, v]) => `${x},${y(v)}`).join(" "), class: "sl-line" }));
    for (const [x, v] of pts) sl.append(svg("circle", { cx: x, cy: y(v), r: 2.5, class: "sl-dot" }, svg("title", {}, pct(v))));
    sl.append(svg("text", { x: 2, y: y(1) + 4, class: "axis" }, "100%"), svg("text", { x: 2, y: y(0.8) + 4, class: "axis" }, "80%"));
    slBox.append(sl);
  }

  function renderAll() { renderQueues(); renderAgents(); renderWaiting(); renderCharts(); }

  setInterval(() => {
    for (const td of document.querySelectorAll("td.since, td.waited")) {
      if (td.dataset.since) td.textContent = duration(now() - Number(td.dataset.since));
    }
  }, 1000);

  function onMessage(msg) {
    switch (msg.type) {
      case "snapshot":
        queues.clear(); agents.clear(); calls.clear();
        for (const q of msg.queues || []) queues.set(q.name, q);
        for (const a of msg.agents || []) agents.set(a.agent_id, a);
        for (const c of msg.calls || []) calls.set(c.call_id, c);
        intervals = msg.intervals || [];
        renderAll();
        break;
      case "agent_state": agents.set(msg.agent.agent_id, msg.agent); renderAgents(); break;
      case "queue_stats":
        queues.set(msg.queue, Object.assign({ name: msg.queue }, queues.get(msg.queue), msg.stats));
        renderQueues();
        break;
      case "call_update":
        if (msg.call.state === "ended") calls.delete(msg.call.call_id); else calls.set(msg.call.call_id, msg.call);
        renderWaiting(); renderAgents(); renderQueues();
        break;
      case "call_ended": calls.delete(msg.call_id); renderWaiting(); renderAgents(); break;
      case "wallboard": intervals = msg.intervals || []; renderCharts(); break;
      default: break;
    }
  }
  connect(onMessage);
})();

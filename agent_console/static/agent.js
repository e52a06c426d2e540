"use strict";
// The agent console: state bar, screen pop card, call controls, wrap-up, search.
(() => {
  const { api, el, clear, duration, when, now, connect, send, showError } = SB;
  const $ = (id) => document.getElementById(id);
  const me = { agentId: null, state: "", reason: "", since: null, call: null, card: null,
               contactId: null, customerId: null, wrapupSince: null };
  const agents = new Map();
  let queueNames = [];

  // ---- state bar --------------------------------------------------------------------
  function renderState() {
    const label = $("state");
    label.textContent = (me.state || "—").replace("_", " ");
    label.dataset.state = me.state || "";
    $("state-reason").textContent = me.reason ? "(" + me.reason + ")" : "";
    document.body.dataset.state = me.state || "";
  }
  function tick() {
    $("state-time").textContent = me.since ? duration(now() - me.since) : "0:00";
    if (me.wrapupSince) $("wrapup-timer").textContent = duration(now() - me.wrapupSince);
    if (me.call && me.call.queued_at && !me.call.answered_at) {
      $("call-waited").textContent = duration(now() - me.call.queued_at);
    }
  }
  setInterval(tick, 1000);

  async function setState(body) {
    showError("");
    try { await api("PUT", "/api/agents/me/state", body); } catch (e) { showError(e.message); }
  }
  $("btn-ready").addEventListener("click", () => setState({ state: "ready" }));
  $("btn-not-ready").addEventListener("click", () => setState({ state: "not_ready", reason: $("reason").value }));
  $("btn-logout-agent").addEventListener("click", () => setState({ state: "logged_out" }));

  function applyAgent(agent) {
    if (!agent) return;
    agents.set(agent.agent_id, agent);
    if (agent.agent_id !== me.agentId) { renderTransferOptions(); return; }
    const wasWrap = me.state === "wrap_up";
    me.state = agent.state; me.reason = agent.reason || ""; me.since = agent.since || now();
    if (me.state === "wrap_up" && !wasWrap) showWrapup(me.contactId);
    renderState();
    tick();
  }

  // ---- screen pop -------------------------------------------------------------------
  const pick = (obj, ...names) => {
    for (const n of names) if (obj && obj[n] !== undefined && obj[n] !== null && obj[n] !== "") return obj[n];
    return undefined;
  };

  function renderHistory(tbody, contacts, append) {
    if (!append) clear(tbody);
    for (const c of contacts || []) {
      tbody.append(el("tr", { class: "contact-row" },
        el("td", {}, when(pick(c, "started_at", "arrived_at"))),
        el("td", {}, pick(c, "queue") || ""),
        el("td", {}, pick(c, "agent_id") || ""),
        el("td", { class: "disposition" }, pick(c, "disposition") || ""),
        el("td", { class: "notes" }, pick(c, "notes") || "")));
    }
    if (!tbody.firstChild) tbody.append(el("tr", {}, el("td", { colspan: "5", class: "muted" }, "No contacts yet.")));
  }

  // card: crm_lookup CustomerCard.to_json() — flat: customer_id, name, phone, company,
  // tier, vip, open_cases, recent_contacts, new_caller.
  function renderCard(card) {
    card = card || {};
    me.card = card;
    $("card-name").textContent = card.name || "Unknown caller";
    const tier = card.new_caller ? "new caller" : (card.tier || "");
    $("card-tier").textContent = tier;
    $("card-tier").classList.toggle("hidden", !tier || Boolean(card.vip));
    $("card-vip").classList.toggle("hidden", !card.vip);
    $("card-company").textContent = card.company || "";
    const phone = card.phone || (me.call && me.call.caller) || "";
    $("card-phone").textContent = phone;
    $("card-dial").dataset.number = phone;
    me.customerId = card.customer_id ?? null;
    // An unknown caller can be turned into a customer right from the card.
    $("new-customer").classList.toggle("hidden", !card.new_caller || !phone);
    const cases = clear($("card-cases"));
    for (const k of card.open_cases || []) {
      cases.append(el("li", { class: "case" }, "#" + k.id + " " + (k.subject || "") + " — " + (k.status || "open")));
    }
    if (!cases.firstChild) cases.append(el("li", { class: "muted" }, "No open cases."));
    renderCaseOptions(card.open_cases || []);
    renderHistory($("card-history"), card.recent_contacts || []);
    $("card").classList.remove("hidden");
    $("no-call").classList.add("hidden");
  }

  function renderCall(call) {
    me.call = call;
    if (!call) { $("controls").classList.add("hidden"); return; }
    if (call.call_id !== me.callId) { me.callId = call.call_id; me.contactId = null; }
    if (call.contact_id !== undefined && call.contact_id !== null) me.contactId = call.contact_id;
    $("call-queue").textContent = call.queue || "";
    $("call-state").textContent = call.state || "";
    const ivr = call.ivr || {};
    const waited = ivr.waited !== undefined && ivr.waited !== null ? ivr.waited
      : (call.queued_at && call.answered_at ? call.answered_at - call.queued_at : null);
    $("call-waited").textContent = duration(waited);
    $("call-verified").textContent = ivr.verified ? "verified" : "not verified";
    $("call-verified").className = ivr.verified ? "ok" : "warn";
    const path = clear($("ivr-path"));
    for (const step of ivr.path || []) {
      path.append(el("li", {}, (step.node || step.kind || "") +
        (step.digits ? " — pressed " + step.digits : "") + (step.result ? " → " + step.result : "")));
    }
    const live = call.state !== "ended";
    $("controls").classList.toggle("hidden", !live);
    $("btn-hold").disabled = call.state === "held";
    $("btn-unhold").disabled = call.state !== "held";
    $("card").classList.remove("hidden");
    $("no-call").classList.add("hidden");
  }

  async function cardForCall(call) {
    if (!call || !call.caller) return;
    try { renderCard((await api("GET", "/api/customers?phone=" + encodeURIComponent(call.caller))).card); }
    catch (e) { showError(e.message); }
  }

  // ---- call controls ----------------------------------------------------------------
  async function control(op, body) {
    showError("");
    if (!me.call) return;
    try { await api("POST", "/api/calls/" + encodeURIComponent(me.call.call_id) + "/" + op, body); }
    catch (e) { showError(e.message); }
  }
  $("btn-hold").addEventListener("click", () => control("hold"));
  $("btn-unhold").addEventListener("click", () => control("unhold"));
  $("btn-hangup").addEventListener("click", () => control("hangup"));
  $("btn-transfer").addEventListener("click", () =>
    control("transfer", { kind: $("transfer-kind").value, target: $("transfer-target").value.trim() }));
  $("transfer-kind").addEventListener("change", renderTransferOptions);
  function renderTransferOptions() {
    const list = clear($("transfer-options"));
    const kind = $("transfer-kind").value;
    const items = kind === "queue" ? queueNames
      : kind === "agent" ? [...agents.values()].filter((a) => a.agent_id !== me.agentId && a.state === "ready").map((a) => a.agent_id)
      : [];
    for (const v of items) list.append(el("option", { value: v }));
  }

  async function dial(number) {
    showError("");
    if (!number) return;
    try { await api("POST", "/api/dial", { number, customer_id: me.customerId ? String(me.customerId) : undefined }); }
    catch (e) { showError(e.message); }
  }
  $("btn-dial").addEventListener("click", () => dial($("dial-number").value.trim()));
  $("card-dial").addEventListener("click", () => dial($("card-dial").dataset.number));

  // ---- wrap-up ----------------------------------------------------------------------
  function showWrapup(contactId) {
    if (contactId !== null && contactId !== undefined) me.contactId = contactId;
    if (me.contactId === null) return;
    me.wrapupSince = me.wrapupSince || now();
    $("wrapup").classList.remove("hidden");
    $("wrapup-saved").textContent = "";
  }
  function renderCaseOptions(cases) {
    const select = clear($("case-mode"));
    select.append(el("option", { value: "none" }, "no case"), el("option", { value: "new" }, "create a case"));
    for (const k of cases) select.append(el("option", { value: "case:" + k.id }, "update #" + k.id + " " + (k.subject || "")));
    showCaseFields();
  }
  function showCaseFields() {
    const mode = $("case-mode").value;
    $("case-subject").classList.toggle("hidden", mode !== "new");
    $("case-status").classList.toggle("hidden", mode === "none");
  }
  $("case-mode").addEventListener("change", showCaseFields);
  $("wrapup").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showError("");
    const body = { disposition: $("disposition").value, notes: $("notes").value };
    const mode = $("case-mode").value;
    if (mode === "new") body.case = { subject: $("case-subject").value, status: $("case-status").value };
    else if (mode.startsWith("case:")) body.case = { id: mode.slice(5), status: $("case-status").value };
    try {
      await api("POST", "/api/contacts/" + encodeURIComponent(me.contactId) + "/wrapup", body);
      $("wrapup-saved").textContent = "Saved.";
      me.wrapupSince = null;
      $("notes").value = "";
      $("wrapup").classList.add("hidden");
      if (me.customerId) {
        const data = await api("GET", "/api/customers/" + encodeURIComponent(me.customerId) + "/contacts");
        renderHistory($("card-history"), data.contacts);
      }
    } catch (e) { showError(e.message); }
  });

  // ---- search -----------------------------------------------------------------------
  $("search").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const q = $("search-q").value.trim();
    if (!q) return;
    try {
      const data = await api("GET", "/api/customers?q=" + encodeURIComponent(q));
      const list = clear($("search-results"));
      for (const c of data.customers || []) {
        const label = (c.name || "") + (c.company ? " · " + c.company : "") +
          (c.phones && c.phones.length ? " · " + c.phones[0] : "");
        list.append(el("li", {}, el("a", { href: "#", onclick: (e) => { e.preventDefault(); history(c, label); } }, label)));
      }
      if (!list.firstChild) list.append(el("li", { class: "muted" }, "No match."));
    } catch (e) { showError(e.message); }
  });
  $("new-customer").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {
      name: $("new-customer-name").value.trim(),
      company: $("new-customer-company").value.trim(),
      phone: $("card-phone").textContent,
    };
    if (me.contactId !== null && me.contactId !== undefined) body.contact_id = String(me.contactId);
    try {
      const data = await api("POST", "/api/customers", body);
      $("new-customer").reset();
      renderCard(data.card);
    } catch (err) { showError(err.message); }
  });

  // The history pages through the API: "Older contacts" fetches the next page.
  const historyPage = { customer: null, next: null };
  function setOlder(next) {
    historyPage.next = next;
    $("search-history-more").classList.toggle("hidden", next === null || next === undefined);
  }
  async function history(customer, label) {
    try {
      const data = await api("GET", "/api/customers/" + encodeURIComponent(customer.id) + "/contacts");
      historyPage.customer = customer.id;
      $("search-history-name").textContent = label;
      renderHistory($("search-history-rows"), data.contacts);
      setOlder(data.next_offset);
      $("search-history").classList.remove("hidden");
    } catch (e) { showError(e.message); }
  }
  $("search-history-more").addEventListener("click", async () => {
    try {
      const url = "/api/customers/" + encodeURIComponent(historyPage.customer) +
        "/contacts?offset=" + encodeURIComponent(historyPage.next);
      const data = await api("GET", url);
      renderHistory($("search-history-rows"), data.contacts, true);
      setOlder(data.next_offset);
    } catch (e) { showError(e.message); }
  });

  // ---- live messages ----------------------------------------------------------------
  function onMessage(msg) {
    switch (msg.type) {
      case "snapshot": {
        me.agentId = msg.me.agent_id;
        queueNames = (msg.queues || []).map((q) => q.name);
        agents.clear();
        for (const a of msg.agents || []) agents.set(a.agent_id, a);
        applyAgent((msg.agents || []).find((a) => a.agent_id === me.agentId));
        renderTransferOptions();
        if (msg.current_call) {
          renderCall(msg.current_call);
          cardForCall(msg.current_call);
          if (msg.current_call.state === "ended" || me.state === "wrap_up") showWrapup(msg.current_call.contact_id);
        } else {
          renderCall(null);
        }
        break;
      }
      case "agent_state": applyAgent(msg.agent); break;
      case "screen_pop":
        me.wrapupSince = null;
        $("wrapup").classList.add("hidden");
        renderCall(msg.call);
        renderCard(msg.card);
        document.title = "Call: " + ($("card-name").textContent || "") + " — Switchboard";
        break;
      case "call_update":
        if (msg.call && (!me.call || msg.call.call_id === me.call.call_id)) renderCall(msg.call);
        break;
      case "call_ended":
        if (me.call && msg.call_id === me.call.call_id) {
          me.call = Object.assign({}, me.call, { state: "ended" });
          $("controls").classList.add("hidden");
          $("call-state").textContent = "ended";
        }
        showWrapup(msg.contact_id);
        document.title = "Agent — Switchboard";
        break;
      default: break;
    }
  }
  connect(onMessage);
})();

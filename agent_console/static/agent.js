"use strict";
// The agent console: availability bar, screen pop, call controls, wrap-up, search.
//
// Theory of operation: the websocket's snapshot and messages are the only source of the
// agent's state and call; every control is enabled from that state alone (enable()).
// A wrap-up is bound to its contact, not to "the current call": unsaved wrap-ups wait in
// a queue (kept in localStorage, so a reload finds them) and the form stays on screen
// until each is saved, whatever call pops meanwhile. Every keystroke in the form saves a
// draft: to localStorage at once and, debounced, to the server's draft API; a reload, a
// reconnect or a new pop fills the form back from the newer of the two.
(() => {
  const { api, el, clear, duration, when, now, connect, t, label, describeStep } = SB;
  const $ = (id) => document.getElementById(id);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const baseTitle = document.title;
  const me = { agentId: null, agent: null, call: null, card: null, customerId: null };
  const holds = { callId: null, since: null, total: 0 };
  const directory = new Map(); // agent id -> {agent_id, name, state}
  let queueNames = []; // the queues this user sees (the snapshot's)
  // Whether a case on a card opens for this user: its queue is one of theirs, or it is
  // assigned to them (cases_api.sees); else its number is plain text, not a dead link.
  const mayOpenCase = (k) => (k.agent_id && k.agent_id === me.agentId) || (Boolean(k.queue) && queueNames.includes(k.queue));
  let wraps = []; // unsaved wrap-ups: {contactId, name, phone, queue, customerId, cases}
  let shown = null; // the contact id the form shows
  let filling = false; // the form is being filled from a draft: not an edit
  let draftTimer = null;
  let serverDrafts = true; // false once the server says it has no draft API

  const LIVE = new Set(["talking", "held"]);
  const store = {
    get(key, fallback) {
      try { const v = localStorage.getItem(key); return v === null ? fallback : JSON.parse(v); }
      catch (e) { return fallback; }
    },
    set(key, value) { try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* full or off */ } },
    drop(key) { try { localStorage.removeItem(key); } catch (e) { /* off */ } },
  };
  const wrapsKey = () => "sb.wraps." + me.agentId;
  const draftKey = (id) => "sb.draft." + me.agentId + "." + id;
  const loginKey = () => "sb.login." + me.agentId;
  const agentName = (id) => (id && directory.has(id) ? directory.get(id).name : (id || ""));

  function fail(where, e) { SB.showError(e && e.message ? e.message : String(e || ""), where); }
  function clearErrors() {
    for (const id of ["action-error", "call-error", "dial-error", "wrapup-error", "new-customer-error", "search-error"]) {
      SB.showError("", id);
    }
  }
  function status(text) { $("call-status").textContent = text || ""; }

  // ---- state-driven controls ----------------------------------------------------------
  function enable() {
    const state = me.agent ? me.agent.state : "";
    const callState = me.call ? me.call.state : "";
    const busy = state === "ringing" || state === "on_call" || LIVE.has(callState);
    $("availability").disabled = busy || !me.agent;
    $("btn-availability").disabled = busy || !me.agent;
    $("btn-hold").disabled = callState !== "talking";
    $("btn-unhold").disabled = callState !== "held";
    const live = LIVE.has(callState);
    $("btn-hangup").disabled = !live;
    // shown only on a recorded call; pausing makes sense only while connected
    const recording = (me.call && me.call.recording) || {};
    $("btn-record").classList.toggle("hidden", !recording.on);
    $("btn-record").disabled = !recording.on || (callState !== "talking" && callState !== "held");
    $("btn-transfer").disabled = !live;
    $("transfer-kind").disabled = !live;
    $("transfer-target").disabled = !live;
    $("transfer-number").disabled = !live;
    const idle = !busy && callState !== "ringing";
    $("btn-dial").disabled = !idle;
    $("dial-number").disabled = !idle;
    $("card-dial").disabled = !idle || !$("card-dial").dataset.number;
  }

  function renderState() {
    const agent = me.agent || {};
    const state = agent.state || "";
    const overdue = state === "wrap_up" && agent.wrap_up_overdue;
    $("state").textContent = state ? label("state", overdue ? "wrap_up_overdue" : state) : "—";
    $("state").dataset.state = overdue ? "wrap_up_overdue" : state;
    $("state-reason").textContent = state === "not_ready" && agent.reason ? label("reason", agent.reason) : "";
    document.body.dataset.state = state;
    // The availability control shows the current state as its choice.
    // A state with no choice of its own (logged out, ringing, on a call, wrap-up) shows
    // as such ("Log out of queues" is an action, not a state).
    const sel = $("availability");
    const value = state === "not_ready" ? "not_ready:" + agent.reason : state;
    const own = state !== "logged_out" &&
      [...sel.options].some((o) => o.value === value && o.id !== "avail-current");
    $("avail-current").textContent = $("state").textContent;
    $("avail-current").hidden = own;
    sel.value = own ? value : "";
    enable();
  }

  function tick() {
    const agent = me.agent;
    // Logged out has no meaningful "time in state" (it would count from the service's
    // start, when the ACD first saw the agent): a dash.
    const counting = agent && agent.since && agent.state !== "logged_out";
    $("state-time").textContent = counting ? duration(now() - agent.since) : "—";
    const loggedIn = me.agentId ? store.get(loginKey(), null) : null;
    $("login-time").textContent = loggedIn ? duration(now() - loggedIn) : "—";
    const call = me.call;
    const known = call && call.ivr && call.ivr.waited !== undefined && call.ivr.waited !== null;
    if (call && !known && call.queued_at && !call.answered_at && call.state !== "ended") {
      $("call-waited").textContent = duration(now() - call.queued_at);
    }
    if (call && call.answered_at) {
      const end = call.ended_at || (call.state === "ended" ? call.endedLocal : null) || now();
      $("talk-time").textContent = duration(end - call.answered_at);
    } else {
      $("talk-time").textContent = "—";
    }
    const held = holds.total + (holds.since ? now() - holds.since : 0);
    $("hold-time").textContent = held > 0 || holds.since ? duration(held) : "—";
    renderWrapTimer();
  }
  setInterval(tick, 1000);

  function renderWrapTimer() {
    const node = $("wrapup-timer");
    const agent = me.agent || {};
    if (shown === null || agent.state !== "wrap_up") { node.textContent = ""; node.className = "timer"; return; }
    if (agent.wrap_up_overdue) {
      node.textContent = t("agent.wrap.overdue");
      node.className = "timer badge bad";
    } else if (agent.wrap_up_until) {
      node.textContent = t("agent.wrap.left", { time: duration(agent.wrap_up_until - now()) });
      node.className = "timer badge warn";
    } else {
      node.textContent = agent.since ? duration(now() - agent.since) : "";
      node.className = "timer";
    }
  }

  async function setState(body) {
    clearErrors();
    try { await api("PUT", "/api/agents/me/state", body); } catch (e) { fail("action-error", e); }
  }
  function chosenState() {
    const value = $("availability").value;
    if (value.startsWith("not_ready:")) return { state: "not_ready", reason: value.slice(10) };
    return { state: value };
  }
  $("btn-availability").addEventListener("click", () => {
    if (!$("availability").value) { $("availability").focus(); return; } // nothing chosen yet
    setState(chosenState());
  });
  function notReady() {
    let value = $("availability").value;
    if (!value.startsWith("not_ready:")) {
      const first = [...$("availability").options].find((o) => o.value.startsWith("not_ready:"));
      if (!first) return;
      value = first.value;
    }
    setState({ state: "not_ready", reason: value.slice(10) });
  }

  function applyAgent(agent) {
    if (!agent) return;
    if (directory.has(agent.agent_id)) directory.get(agent.agent_id).state = agent.state;
    if (agent.agent_id !== me.agentId) { renderTransferOptions(); return; }
    const before = me.agent ? me.agent.state : null;
    me.agent = agent;
    // "Logged in" counts from leaving logged_out; a page opened mid-shift starts it from
    // the current state's start, the best it can know.
    if (agent.state === "logged_out") store.drop(loginKey());
    else if (!store.get(loginKey(), null)) store.set(loginKey(), before === "logged_out" ? now() : (agent.since || now()));
    if (agent.state !== "ringing") stopRinging();
    renderState();
    tick();
  }

  // ---- ringing alert ------------------------------------------------------------------
  const ringing = { timer: null, on: false };
  function startRinging(name, call) {
    stopRinging();
    const text = t("agent.ringing.title", { name });
    document.title = text;
    ringing.timer = setInterval(() => {
      ringing.on = !ringing.on;
      document.title = ringing.on ? baseTitle : text;
    }, 1000);
    beep();
    if ($("notify").checked && "Notification" in window && Notification.permission === "granted") {
      try {
        const n = new Notification(text, { body: t("agent.notify.body", { queue: call.queue || "", number: call.caller || "" }), tag: "sb-ringing" });
        n.onclick = () => { window.focus(); n.close(); };
      } catch (e) { /* a browser without page notifications */ }
    }
  }
  function stopRinging() {
    if (ringing.timer) { clearInterval(ringing.timer); ringing.timer = null; }
    document.title = me.call && LIVE.has(me.call.state)
      ? t("agent.call.title", { name: $("card-name").textContent }) : baseTitle;
  }
  let audio = null;
  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const start = audio.currentTime;
      for (const [offset, freq] of [[0, 880], [0.25, 660]]) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.type = "sine";
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, start + offset);
        gain.gain.exponentialRampToValueAtTime(0.2, start + offset + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.2);
        osc.connect(gain).connect(audio.destination);
        osc.start(start + offset);
        osc.stop(start + offset + 0.22);
      }
    } catch (e) { /* no audio device: the title and the card still say it */ }
  }
  $("notify").checked = store.get("sb.notify", false) && "Notification" in window && Notification.permission === "granted";
  $("notify").addEventListener("change", async () => {
    SB.showError("", "action-error");
    if (!$("notify").checked) { store.set("sb.notify", false); return; }
    if (!("Notification" in window)) { $("notify").checked = false; SB.showError(t("agent.notify.denied")); return; }
    const answer = Notification.permission === "granted" ? "granted" : await Notification.requestPermission();
    if (answer !== "granted") { $("notify").checked = false; SB.showError(t("agent.notify.denied")); return; }
    store.set("sb.notify", true);
  });

  // ---- screen pop -------------------------------------------------------------------
  const pick = (obj, ...names) => {
    for (const n of names) if (obj && obj[n] !== undefined && obj[n] !== null && obj[n] !== "") return obj[n];
    return undefined;
  };

  function renderHistory(tbody, contacts) {
    clear(tbody);
    for (const c of contacts || []) {
      tbody.append(el("tr", { class: "contact-row" },
        el("td", {}, when(pick(c, "started_at", "arrived_at"))),
        el("td", {}, pick(c, "queue") || ""),
        el("td", {}, agentName(pick(c, "agent_id"))),
        el("td", { class: "disposition" }, label("disposition", pick(c, "disposition"))),
        el("td", { class: "notes" }, pick(c, "notes") || "")));
    }
    if (!tbody.firstChild) tbody.append(el("tr", {}, el("td", { colspan: "5", class: "muted" }, t("agent.history.none"))));
  }

  // card: crm_lookup CustomerCard.to_json() — flat: customer_id, name, phone, company,
  // tier, vip, open_cases, recent_contacts, new_caller.
  function renderCard(card) {
    card = card || {};
    me.card = card;
    $("card-name").textContent = card.name || t("agent.caller.unknown");
    const tier = card.new_caller ? t("agent.caller.new") : (card.tier || "");
    $("card-tier").textContent = tier;
    $("card-tier").classList.toggle("hidden", !tier || Boolean(card.vip));
    $("card-vip").classList.toggle("hidden", !card.vip);
    $("card-company").textContent = card.company || "";
    const phone = card.phone || (me.call && me.call.caller) || "";
    $("card-phone").textContent = phone;
    $("card-dial").dataset.number = phone;
    me.customerId = card.customer_id ?? null;
    // An unknown caller is first saved as a customer; only then can a case be opened.
    $("new-customer").classList.toggle("hidden", me.customerId !== null || !phone);
    const cases = clear($("card-cases"));
    for (const k of card.open_cases || []) cases.append(SB.caseItem(k, mayOpenCase));
    if (!cases.firstChild) cases.append(el("li", { class: "muted" }, t("agent.cases.none")));
    renderHistory($("card-history"), card.recent_contacts || []);
    $("card").classList.remove("hidden");
    $("no-customer").classList.add("hidden");
    renderPhoneTab();
    // The wrap-up of this call learns the customer (a caller saved as one mid-call).
    const contactId = me.call && me.call.contact_id;
    const wrap = wraps.find((w) => String(w.contactId) === String(contactId));
    if (wrap) {
      Object.assign(wrap, { customerId: me.customerId, cases: card.open_cases || [], name: $("card-name").textContent });
      saveWraps();
      if (String(shown) === String(wrap.contactId)) renderCaseOptions(wrap);
      showWrap(); // its heading names the customer now
    }
    enable();
  }

  // The phone tab says what the phone does, so a call is seen from a chat's tab too.
  function renderPhoneTab() {
    const call = me.call;
    const live = call && call.state !== "ended";
    $("tab-call-label").textContent = live
      ? t("agent.tab.phone_call", { state: label("call", call.state), name: $("card-name").textContent || call.caller || "" })
      : t("agent.tab.phone");
    $("tab-call").classList.toggle("ringing", Boolean(live && call.state === "ringing"));
  }

  function renderCall(call) {
    const previous = me.call;
    me.call = call;
    renderPhoneTab();
    if (!call) {
      $("pop").classList.add("hidden");
      $("no-call").classList.remove("hidden");
      enable();
      return;
    }
    if (!previous || previous.call_id !== call.call_id) {
      Object.assign(holds, { callId: call.call_id, since: null, total: 0 });
      SB.showError("", "call-error");
    }
    if (call.state === "held" && !holds.since) holds.since = now();
    if (call.state !== "held" && holds.since) { holds.total += now() - holds.since; holds.since = null; }
    $("call-queue").textContent = call.queue || "";
    $("call-state").textContent = label("call", call.state);
    $("call-state").dataset.state = call.state || "";
    renderRecording(call.recording || {});
    if (!$("card-phone").textContent) $("card-phone").textContent = call.caller || "";
    const ivr = call.ivr || {};
    const waited = ivr.waited !== undefined && ivr.waited !== null ? ivr.waited
      : (call.queued_at && call.answered_at ? call.answered_at - call.queued_at : null);
    $("call-waited").textContent = duration(waited);
    $("call-verified").textContent = ivr.verified ? t("agent.verified") : t("agent.not_verified");
    $("call-verified").className = "badge " + (ivr.verified ? "ok" : "warn");
    const path = clear($("ivr-path"));
    for (const step of ivr.path || []) {
      const words = describeStep(step);
      if (words) path.append(el("li", {}, words));
    }
    $("pop").classList.remove("hidden");
    $("controls").classList.toggle("hidden", call.state === "ended"); // room for the wrap-up
    $("no-call").classList.add("hidden");
    if (LIVE.has(call.state) && !ringing.timer) document.title = t("agent.call.title", { name: $("card-name").textContent });
    if (call.state !== "ringing") stopRinging();
    enable();
    tick();
  }

  function renderRecording(recording) {
    const paused = Boolean(recording.on && recording.paused);
    const badge = $("rec-indicator");
    badge.classList.toggle("hidden", !recording.on);
    badge.dataset.paused = String(paused);
    badge.textContent = recording.on ? t(paused ? "agent.recording.paused" : "agent.recording.on") : "";
    // one label, its state in aria-pressed: pressed = paused (a toggle's name stays put)
    $("btn-record").setAttribute("aria-pressed", String(paused));
  }

  async function cardForCall(call) {
    if (!call || !call.caller) return;
    try { renderCard((await api("GET", "/api/customers?phone=" + encodeURIComponent(call.caller))).card); }
    catch (e) { fail("call-error", e); }
  }

  // ---- call controls ----------------------------------------------------------------
  async function control(op, body) {
    clearErrors();
    if (!me.call) return;
    try { await api("POST", "/api/calls/" + encodeURIComponent(me.call.call_id) + "/" + op, body); }
    catch (e) { fail("call-error", e); }
  }
  $("btn-hold").addEventListener("click", () => control("hold"));
  $("btn-unhold").addEventListener("click", () => control("unhold"));
  $("btn-hangup").addEventListener("click", () => control("hangup"));
  $("btn-record").addEventListener("click", () => {
    const paused = $("btn-record").getAttribute("aria-pressed") === "true";
    control(paused ? "resume_recording" : "pause_recording");
  });
  $("btn-transfer").addEventListener("click", () => {
    const kind = $("transfer-kind").value;
    const target = kind === "number" ? $("transfer-number").value.trim() : $("transfer-target").value;
    control("transfer", { kind, target });
  });
  $("transfer-kind").addEventListener("change", renderTransferOptions);
  function renderTransferOptions() {
    const kind = $("transfer-kind").value;
    $("transfer-target").classList.toggle("hidden", kind === "number");
    $("transfer-number").classList.toggle("hidden", kind !== "number");
    const list = $("transfer-target");
    const keep = list.value;
    clear(list);
    if (kind === "queue") for (const q of queueNames) list.append(el("option", { value: q }, q));
    if (kind === "agent") {
      const ready = [...directory.values()].filter((a) => a.agent_id !== me.agentId && a.state === "ready");
      for (const a of ready) list.append(el("option", { value: a.agent_id }, a.name));
      if (!ready.length) list.append(el("option", { value: "" }, t("agent.transfer.no_agent")));
    }
    if ([...list.options].some((o) => o.value === keep)) list.value = keep;
  }
  async function loadDirectory() {
    try {
      const data = await api("GET", "/api/agents/directory");
      directory.clear();
      for (const a of data.agents || []) directory.set(a.agent_id, a);
      const mine = directory.get(me.agentId);
      if (mine) $("who").textContent = t("agent.who", { name: mine.name, id: mine.agent_id });
      renderTransferOptions();
      if (me.card) renderHistory($("card-history"), me.card.recent_contacts || []);
    } catch (e) { /* names fall back to ids; the transfer list to what the socket says */ }
  }
  $("transfer-kind").addEventListener("focus", loadDirectory);

  async function dial(number) {
    clearErrors();
    if (!number) return;
    try { await api("POST", "/api/dial", { number, customer_id: me.customerId ? String(me.customerId) : undefined }); }
    catch (e) { fail("dial-error", e); }
  }
  $("btn-dial").addEventListener("click", () => dial($("dial-number").value.trim()));
  $("card-dial").addEventListener("click", () => dial($("card-dial").dataset.number));

  // ---- wrap-up ----------------------------------------------------------------------
  function saveWraps() { if (me.agentId) store.set(wrapsKey(), wraps); }

  // A contact that needs a wrap-up joins the queue (once); the form shows the oldest, or
  // the one of the conversation whose tab is selected. ``info``: a chat's or an email's
  // {name, phone, queue, customerId, cases, conversation} (conversations.js); a call's
  // comes from the call on screen.
  function needWrap(contactId, info) {
    if (contactId === null || contactId === undefined) return;
    if (!wraps.some((w) => String(w.contactId) === String(contactId))) {
      const sameCall = !info && me.call && String(me.call.contact_id) === String(contactId);
      wraps.push(Object.assign({
        contactId: String(contactId),
        name: sameCall ? $("card-name").textContent : "",
        phone: sameCall ? (me.call.caller || "") : "",
        queue: sameCall ? (me.call.queue || "") : "",
        customerId: sameCall ? me.customerId : null,
        cases: sameCall && me.card ? me.card.open_cases || [] : [],
      }, info || {}, { contactId: String(contactId) }));
      saveWraps();
    }
    showWrap();
  }

  function showWrap() {
    const tab = conversations.activeKey();
    const wrap = (tab && wraps.find((w) => w.conversation === tab)) || wraps[0];
    if (wrap && shown !== null && String(shown) !== String(wrap.contactId) && draftTimer) pushDraft(); // the last keystrokes of the one it leaves
    $("wrapup-queued").textContent = wraps.length > 1 ? t("agent.wrap.queued", { count: wraps.length - 1 }) : "";
    if (!wrap) { shown = null; $("wrapup").classList.add("hidden"); return; }
    $("wrapup").classList.remove("hidden");
    $("wrapup-heading").textContent = wrap.name ? t("agent.wrap.for", { name: wrap.name }) : t("agent.wrap.heading");
    if (String(shown) === String(wrap.contactId)) return;
    shown = wrap.contactId;
    fill({ disposition: "", notes: "", case: { mode: "none" } });
    renderCaseOptions(wrap);
    $("draft-status").textContent = "";
    SB.showError("", "wrapup-error");
    restoreDraft(wrap.contactId);
    renderWrapTimer();
  }

  function renderCaseOptions(wrap) {
    const select = $("case-mode");
    const keep = select.value;
    clear(select);
    select.append(el("option", { value: "none" }, t("agent.wrap.case.none")));
    const known = wrap.customerId !== null && wrap.customerId !== undefined;
    // An unknown caller's new case creates the customer first (issue 17): the form asks
    // for their name, sent as case.new_customer.
    select.append(el("option", { value: "new" }, t("agent.wrap.case.new")));
    for (const k of known ? wrap.cases || [] : []) {
      select.append(el("option", { value: "case:" + k.id }, t("agent.wrap.case.update", { id: k.number || k.id, subject: k.subject || "" })));
    }
    $("case-hint").classList.toggle("hidden", known);
    select.dataset.unknown = known ? "" : "1";
    if ([...select.options].some((o) => o.value === keep)) select.value = keep;
    showCaseFields();
  }
  function showCaseFields() {
    const mode = $("case-mode").value;
    $("case-subject-field").classList.toggle("hidden", mode !== "new");
    $("case-new-customer-field").classList.toggle("hidden", mode !== "new" || !$("case-mode").dataset.unknown);
    $("case-status-field").classList.toggle("hidden", mode === "none");
  }
  $("case-mode").addEventListener("change", showCaseFields);

  // The form as the draft API's object, and back.
  function draftOf() {
    const mode = $("case-mode").value;
    const kase = mode === "new" ? { mode: "new", subject: $("case-subject").value, status: $("case-status").value }
      : mode.startsWith("case:") ? { mode: "case", id: mode.slice(5), status: $("case-status").value }
      : { mode: "none" };
    return { disposition: $("disposition").value, notes: $("notes").value, case: kase };
  }
  function fill(draft) {
    filling = true;
    const kase = draft.case || { mode: "none" };
    $("disposition").value = [...$("disposition").options].some((o) => o.value === draft.disposition) ? draft.disposition : "";
    $("notes").value = draft.notes || "";
    const mode = kase.mode === "case" ? "case:" + kase.id : kase.mode || "none";
    if ([...$("case-mode").options].some((o) => o.value === mode)) $("case-mode").value = mode;
    $("case-subject").value = kase.subject || "";
    $("case-status").value = kase.status || "open";
    showCaseFields();
    filling = false;
  }
  const unsaved = (d) => Boolean((d.notes || "").trim() || d.disposition || (d.case && (d.case.subject || "").trim()));

  async function restoreDraft(contactId) {
    const local = store.get(draftKey(contactId), null); // {draft, at}
    let remote = null;
    if (serverDrafts) {
      try { remote = await api("GET", "/api/contacts/" + encodeURIComponent(contactId) + "/draft"); }
      catch (e) { noDraftApi(e); }
    }
    if (String(shown) !== String(contactId)) return; // the form moved on meanwhile
    const best = remote && remote.draft && (!local || (remote.updated_at || 0) >= (local.at || 0))
      ? remote.draft : (local ? local.draft : null);
    if (best && unsaved(best) && !unsaved(draftOf())) {
      fill(best);
      $("draft-status").textContent = t("agent.wrap.draft.restored");
    }
  }
  function noDraftApi(e) {
    if (e && /not found|method not allowed/i.test(e.message || "")) serverDrafts = false;
  }

  function draftChanged() {
    if (filling || shown === null) return;
    store.set(draftKey(shown), { draft: draftOf(), at: now() });
    clearTimeout(draftTimer);
    draftTimer = setTimeout(pushDraft, 400);
  }
  async function pushDraft() {
    clearTimeout(draftTimer);
    draftTimer = null;
    if (shown === null) return;
    const contactId = shown;
    if (!serverDrafts) { $("draft-status").textContent = t("agent.wrap.draft.local"); return; }
    try {
      await api("PUT", "/api/contacts/" + encodeURIComponent(contactId) + "/draft", draftOf());
      if (String(shown) === String(contactId)) $("draft-status").textContent = t("agent.wrap.draft.saved");
    } catch (e) {
      noDraftApi(e);
      $("draft-status").textContent = t("agent.wrap.draft.local");
    }
  }
  // Leaving the page: the last keystrokes go out with keepalive (the page may be gone
  // before an ordinary fetch answers); localStorage already has them.
  function flushOnLeave() {
    if (shown === null || !draftTimer || !serverDrafts) return;
    clearTimeout(draftTimer);
    draftTimer = null;
    try {
      fetch("/api/contacts/" + encodeURIComponent(shown) + "/draft", {
        method: "PUT", keepalive: true, credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
        body: JSON.stringify(draftOf()),
      });
    } catch (e) { /* localStorage holds it */ }
  }
  $("wrapup").addEventListener("input", draftChanged);
  $("wrapup").addEventListener("change", draftChanged);
  $("wrapup").addEventListener("focusout", () => { if (draftTimer) pushDraft(); });
  window.addEventListener("pagehide", flushOnLeave);

  $("wrapup").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors();
    const wrap = wraps.find((w) => String(w.contactId) === String(shown));
    if (!wrap) return;
    const draft = draftOf();
    $("disposition").removeAttribute("aria-invalid");
    $("case-subject").removeAttribute("aria-invalid");
    if (!draft.disposition) {
      $("disposition").setAttribute("aria-invalid", "true");
      SB.showError(t("agent.wrap.need_disposition"), "wrapup-error");
      $("disposition").focus();
      return;
    }
    const body = { disposition: draft.disposition, notes: draft.notes };
    if (draft.case.mode === "new") {
      if (!draft.case.subject.trim()) {
        $("case-subject").setAttribute("aria-invalid", "true");
        SB.showError(t("agent.wrap.need_subject"), "wrapup-error");
        $("case-subject").focus();
        return;
      }
      body.case = { subject: draft.case.subject.trim(), status: draft.case.status };
      if ($("case-mode").dataset.unknown) body.case.new_customer = { name: $("case-new-customer").value.trim() };
    } else if (draft.case.mode === "case") {
      body.case = { id: draft.case.id, status: draft.case.status };
    }
    $("btn-wrapup").disabled = true;
    try {
      await api("POST", "/api/contacts/" + encodeURIComponent(wrap.contactId) + "/wrapup", body);
    } catch (e) {
      fail("wrapup-error", e);
      $("btn-wrapup").disabled = false;
      return;
    }
    $("btn-wrapup").disabled = false;
    clearTimeout(draftTimer);
    draftTimer = null;
    store.drop(draftKey(wrap.contactId));
    wraps = wraps.filter((w) => w !== wrap);
    saveWraps();
    shown = null;
    if (wrap.conversation) conversations.wrapSaved(wrap.conversation); // then the ACD frees the slot
    status(t("agent.wrap.saved", { name: wrap.name || wrap.phone || "#" + wrap.contactId }));
    const focusBack = document.activeElement && $("wrapup").contains(document.activeElement);
    showWrap();
    if (focusBack) (wraps.length ? $("disposition") : $("main")).focus();
    if (wrap.customerId !== null && wrap.customerId !== undefined && String(wrap.customerId) === String(me.customerId)) {
      try {
        const data = await api("GET", "/api/customers/" + encodeURIComponent(wrap.customerId) + "/contacts");
        if (me.card) me.card.recent_contacts = data.contacts;
        renderHistory($("card-history"), data.contacts);
      } catch (e) { fail("wrapup-error", e); }
    }
  });

  // ---- customers ----------------------------------------------------------------------
  $("search").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    SB.showError("", "search-error");
    const q = $("search-q").value.trim();
    if (!q) return;
    try {
      const data = await api("GET", "/api/customers?q=" + encodeURIComponent(q));
      const list = clear($("search-results"));
      for (const c of data.customers || []) {
        const text = (c.name || "") + (c.company ? " · " + c.company : "") +
          (c.phones && c.phones.length ? " · " + c.phones[0] : "");
        // A new tab: the call on this page is never navigated away from.
        list.append(el("li", {}, el("a", { href: "/customers/" + encodeURIComponent(c.id), target: "_blank", rel: "noopener" }, text)));
      }
      if (!list.firstChild) list.append(el("li", { class: "muted" }, t("agent.search.none")));
    } catch (e) { fail("search-error", e); }
  });
  $("new-customer").addEventListener("submit", async (e) => {
    e.preventDefault();
    SB.showError("", "new-customer-error");
    const body = {
      name: $("new-customer-name").value.trim(),
      company: $("new-customer-company").value.trim(),
      phone: $("card-phone").textContent,
    };
    const contactId = me.call ? me.call.contact_id : null;
    if (contactId !== null && contactId !== undefined) body.contact_id = String(contactId);
    try {
      const data = await api("POST", "/api/customers", body);
      $("new-customer").reset();
      renderCard(data.card);
      status(t("agent.newcust.saved", { name: body.name }));
    } catch (err) { fail("new-customer-error", err); }
  });

  // ---- keyboard ---------------------------------------------------------------------
  const typing = (node) => node && (node.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(node.tagName));
  let keysReturn = null;
  function openKeys() {
    keysReturn = document.activeElement;
    $("keys-overlay").classList.remove("hidden");
    $("keys-close").focus();
  }
  function closeKeys() {
    $("keys-overlay").classList.add("hidden");
    const back = keysReturn && keysReturn !== document.body && document.contains(keysReturn);
    (back ? keysReturn : $("main")).focus();
    keysReturn = null;
  }
  $("btn-keys").addEventListener("click", openKeys);
  $("keys-close").addEventListener("click", closeKeys);
  $("keys-overlay").addEventListener("click", (e) => { if (e.target === $("keys-overlay")) closeKeys(); });
  const press = (id) => { const b = $(id); if (b && !b.disabled) b.click(); };
  document.addEventListener("keydown", (e) => {
    const open = !$("keys-overlay").classList.contains("hidden");
    if (open) {
      if (e.key === "Escape") { e.preventDefault(); closeKeys(); }
      else if (e.key === "Tab") { e.preventDefault(); $("keys-close").focus(); } // one control: focus stays in
      return;
    }
    if (e.ctrlKey && e.key === "Enter" && $("wrapup").contains(document.activeElement)) {
      e.preventDefault();
      $("wrapup").requestSubmit();
      return;
    }
    if (conversations.handleKey(e)) { e.preventDefault(); return; }
    if (e.altKey && !e.ctrlKey && !e.metaKey) {
      const busy = $("availability").disabled;
      const actions = {
        KeyR: () => { if (!busy) setState({ state: "ready" }); },
        KeyN: () => { if (!busy) notReady(); },
        KeyH: () => press(me.call && me.call.state === "held" ? "btn-unhold" : "btn-hold"),
        KeyE: () => press("btn-hangup"),
        KeyP: () => press("btn-record"),
        KeyT: () => {
          if ($("btn-transfer").disabled) return;
          const target = $("transfer-kind").value === "number" ? $("transfer-number") : $("transfer-target");
          loadDirectory();
          target.focus();
        },
        KeyW: () => { if (shown !== null) $("notes").focus(); },
        KeyS: () => $("search-q").focus(),
      };
      if (actions[e.code]) { e.preventDefault(); actions[e.code](); }
      return;
    }
    if (typing(document.activeElement) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "/") { e.preventDefault(); $("search-q").focus(); }
    else if (e.key === "?") { e.preventDefault(); openKeys(); }
  });

  // ---- live messages ----------------------------------------------------------------
  function onMessage(msg) {
    switch (msg.type) {
      case "snapshot": {
        const first = me.agentId === null;
        me.agentId = msg.me.agent_id;
        if (first) {
          wraps = store.get(wrapsKey(), []);
          loadDirectory();
        }
        queueNames = (msg.queues || []).map((q) => q.name);
        for (const a of msg.agents || []) {
          if (directory.has(a.agent_id)) directory.get(a.agent_id).state = a.state;
          else directory.set(a.agent_id, { agent_id: a.agent_id, name: a.name || a.agent_id, state: a.state });
        }
        me.agent = null;
        applyAgent((msg.agents || []).find((a) => a.agent_id === me.agentId));
        renderTransferOptions();
        const call = msg.current_call;
        renderCall(call || null);
        if (call) cardForCall(call);
        // An answered call that ended (or is being wrapped up) needs its wrap-up; a missed
        // one has nothing to wrap up.
        const wrapping = call && call.answered_at && (call.state === "ended" || (me.agent && me.agent.state === "wrap_up"));
        if (wrapping) needWrap(call.contact_id);
        else showWrap();
        conversations.reload(); // the chats and emails the desk has the agent on
        break;
      }
      case "agent_state": applyAgent(msg.agent); break;
      case "screen_pop":
        // A new pop never hides an unsaved wrap-up: the form keeps its contact.
        renderCall(msg.call);
        renderCard(msg.card);
        status("");
        clearErrors(); // the last call's errors do not belong to this one
        startRinging($("card-name").textContent, msg.call || {});
        renderPhoneTab();
        // on a chat's tab the pop is not in sight: said, and one key away (Alt+1)
        if (conversations.activeKey()) conversations.announce(t("agent.conv.ringing", { name: $("card-name").textContent }));
        break;
      case "call_update":
        if (msg.call && (!me.call || msg.call.call_id === me.call.call_id)) {
          if (!me.call) cardForCall(msg.call);
          renderCall(msg.call);
        }
        break;
      case "call_ended":
        if (me.call && msg.call_id === me.call.call_id) {
          const answered = Boolean(me.call.answered_at);
          const contactId = msg.contact_id ?? me.call.contact_id;
          renderCall(Object.assign({}, me.call, { state: "ended", endedLocal: now() }));
          if (answered) needWrap(contactId); // a missed call has nothing to wrap up
        }
        stopRinging();
        break;
      default: conversations.onMessage(msg); break;
    }
  }
  // The chats and emails (conversations.js): their tabs beside the phone's; their wrap-ups
  // are this page's (needWrap, the same form and drafts).
  const conversations = AgentConversations({
    needWrap,
    renderHistory,
    myName: () => agentName(me.agentId),
    myId: () => me.agentId,
    onCall: () => Boolean(me.call && me.call.state !== "ended"),
    wrapPending: (key) => wraps.some((w) => w.conversation === key),
    mayOpenCase,
    focusWrap: () => { if (shown !== null) $("disposition").focus(); },
    tabChanged: () => showWrap(),
  });
  // The knowledge base beside the card (static/kb.js): an inserted article goes to the
  // open chat's or email's reply box (conversations.js), else to the clipboard, and counts
  // as used on the contact in hand: the open tab's conversation, else the call.
  SBKb.attachToggle($("btn-kb"), $("kb-side"), {
    onInsert: SBKb.defaultInsert($("call-status")),
    contactId: () => (conversations.activeKey() ? conversations.activeContactId()
      : me.call ? me.call.contact_id : null),
  });
  renderTransferOptions();
  enable();
  connect(onMessage);
})();

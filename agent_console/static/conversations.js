"use strict";
// The agent page's chats and emails: one tab each beside the phone tab, with the
// customer card, the thread, the reply box (or the email composer), canned responses and
// the End button. agent.js owns the page (the websocket, the call, the one wrap-up form);
// it calls AgentConversations(page) once and hands it every live message.
//
// Theory of operation: a conversation's tab is built from <template id="conv-template">
// when the desk assigns it (conversation_assigned) or when a snapshot's reload lists it
// (GET /api/conversations, then GET /api/conversations/{key} for the thread and the card).
// The thread is keyed by seq, so a message that comes both as the POST's answer and as a
// conversation_message delta is shown once. Nothing a customer sends is HTML: every text
// goes in through textContent. A conversation that ends (End, or the customer left) joins
// the page's wrap-up queue by its contact id — the same form, drafts and save as a call's
// — and once that wrap-up is saved the page closes the conversation (page.onWrapSaved).
// A new conversation never takes the focus from a field being typed in: it is announced in
// the live region, and selected only when the agent is idle on the phone tab.
// eslint-disable-next-line no-unused-vars
function AgentConversations(page) {
  const { api, el, clear, duration, when, now, t, label, messageText } = SB;
  const $ = (id) => document.getElementById(id);
  const tabs = new Map(); // key -> {conv, card, tab, panel, parts, seqs, ...}
  let active = null; // the key of the selected conversation tab; null: the phone tab
  let canned = null; // the responses of GET /api/canned-responses, once loaded
  let serial = 0;
  const TYPING_EVERY = 3000; // ms between two "typing on" to the customer
  const TYPING_IDLE = 4000; // ms without a keystroke: "typing off"
  const THEIR_TYPING = 8000; // ms a customer's "typing" shows without news

  const isTyping = (node) => node && (node.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(node.tagName));
  const announce = (text) => { $("conv-announce").textContent = ""; setTimeout(() => { $("conv-announce").textContent = text; }, 50); };
  const partyName = (entry) => (entry.card && !entry.card.new_caller && entry.card.name)
    || (entry.conv.party && (entry.conv.party.name || entry.conv.party.email || entry.conv.party.phone)) || t("agent.caller.unknown");

  // ---- canned responses --------------------------------------------------------------
  // The placeholders of routing/canned_responses.py, filled the same way.
  const NEUTRAL = { "customer.name": t("agent.canned.there"), "customer.first_name": t("agent.canned.there"), "agent.name": "", queue: "" };
  function fill(text, values) {
    return text.replace(/\{\{|\}\}|\{([^{}]*)\}/g, (token, name) => {
      if (token === "{{" || token === "}}") return token[0];
      return values[name] || NEUTRAL[name] || "";
    });
  }
  function valuesFor(entry) {
    const known = entry.card && !entry.card.new_caller && entry.card.name;
    const name = known ? entry.card.name : ((entry.conv.party && entry.conv.party.name) || "");
    return {
      "customer.name": name,
      "customer.first_name": name.trim().split(/\s+/)[0] || "",
      "agent.name": page.myName(),
      queue: entry.conv.queue || "",
    };
  }
  let cannedLoading = null; // the request in flight: one, however many ask meanwhile
  function loadCanned() {
    if (canned) return Promise.resolve(canned);
    if (!cannedLoading) {
      cannedLoading = api("GET", "/api/canned-responses")
        .then((data) => { canned = data.responses || []; return canned; })
        .finally(() => { cannedLoading = null; });
    }
    return cannedLoading;
  }

  // Text put into a reply box at the cursor (a canned response, an article), the cursor
  // after it; ``ownLine`` starts it on a new line after what was typed. The customer
  // sees the agent typing, as for a keystroke.
  function insertAtCursor(box, text, ownLine) {
    const start = box.selectionStart ?? box.value.length;
    const end = box.selectionEnd ?? start;
    const before = box.value.slice(0, start);
    const put = ownLine && before && !before.endsWith("\n") ? "\n" + text : text;
    box.value = before + put + box.value.slice(end);
    box.setSelectionRange(start + put.length, start + put.length);
    box.dispatchEvent(new Event("input"));
  }

  function openCanned(entry, query) {
    const p = entry.parts;
    p.canned.classList.remove("hidden");
    p["canned-open"].setAttribute("aria-expanded", "true");
    p["canned-filter"].value = query || "";
    p["canned-filter"].focus();
    loadCanned().then(() => renderCanned(entry)).catch((e) => { p.error.textContent = e.message; });
  }
  function closeCanned(entry, back) {
    const p = entry.parts;
    p.canned.classList.add("hidden");
    p["canned-open"].setAttribute("aria-expanded", "false");
    p["canned-filter"].removeAttribute("aria-activedescendant");
    if (back) p.reply.focus();
  }
  function cannedChoices(entry) {
    const q = entry.parts["canned-filter"].value.trim().toLowerCase();
    const lang = entry.conv.language || "";
    return (canned || []).filter((r) => (r.channels || []).includes(entry.conv.channel)
      && (!r.language || !lang || r.language === lang || lang.startsWith(r.language))
      && (!q || r.title.toLowerCase().includes(q) || r.id.toLowerCase().includes(q) || r.text.toLowerCase().includes(q)));
  }
  function renderCanned(entry) {
    const p = entry.parts;
    const list = clear(p["canned-list"]);
    const choices = cannedChoices(entry);
    choices.forEach((r, i) => {
      list.append(el("li", { role: "option", id: entry.id + "-canned-" + i, class: "canned-option", "aria-selected": i === 0 ? "true" : "false", dataset: { index: String(i) } },
        el("strong", {}, r.title), " ", el("span", { class: "muted" }, fill(r.text, valuesFor(entry)))));
    });
    if (!choices.length) list.append(el("li", { class: "muted" }, t("agent.canned.none")));
    entry.cannedIndex = choices.length ? 0 : -1;
    markCanned(entry);
  }
  function markCanned(entry) {
    const p = entry.parts;
    const options = [...p["canned-list"].querySelectorAll("[role=option]")];
    options.forEach((o, i) => o.setAttribute("aria-selected", i === entry.cannedIndex ? "true" : "false"));
    const current = options[entry.cannedIndex];
    if (current) { p["canned-filter"].setAttribute("aria-activedescendant", current.id); current.scrollIntoView({ block: "nearest" }); }
    else p["canned-filter"].removeAttribute("aria-activedescendant");
  }
  function useCanned(entry, index) {
    const choice = cannedChoices(entry)[index];
    if (!choice) return;
    closeCanned(entry, true);
    insertAtCursor(entry.parts.reply, fill(choice.text, valuesFor(entry)), false);
  }

  // ---- a tab -------------------------------------------------------------------------
  function build(conv) {
    serial += 1;
    const id = "conv-" + serial;
    const panel = $("conv-template").content.firstElementChild.cloneNode(true);
    const parts = {};
    for (const node of panel.querySelectorAll("[data-part]")) {
      parts[node.dataset.part] = node;
      node.id = id + "-" + node.dataset.part;
    }
    for (const node of panel.querySelectorAll("[data-for]")) node.setAttribute("for", id + "-" + node.dataset.for);
    for (const node of panel.querySelectorAll("[data-describe]")) node.setAttribute("aria-describedby", id + "-" + node.dataset.describe);
    for (const node of panel.querySelectorAll("[data-labelled]")) node.setAttribute("aria-labelledby", id + "-" + node.dataset.labelled);
    for (const node of panel.querySelectorAll("[data-controls]")) node.setAttribute("aria-controls", id + "-" + node.dataset.controls);
    panel.id = id + "-panel";
    panel.hidden = true;
    const tab = el("button", { type: "button", role: "tab", id: id + "-tab", class: "contact-tab", "aria-controls": panel.id, "aria-selected": "false", tabindex: "-1" });
    panel.setAttribute("aria-labelledby", tab.id);
    const entry = { id, conv, card: null, tab, panel, parts, seqs: new Set(), lastSeq: 0, unread: 0, typingTimer: null, typingOnAt: 0, idleTimer: null, cannedIndex: -1 };
    const email = conv.channel === "email";
    for (const node of panel.querySelectorAll(".email-only")) node.classList.toggle("hidden", !email);
    parts["reply-label"].textContent = t(email ? "agent.conv.email_body" : "agent.conv.reply");
    parts.hint.textContent = t(email ? "agent.conv.hint_email" : "agent.conv.hint_chat");
    parts.reply.rows = email ? 8 : 3;
    // a thread longer than a page opens on its newest messages; this reads the page before
    parts.earlier = el("button", { type: "button", class: "secondary earlier", id: id + "-earlier" }, t("agent.conv.earlier"));
    parts.earlier.hidden = true;
    parts["thread-log"].insertBefore(parts.earlier, parts.thread);
    wire(entry);
    $("contact-tabs").append(tab);
    $("conv-panels").append(panel);
    tabs.set(conv.key, entry);
    numberTabs();
    return entry;
  }

  function wire(entry) {
    const p = entry.parts;
    const email = () => entry.conv.channel === "email";
    entry.tab.addEventListener("click", () => select(entry.conv.key));
    p["reply-form"].addEventListener("submit", (ev) => { ev.preventDefault(); send(entry); });
    p.reply.addEventListener("keydown", (ev) => {
      if (ev.isComposing) return;
      if (ev.key === "Enter" && !ev.shiftKey && !ev.altKey && !ev.metaKey) {
        // a chat sends on Enter; an email (paragraphs) on Ctrl+Enter
        if (email() ? ev.ctrlKey : !ev.ctrlKey) { ev.preventDefault(); send(entry); }
      }
    });
    p.reply.addEventListener("input", () => {
      if (p.reply.value === "/") { p.reply.value = ""; openCanned(entry, ""); return; }
      typingNow(entry);
    });
    p["canned-open"].addEventListener("click", () => openCanned(entry, ""));
    p["canned-filter"].addEventListener("input", () => renderCanned(entry));
    p["canned-filter"].addEventListener("keydown", (ev) => {
      const count = cannedChoices(entry).length;
      if (ev.key === "ArrowDown" && count) { ev.preventDefault(); entry.cannedIndex = (entry.cannedIndex + 1) % count; markCanned(entry); }
      else if (ev.key === "ArrowUp" && count) { ev.preventDefault(); entry.cannedIndex = (entry.cannedIndex - 1 + count) % count; markCanned(entry); }
      else if (ev.key === "Enter") {
        // typed ahead of the list's first load: the choice is made once it has come
        ev.preventDefault();
        loadCanned().then(() => {
          if (p.canned.classList.contains("hidden")) return; // closed meanwhile
          if (entry.cannedIndex < 0) renderCanned(entry);
          useCanned(entry, entry.cannedIndex);
        }).catch((e) => { p.error.textContent = e.message; });
      }
      else if (ev.key === "Escape") { ev.preventDefault(); ev.stopPropagation(); closeCanned(entry, true); }
    });
    p["canned-list"].addEventListener("click", (ev) => {
      const option = ev.target.closest("[role=option]");
      if (option) useCanned(entry, Number(option.dataset.index));
    });
    p.end.addEventListener("click", () => end(entry));
    p.earlier.addEventListener("click", () => loadEarlier(entry));
  }

  function numberTabs() {
    let n = 2;
    for (const entry of tabs.values()) {
      const name = partyName(entry);
      const kind = t(entry.conv.channel === "email" ? "agent.tab.email" : "agent.tab.chat");
      const unread = entry.unread ? t("agent.tab.unread", { count: entry.unread }) : "";
      clear(entry.tab).append(el("kbd", { "aria-hidden": "true" }, n <= 9 ? String(n) : "·"), " ", el("span", {}, kind + " · " + name));
      if (unread) entry.tab.append(" ", el("span", { class: "badge" }, unread));
      entry.tab.setAttribute("aria-keyshortcuts", n <= 9 ? "Alt+" + n : "");
      if (n > 9) entry.tab.removeAttribute("aria-keyshortcuts");
      entry.tab.classList.toggle("ended", entry.conv.state !== "active");
      n += 1;
    }
  }

  function allTabs() { return [$("tab-call"), ...[...tabs.values()].map((e) => e.tab)]; }

  // The knowledge-base panel (agent.html, static/kb.js) goes with the open tab, beside its
  // card: one panel, moved, so a search in progress and its results stay as they were.
  function placeKb(entry) {
    const kb = $("kb-side-panel");
    const home = entry ? entry.panel : $("panel-call");
    if (kb && kb.parentNode !== home) home.append(kb);
  }

  // Select a tab (null: the phone tab); ``focus``: where the keyboard goes ("tab", "reply").
  function select(key, focus) {
    const entry = key ? tabs.get(key) : null;
    active = entry ? key : null;
    placeKb(entry);
    $("panel-call").hidden = Boolean(entry);
    $("tab-call").setAttribute("aria-selected", String(!entry));
    $("tab-call").tabIndex = entry ? -1 : 0;
    for (const e of tabs.values()) {
      const on = e === entry;
      e.panel.hidden = !on;
      e.tab.setAttribute("aria-selected", String(on));
      e.tab.tabIndex = on ? 0 : -1;
    }
    if (entry) {
      entry.unread = 0;
      numberTabs();
      scrollThread(entry);
    }
    page.tabChanged(entry ? entry.conv : null);
    if (focus === "tab") (entry ? entry.tab : $("tab-call")).focus();
    else if (focus === "reply" && entry) {
      (entry.conv.state === "active" ? entry.parts.reply : entry.tab).focus();
    }
  }

  $("contact-tabs").addEventListener("keydown", (ev) => {
    if (!["ArrowLeft", "ArrowRight", "Home", "End"].includes(ev.key)) return;
    const list = allTabs();
    const at = list.indexOf(document.activeElement);
    if (at < 0) return;
    ev.preventDefault();
    const to = ev.key === "Home" ? 0 : ev.key === "End" ? list.length - 1
      : (at + (ev.key === "ArrowRight" ? 1 : -1) + list.length) % list.length;
    select(to === 0 ? null : [...tabs.keys()][to - 1], "tab");
  });
  $("tab-call").addEventListener("click", () => select(null));

  function remove(key) {
    const entry = tabs.get(key);
    if (!entry) return;
    clearTimeout(entry.typingTimer);
    clearTimeout(entry.idleTimer);
    const hadFocus = entry.panel.contains(document.activeElement) || entry.tab === document.activeElement;
    if (entry.panel.contains($("kb-side-panel"))) placeKb(null); // it stays on the page
    entry.tab.remove();
    entry.panel.remove();
    tabs.delete(key);
    numberTabs();
    if (active === key) select(null, hadFocus ? "tab" : undefined);
  }

  // ---- rendering ---------------------------------------------------------------------
  function render(entry) {
    const p = entry.parts;
    const conv = entry.conv;
    const email = conv.channel === "email";
    p.heading.textContent = partyName(entry);
    p.channel.textContent = t(email ? "agent.tab.email" : "agent.tab.chat");
    p.state.textContent = label("conv", conv.state);
    p.state.dataset.state = conv.state || "";
    p.queue.textContent = conv.queue || "";
    const waited = conv.queued_at && conv.assigned_at ? conv.assigned_at - conv.queued_at : null;
    p.waited.textContent = duration(waited);
    p.subject.textContent = email && conv.subject ? t("agent.conv.subject_line", { subject: conv.subject }) : "";
    p.subject.classList.toggle("hidden", !(email && conv.subject));
    if (email) {
      const subject = conv.subject || "";
      p["subject-input"].value = /^re:/i.test(subject) ? subject : t("agent.conv.re", { subject });
    }
    const live = conv.state === "active";
    p.reply.disabled = !live;
    p.send.disabled = !live;
    p["canned-open"].disabled = !live;
    p.end.disabled = !live;
    p["ended-note"].textContent = live ? "" : t(conv.state === "closed" ? "agent.conv.closed" : "agent.conv.ended");
    if (!live) { p.typing.textContent = ""; closeCanned(entry, false); }
    renderQuoted(entry);
    numberTabs();
  }

  function renderCard(entry) {
    const p = entry.parts;
    const card = entry.card || {};
    const party = entry.conv.party || {};
    p["card-name"].textContent = partyName(entry);
    const tier = card.new_caller ? t("agent.conv.new_customer") : (card.tier || "");
    p["card-tier"].textContent = tier;
    p["card-tier"].classList.toggle("hidden", !tier || Boolean(card.vip));
    p["card-vip"].classList.toggle("hidden", !card.vip);
    p["card-company"].textContent = card.company || "";
    p["card-phone"].textContent = card.phone || party.phone || "—";
    p["card-email"].textContent = card.email || party.email || "—";
    const cases = clear(p["card-cases"]);
    for (const k of card.open_cases || []) cases.append(SB.caseItem(k, page.mayOpenCase));
    if (!cases.firstChild) cases.append(el("li", { class: "muted" }, t("agent.cases.none")));
    page.renderHistory(p["card-history"], card.recent_contacts || []);
    p.heading.textContent = partyName(entry);
    numberTabs();
  }

  function addMessage(entry, m) {
    if (!m || entry.seqs.has(m.seq)) return false;
    entry.seqs.add(m.seq);
    entry.lastSeq = Math.max(entry.lastSeq, m.seq || 0);
    const who = m.sender === "agent" ? (m.name || page.myName()) : m.sender === "system" ? t("agent.conv.system") : (m.name || partyName(entry));
    const item = el("li", { class: "msg " + (m.sender || "customer"), dataset: { seq: String(m.seq) } },
      el("div", { class: "msg-head" }, el("span", { class: "msg-who" }, who), " ", el("time", { class: "muted" }, when(m.at))),
      el("div", { class: "msg-text" }, messageText(m)));
    // a bounce: the line links the reply it is about, and that reply says it did not arrive
    const bounce = m.sender === "system" ? (m.meta || {}).bounce : null;
    if (bounce && bounce.reply_seq) {
      item.classList.add("bounce");
      item.append(el("button", { type: "button", class: "link msg-bounce-reply",
        onclick: () => showReply(entry, bounce.reply_seq) }, t("agent.conv.bounce_show")));
      if (bounce.action !== "delayed") markBounced(entry, bounce.reply_seq, [bounce.status, bounce.diagnostic].filter(Boolean).join(" "));
    }
    // an email's attachments: downloads from the console (scope-checked, never shown inline)
    const files = Array.isArray((m.meta || {}).attachments) ? m.meta.attachments : [];
    if (files.length) {
      const list = el("ul", { class: "msg-attachments", "aria-label": t("agent.conv.attachments") });
      for (const f of files) {
        const href = path(entry, "attachments/" + encodeURIComponent(String(f.id)));
        const size = Number(f.size) >= 1024 ? Math.round(Number(f.size) / 1024) + " KB" : (Number(f.size) || 0) + " B";
        list.append(el("li", {}, el("a", { href, download: String(f.filename || "") }, String(f.filename || f.id)), " ", el("span", { class: "muted" }, "(" + size + ")")));
      }
      item.append(list);
    }
    // an email reply is stored before it is sent: one the relay did not take says why
    const delivery = (m.meta || {}).delivery;
    if (delivery === "bounced") item.append(bouncedStatus(m.meta.delivery_error));
    else if (delivery === "failed") item.append(el("p", { class: "msg-status error", role: "status" }, t("agent.conv.not_sent", { reason: m.meta.delivery_error || "" })));
    else if (delivery === "queued") item.append(el("p", { class: "msg-status muted" }, t("agent.conv.sending")));
    // in seq order whatever order they came in
    const after = [...entry.parts.thread.children].find((li) => Number(li.dataset.seq) > m.seq);
    entry.parts.thread.insertBefore(item, after || null);
    if (m.sender === "customer") entry.parts.typing.textContent = "";
    renderQuoted(entry);
    return true;
  }

  function bouncedStatus(reason) {
    return el("p", { class: "msg-status error msg-bounced", role: "status" },
      t("agent.conv.bounced", { reason: reason || t("agent.conv.bounce_no_reason") }));
  }
  function replyItem(entry, seq) {
    return [...entry.parts.thread.children].find((li) => Number(li.dataset.seq) === Number(seq)) || null;
  }
  // the reply a bounce names, shown now (a live bounce): its status says it did not arrive
  function markBounced(entry, seq, reason) {
    const li = replyItem(entry, seq);
    if (!li || li.querySelector(".msg-bounced")) return;
    const old = li.querySelector(".msg-status");
    if (old) old.remove();
    li.append(bouncedStatus(reason));
  }
  function showReply(entry, seq) {
    const li = replyItem(entry, seq);
    if (!li) return;
    li.tabIndex = -1;
    li.scrollIntoView({ block: "center" });
    li.focus();
  }

  // An email's thread, quoted as a reply quotes it, read-only under the composer.
  function renderQuoted(entry) {
    if (entry.conv.channel !== "email") return;
    const lines = [];
    for (const li of entry.parts.thread.children) {
      const head = li.querySelector(".msg-head").textContent;
      const body = li.querySelector(".msg-text").textContent;
      lines.push("> " + head, ...body.split("\n").map((l) => "> " + l), ">");
    }
    entry.parts.quoted.textContent = lines.join("\n") || t("agent.conv.no_messages");
  }

  function scrollThread(entry) { const log = entry.parts["thread-log"]; log.scrollTop = log.scrollHeight; }

  function tick() {
    for (const entry of tabs.values()) {
      const start = entry.conv.assigned_at;
      const stop = entry.conv.ended_at || null;
      entry.parts.since.textContent = start ? duration((stop || now()) - start) : "—";
    }
  }
  setInterval(tick, 1000);

  // ---- actions -----------------------------------------------------------------------
  const path = (entry, what) => "/api/conversations/" + encodeURIComponent(entry.conv.key) + (what ? "/" + what : "");

  async function send(entry) {
    const p = entry.parts;
    p.error.textContent = "";
    const text = p.reply.value;
    if (!text.trim() || entry.conv.state !== "active") return;
    p.send.disabled = true;
    try {
      const message = await api("POST", path(entry, "messages"), { text });
      p.reply.value = "";
      stopTyping(entry);
      if (addMessage(entry, message)) scrollThread(entry);
    } catch (e) {
      p.error.textContent = e.message;
    } finally {
      p.send.disabled = entry.conv.state !== "active";
    }
  }

  // The customer sees "typing…": on at most every few seconds while keys come, off after a
  // pause or a send. Over the socket (no request per keystroke); lost ones matter little.
  function typingNow(entry) {
    const at = Date.now();
    if (at - entry.typingOnAt > TYPING_EVERY) {
      entry.typingOnAt = at;
      SB.send({ type: "conversation_typing", conversation: entry.conv.key, on: true });
    }
    clearTimeout(entry.idleTimer);
    entry.idleTimer = setTimeout(() => stopTyping(entry), TYPING_IDLE);
  }
  function stopTyping(entry) {
    clearTimeout(entry.idleTimer);
    entry.idleTimer = null;
    if (!entry.typingOnAt) return;
    entry.typingOnAt = 0;
    if (entry.conv.state === "active") SB.send({ type: "conversation_typing", conversation: entry.conv.key, on: false });
  }

  async function end(entry) {
    const p = entry.parts;
    p.error.textContent = "";
    entry.ending = true; // the desk's "ended" delta may come before this answer
    try {
      await api("POST", path(entry, "end"));
    } catch (e) { entry.ending = false; p.error.textContent = e.message; return; }
    stopTyping(entry);
    update(Object.assign({}, entry.conv, { state: "ended", ended_at: entry.conv.ended_at || now() }), true);
  }

  // The conversation's state changed (a delta, an answer, a reload).
  function update(conv, byAgent) {
    const entry = tabs.get(conv.key);
    if (!entry) return;
    const was = entry.conv.state;
    entry.conv = Object.assign({}, entry.conv, conv);
    if (conv.state === "closed") { remove(conv.key); return; }
    render(entry);
    if (conv.state === "ended" && was === "active" && !byAgent && !entry.ending) announce(t("agent.conv.left", { name: partyName(entry) }));
    if (conv.state === "ended") wrapUp(entry, byAgent);
  }

  function wrapUp(entry, focusForm) {
    if (entry.conv.contact_id === null || entry.conv.contact_id === undefined) return;
    page.needWrap(entry.conv.contact_id, {
      name: partyName(entry),
      phone: (entry.conv.party && (entry.conv.party.phone || entry.conv.party.email)) || "",
      queue: entry.conv.queue || "",
      customerId: entry.card ? entry.card.customer_id ?? null : entry.conv.customer_id ?? null,
      cases: (entry.card && entry.card.open_cases) || [],
      conversation: entry.conv.key,
    });
    if (focusForm && active === entry.conv.key) page.focusWrap();
  }

  // ---- live messages and reloads -----------------------------------------------------
  function assigned(conv, card) {
    let entry = tabs.get(conv.key);
    const fresh = !entry;
    if (!entry) entry = build(conv);
    entry.conv = Object.assign({}, entry.conv, conv);
    if (card && Object.keys(card).length) entry.card = card;
    render(entry);
    renderCard(entry);
    if (fresh) {
      // the first messages (a chat's opening line, the email itself) come with the detail
      loadDetail(entry);
      const n = [...tabs.keys()].indexOf(conv.key) + 2;
      const kind = t(conv.channel === "email" ? "agent.tab.email" : "agent.tab.chat");
      announce(t("agent.conv.new", { kind, name: partyName(entry), key: n <= 9 ? "Alt+" + n : "" }));
      const idle = !isTyping(document.activeElement) && active === null && !page.onCall();
      if (idle) select(conv.key, "reply");
    }
  }

  // The newest page of the thread (a long one's earlier pages come on request).
  async function loadDetail(entry) {
    try {
      const data = await api("GET", path(entry));
      if (!tabs.has(entry.conv.key)) return;
      entry.conv = Object.assign({}, entry.conv, data.conversation);
      if (data.card) entry.card = data.card;
      for (const m of data.messages || []) addMessage(entry, m);
      const first = (data.messages || [])[0];
      if (first) entry.firstSeq = Math.min(first.seq, entry.firstSeq || first.seq);
      // numbered from 1: anything above it has earlier messages (more_before)
      entry.parts.earlier.hidden = !(data.more_before && entry.firstSeq > 1);
      render(entry);
      renderCard(entry);
      if (active === entry.conv.key) scrollThread(entry);
      if (entry.conv.state === "ended") wrapUp(entry, false);
    } catch (e) {
      entry.parts.error.textContent = e.message;
    }
  }

  async function loadEarlier(entry) {
    const p = entry.parts;
    p.error.textContent = "";
    const log = p["thread-log"];
    const fromBottom = log.scrollHeight - log.scrollTop;
    p.earlier.disabled = true;
    try {
      const data = await api("GET", path(entry) + "?before_seq=" + encodeURIComponent(String(entry.firstSeq)));
      const got = data.messages || [];
      for (const m of got) addMessage(entry, m);
      entry.firstSeq = got.length ? Math.min(entry.firstSeq, got[0].seq) : 1;
      p.earlier.hidden = !(data.more_before && entry.firstSeq > 1);
      log.scrollTop = log.scrollHeight - fromBottom; // the agent stays where they were reading
      if (p.earlier.hidden) log.focus();
    } catch (e) {
      p.error.textContent = e.message;
    } finally {
      p.earlier.disabled = false;
    }
  }

  // After every snapshot (the first, a reconnect): the desk's list is the truth.
  async function reload() {
    let list;
    try { list = (await api("GET", "/api/conversations")).conversations || []; }
    catch (e) { return; }
    const keys = new Set(list.map((c) => c.key));
    for (const key of [...tabs.keys()]) if (!keys.has(key) && !page.wrapPending(key)) remove(key);
    for (const conv of list) {
      const entry = tabs.get(conv.key) || build(conv);
      entry.conv = Object.assign({}, entry.conv, conv);
      render(entry);
      loadDetail(entry);
    }
  }

  function onMessage(msg) {
    switch (msg.type) {
      // A supervisor's own agent page gets their queues' conversations too: only the
      // user's own make tabs.
      case "conversation_assigned":
        if (msg.conversation && msg.conversation.agent_id === page.myId()) assigned(msg.conversation, msg.card);
        return true;
      case "conversation_update":
        if (!msg.conversation) return true;
        // taken from the agent (logged out: it waits again for someone) unless it ended
        if (msg.conversation.agent_id !== page.myId() && msg.conversation.state !== "ended" && msg.conversation.state !== "closed") remove(msg.conversation.key);
        else update(msg.conversation, false);
        return true;
      case "conversation_message": {
        const entry = tabs.get(msg.conversation_key);
        if (!entry || !addMessage(entry, msg.message)) return true;
        if (active === msg.conversation_key) scrollThread(entry);
        if (msg.message.sender === "customer" && (active !== msg.conversation_key || document.hidden)) {
          entry.unread += 1;
          numberTabs();
          announce(t("agent.conv.message", { name: partyName(entry) }));
        }
        return true;
      }
      case "conversation_typing": {
        const entry = tabs.get(msg.conversation_key);
        if (!entry || msg.who !== "customer") return true;
        clearTimeout(entry.typingTimer);
        entry.parts.typing.textContent = msg.on ? t("agent.conv.typing", { name: partyName(entry) }) : "";
        if (msg.on) entry.typingTimer = setTimeout(() => { entry.parts.typing.textContent = ""; }, THEIR_TYPING);
        return true;
      }
      default:
        return false;
    }
  }

  // The wrap-up of a conversation was saved: close it (the ACD frees the slot).
  async function wrapSaved(key) {
    const entry = tabs.get(key);
    try {
      await api("POST", "/api/conversations/" + encodeURIComponent(key) + "/close");
    } catch (e) {
      // already closed (the wrap-up limit released it, another tab closed it): gone anyway
      if (!(e.status === 404 || e.status === 409)) { if (entry) entry.parts.error.textContent = e.message; return; }
    }
    remove(key);
  }

  // Alt+1..9 (1 is the phone), Alt+E on a conversation's tab.
  function handleKey(ev) {
    if (!ev.altKey || ev.ctrlKey || ev.metaKey) return false;
    const digit = /^Digit([1-9])$/.exec(ev.code);
    if (digit) {
      const n = Number(digit[1]);
      const keys = [...tabs.keys()];
      if (n === 1) select(null, "tab");
      else if (keys[n - 2]) select(keys[n - 2], "reply");
      else return false;
      return true;
    }
    if (ev.code === "KeyE" && active) {
      const entry = tabs.get(active);
      if (entry && !entry.parts.end.disabled) entry.parts.end.click();
      return true;
    }
    return false;
  }

  // A knowledge-base article inserted (static/kb.js) while a live chat or email is the
  // open tab: into its reply box at the cursor, where the agent edits it before sending.
  document.addEventListener("sb-kb-insert", (ev) => {
    const entry = active ? tabs.get(active) : null;
    const box = entry && entry.parts.reply;
    if (!box || box.disabled) return; // the phone tab: kb.js copies it instead
    ev.preventDefault();
    insertAtCursor(box, ev.detail.text, true);
    box.focus();
  });

  // The contact the agent is working on in the open tab (an article used counts on it).
  function activeContactId() {
    const entry = active ? tabs.get(active) : null;
    return entry ? entry.conv.contact_id ?? null : null;
  }

  return { onMessage, reload, wrapSaved, handleKey, announce, activeKey: () => active, activeContactId };
}

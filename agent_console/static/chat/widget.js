// Switchboard web chat: the widget a company puts on its site with one tag (docs/chat.md)
//   <script src="https://<the service>/chat/widget.js" async></script>
// No build step. Everything it shows lives in a shadow root, so the site's styles do not
// break it; every text from a visitor or an agent is written
// with textContent, never as HTML. It talks to the service it was loaded from over one
// websocket and, after a drop, resumes with the chat's token and the last message number
// it saw (the token kept in sessionStorage), so nothing said meanwhile is lost.
(function () {
  "use strict";
  const CONFIG = "__SB_CHAT_CONFIG__";
  if (window.__sbChatLoaded) return;
  window.__sbChatLoaded = true;

  const script = document.currentScript;
  const base = new URL(script ? script.src : "/chat/widget.js", location.href);
  const wsUrl = (base.protocol === "https:" ? "wss://" : "ws://") + base.host + "/chat/ws";
  const lang = (navigator.language || "en").slice(0, 2).toLowerCase();
  const S = CONFIG.strings[lang] || CONFIG.strings.en;
  const STORE_KEY = "sb.chat." + base.host;

  function t(key, values) {
    return (S[key] || key).replace(/\{([a-z_]+)\}/g, (m, name) =>
      values && name in values ? String(values[name]) : m);
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // -- the page ---------------------------------------------------------------------------
  const host = el("div", { id: "sb-chat-widget" });
  // open, not closed: a page script can reach into either (it can wrap attachShadow), and an
  // open root lets assistive and testing tools (axe, Playwright) see the widget
  const root = host.attachShadow({ mode: "open" });
  const style = el("style");
  style.textContent = `
    :host { all: initial; }
    * { box-sizing: border-box; font: 16px/1.4 system-ui, sans-serif; }
    .launch { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;
      background: #0b4f8a; color: #fff; border: 0; border-radius: 24px; padding: 12px 20px;
      cursor: pointer; box-shadow: 0 2px 8px rgba(0,0,0,.3); }
    .panel { position: fixed; right: 20px; bottom: 20px; z-index: 2147483001; width: 340px;
      max-width: calc(100vw - 40px); height: 480px; max-height: calc(100vh - 40px);
      background: #fff; color: #1a1a1a; border: 1px solid #6b6b6b; border-radius: 8px;
      display: flex; flex-direction: column; box-shadow: 0 4px 16px rgba(0,0,0,.3); }
    [hidden] { display: none !important; }
    header { display: flex; justify-content: space-between; align-items: center;
      background: #0b4f8a; color: #fff; padding: 8px 12px; border-radius: 8px 8px 0 0; }
    header h2 { margin: 0; font-weight: 600; }
    header button { background: transparent; color: #fff; border: 1px solid #fff;
      border-radius: 4px; padding: 2px 8px; cursor: pointer; }
    form.start { padding: 12px; overflow: auto; display: flex; flex-direction: column; gap: 8px; }
    label { display: flex; flex-direction: column; gap: 2px; font-weight: 600; }
    input, select, textarea { font-weight: 400; border: 1px solid #6b6b6b; border-radius: 4px;
      padding: 6px; color: #1a1a1a; background: #fff; }
    .hint { color: #4a4a4a; font-size: 14px; margin: 0; }
    .primary { background: #0b4f8a; color: #fff; border: 0; border-radius: 4px; padding: 8px 12px;
      cursor: pointer; }
    .secondary { background: #fff; color: #0b4f8a; border: 1px solid #0b4f8a; border-radius: 4px;
      padding: 6px 10px; cursor: pointer; }
    :focus-visible { outline: 3px solid #f0a000; outline-offset: 2px; }
    ol.thread { list-style: none; margin: 0; padding: 12px; overflow-y: auto; flex: 1; }
    ol.thread li { margin: 0 0 8px; padding: 6px 10px; border-radius: 6px; max-width: 85%;
      white-space: pre-wrap; overflow-wrap: anywhere; }
    li.customer { background: #e3eefa; margin-left: auto; }
    li.agent { background: #f1f1f1; }
    li.system { background: transparent; color: #4a4a4a; font-style: italic; max-width: 100%; }
    .who { display: block; font-size: 13px; font-weight: 600; color: #3a3a3a; }
    .status { padding: 0 12px; min-height: 1.4em; color: #4a4a4a; font-size: 14px; }
    .compose { display: flex; flex-wrap: wrap; gap: 6px; padding: 8px 12px 12px; }
    .compose textarea { flex: 1 1 100%; resize: none; height: 3.5em; }
    .error { color: #a00000; font-size: 14px; margin: 0; }
  `;
  root.appendChild(style);

  const launch = el("button", { type: "button", class: "launch", "aria-expanded": "false" }, t("open"));
  const panel = el("section", { class: "panel", role: "dialog", "aria-labelledby": "sb-title" });
  panel.hidden = true;
  const header = el("header");
  header.appendChild(el("h2", { id: "sb-title" }, t("title")));
  const closeBtn = el("button", { type: "button", "aria-label": t("close") }, "×");
  header.appendChild(closeBtn);
  panel.appendChild(header);

  const form = el("form", { class: "start", novalidate: "" });
  form.appendChild(el("p", { class: "hint" }, t("intro")));
  function field(name, label, type, attrs) {
    const wrap = el("label", {}, label);
    const input = el(type === "select" ? "select" : "input", Object.assign({ name }, attrs || {}));
    if (type !== "select") input.type = type;
    wrap.appendChild(input);
    form.appendChild(wrap);
    return input;
  }
  const nameIn = field("name", t("name"), "text", { autocomplete: "name", maxlength: "200", required: "" });
  const phoneIn = field("phone", t("phone"), "tel", { autocomplete: "tel", maxlength: "40", "aria-describedby": "sb-contact-hint" });
  const emailIn = field("email", t("email"), "email", { autocomplete: "email", maxlength: "200", "aria-describedby": "sb-contact-hint" });
  form.appendChild(el("p", { class: "hint", id: "sb-contact-hint" }, t("contact_hint")));
  const topicIn = field("topic", t("topic"), "select");
  for (const topic of CONFIG.topics) topicIn.appendChild(el("option", { value: topic }, topic));
  const formError = el("p", { class: "error", role: "alert" });
  form.appendChild(formError);
  form.appendChild(el("button", { type: "submit", class: "primary" }, t("start")));
  panel.appendChild(form);

  const thread = el("ol", { class: "thread", "aria-live": "polite", "aria-relevant": "additions", tabindex: "0", "aria-label": t("title") });
  thread.hidden = true;
  panel.appendChild(thread);
  const status = el("p", { class: "status", role: "status" });
  panel.appendChild(status);
  const compose = el("div", { class: "compose" });
  compose.hidden = true;
  const textLabel = el("label", { for: "sb-text", style: "position:absolute;left:-9999px" }, t("message"));
  const textIn = el("textarea", { id: "sb-text", maxlength: String(CONFIG.maxChars) });
  const sendBtn = el("button", { type: "button", class: "primary" }, t("send"));
  const leaveBtn = el("button", { type: "button", class: "secondary" }, t("leave"));
  compose.append(textLabel, textIn, sendBtn, leaveBtn);
  panel.appendChild(compose);
  // after the chat: its transcript by email, or a new chat
  const after = el("form", { class: "start", novalidate: "" });
  after.hidden = true;
  const mailWrap = el("label", {}, t("transcript"));
  const mailIn = el("input", { type: "email", name: "transcript", autocomplete: "email", maxlength: "200" });
  mailWrap.appendChild(mailIn);
  after.appendChild(mailWrap);
  after.appendChild(el("button", { type: "submit", class: "primary" }, t("transcript_send")));
  const newChat = el("button", { type: "button", class: "secondary" }, t("new_chat"));
  after.appendChild(newChat);
  panel.appendChild(after);
  root.append(launch, panel);
  (document.body || document.documentElement).appendChild(host);

  // -- state ------------------------------------------------------------------------------
  let saved = {};
  try { saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || "{}") || {}; } catch (e) { saved = {}; }
  let ws = null;
  let retry = 0;
  let ended = false;
  let agentName = t("agent");
  const seen = new Set();
  // client_id -> text, until the service says it is stored: kept with the chat in
  // sessionStorage too, so a reload resends it; the same client_id again is stored once
  const unsent = new Map((Array.isArray(saved.unsent) ? saved.unsent : [])
    .filter((pair) => Array.isArray(pair) && typeof pair[0] === "string" && typeof pair[1] === "string"));
  // a fresh page shows the whole thread again (from 0); a reconnect within the page asks
  // only for what came after the last message it shows
  let lastSeq = 0;

  function save() {
    if (saved.conversation) saved.unsent = [...unsent];
    try { sessionStorage.setItem(STORE_KEY, JSON.stringify(saved)); } catch (e) { /* private mode */ }
  }

  function line(kind, who, text) {
    const item = el("li", { class: kind });
    if (who) item.appendChild(el("span", { class: "who" }, who));
    item.appendChild(document.createTextNode(text));
    thread.appendChild(item);
    thread.scrollTop = thread.scrollHeight;
  }

  function showChat() {
    form.hidden = true;
    thread.hidden = false;
    compose.hidden = ended;
  }

  function send(frame) {
    if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(frame)); return true; }
    return false;
  }

  function connect() {
    const sock = new WebSocket(wsUrl);
    ws = sock;
    sock.onopen = () => {
      retry = 0;
      status.textContent = "";
      if (saved.conversation && saved.token) {
        send({ type: "resume", conversation: saved.conversation, token: saved.token, after_seq: lastSeq });
      } else if (saved.pendingStart) {
        send(saved.pendingStart);
      }
    };
    sock.onmessage = (event) => {
      if (ws !== sock) return; // an older socket, closed for a new chat
      let frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      onFrame(frame);
    };
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null;
      if (ended || (!saved.conversation && !saved.pendingStart)) return;
      status.textContent = t("reconnecting");
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, Math.min(30000, 500 * 2 ** retry) * (0.5 + Math.random() / 2));
    };
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "started":
        saved = { conversation: frame.conversation, token: frame.token };
        save();
        showChat();
        textIn.focus();
        break;
      case "resumed":
        showChat();
        for (const [clientId, text] of unsent) send({ type: "message", text, client_id: clientId });
        break;
      case "message":
        // our own message, stored (its "sent" may have been lost with the socket)
        if (frame.sender === "customer" && frame.client_id && unsent.delete(frame.client_id)) save();
        if (seen.has(frame.seq)) return;
        seen.add(frame.seq);
        lastSeq = Math.max(lastSeq, frame.seq);
        save();
        if (frame.sender === "customer") line("customer", t("you"), frame.text);
        else if (frame.sender === "agent") { status.textContent = ""; line("agent", frame.name || agentName, frame.text); }
        else line("system", "", frame.text);
        break;
      case "sent":
        unsent.delete(frame.client_id);
        save();
        break;
      case "queued":
        status.textContent = t("queued", { position: frame.position, minutes: Math.max(1, Math.round((frame.estimate || 0) / 60)) });
        break;
      case "joined":
        agentName = frame.agent_name || agentName;
        status.textContent = "";
        line("system", "", t("joined", { agent: agentName }));
        break;
      case "typing":
        status.textContent = frame.on ? t("typing", { agent: agentName }) : "";
        break;
      case "ended":
        ended = true;
        unsent.clear();
        compose.hidden = true;
        status.textContent = "";
        line("system", "", t("ended"));
        saved = {};
        save();
        mailIn.value = mailIn.value || emailIn.value;
        after.hidden = false;
        break;
      case "transcript_sent":
        status.textContent = t("transcript_sent", { email: frame.email });
        break;
      case "offline":
        saved = {};
        save();
        formError.textContent = frame.message || t("offline");
        break;
      case "error":
        if (frame.code === "rate_limited") {
          status.textContent = t("rate_limited");
          if (frame.client_id && unsent.has(frame.client_id)) {
            const text = unsent.get(frame.client_id);
            unsent.delete(frame.client_id);
            save();
            if (!textIn.value) textIn.value = text; // given back to the visitor, not lost
          }
        } else if (frame.code === "bad_token") {
          saved = {};
          save();
          thread.hidden = true;
          compose.hidden = true;
          form.hidden = false;
        } else if (form.hidden) {
          status.textContent = t("error", { message: frame.message || frame.code });
        } else {
          formError.textContent = frame.message || frame.code;
        }
        if (frame.code !== "rate_limited" && saved.pendingStart) { delete saved.pendingStart; save(); }
        break;
      default:
        break;
    }
  }

  // -- what the visitor does -------------------------------------------------------------
  function openPanel() {
    panel.hidden = false;
    launch.hidden = true;
    launch.setAttribute("aria-expanded", "true");
    (form.hidden ? textIn : nameIn).focus();
    if (!ws && saved.conversation) connect();
  }
  function closePanel() {
    panel.hidden = true;
    launch.hidden = false;
    launch.setAttribute("aria-expanded", "false");
    launch.focus();
  }
  launch.addEventListener("click", openPanel);
  closeBtn.addEventListener("click", closePanel);
  panel.addEventListener("keydown", (event) => { if (event.key === "Escape") closePanel(); });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    formError.textContent = "";
    if (!nameIn.value.trim()) { formError.textContent = t("name"); nameIn.focus(); return; }
    if (!phoneIn.value.trim() && !emailIn.value.trim()) { formError.textContent = t("contact_hint"); phoneIn.focus(); return; }
    const start = {
      type: "start", name: nameIn.value.trim(), phone: phoneIn.value.trim(),
      email: emailIn.value.trim(), topic: topicIn.value, language: lang,
    };
    ended = false;
    saved = { pendingStart: start };
    if (!send(start)) connect();
  });

  let typingSent = false;
  let typingTimer = null;
  function sendMessage() {
    const text = textIn.value;
    if (!text.trim()) return;
    const clientId = Math.random().toString(36).slice(2, 14);
    unsent.set(clientId, text);
    save();
    textIn.value = "";
    send({ type: "message", text, client_id: clientId });
    if (typingSent) { send({ type: "typing", on: false }); typingSent = false; }
  }
  sendBtn.addEventListener("click", sendMessage);
  textIn.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); sendMessage(); }
  });
  textIn.addEventListener("input", () => {
    if (!typingSent) { typingSent = send({ type: "typing", on: true }); }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => { if (typingSent) send({ type: "typing", on: false }); typingSent = false; }, 3000);
  });
  leaveBtn.addEventListener("click", () => { send({ type: "leave" }); });
  after.addEventListener("submit", (event) => {
    event.preventDefault();
    if (mailIn.value.trim()) send({ type: "transcript", email: mailIn.value.trim() });
  });
  newChat.addEventListener("click", () => {
    if (ws) ws.close(1000);
    ended = false;
    seen.clear();
    lastSeq = 0;
    unsent.clear();
    thread.textContent = "";
    status.textContent = "";
    after.hidden = true;
    thread.hidden = true;
    compose.hidden = true;
    form.hidden = false;
    nameIn.focus();
  });

  if (saved.conversation) { openPanel(); }
})();

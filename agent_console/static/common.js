"use strict";
// Shared by every page: the string catalogue (t), JSON API calls with the CSRF token,
// safe DOM building (text only, never innerHTML), clock skew, and the self-healing
// websocket (exponential backoff with jitter; every reconnect starts from a fresh snapshot;
// a session that ended sends the page to /login; a lost connection shows a banner).
const SB = (() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const strings = JSON.parse((document.getElementById("sb-strings") || {}).textContent || "{}");
  let offset = 0;
  let socket = null;
  let nextId = 1;
  let reconnectNow = null;

  // The catalogue (agent_console/catalogue.py) in the page's language; {name} placeholders.
  const has = (key) => Object.prototype.hasOwnProperty.call(strings, key);
  function t(key, values) {
    const text = has(key) ? strings[key] : key;
    return text.replace(/\{([a-z_]+)\}/g, (m, name) =>
      (values && values[name] !== undefined && values[name] !== null ? String(values[name]) : m));
  }
  // A configured code (reason, disposition, state) in words: the catalogue's when it has
  // one, else the code as the operator wrote it.
  const label = (group, code) => (code && has(group + "." + code) ? t(group + "." + code) : (code || ""));
  const spell = (node) => String(node || "").replace(/[_-]+/g, " ").trim();

  // One IVR step ({node, kind, digits, result}) as a sentence an agent reads at a glance.
  // Collected digits are never shown: they may be an account number or a PIN.
  function describeStep(step) {
    const name = spell(step.node);
    const result = String(step.result || "");
    switch (step.kind) {
      case "play": return t(result.startsWith("interrupted") ? "ivr.play.interrupted" : "ivr.play", { name });
      case "menu":
        return result.startsWith("option") || step.digits
          ? t("ivr.menu.option", { name, digits: step.digits || result.replace("option ", "") })
          : t("ivr.menu.failed", { name });
      case "collect": return t("ivr.collect", { name });
      case "lookup": return t(result === "found" ? "ivr.lookup.found" : "ivr.lookup.not_found");
      case "hours": return t(has("ivr.hours." + result) ? "ivr.hours." + result : "ivr.hours.open");
      case "queue": return t("ivr.queue");
      case "callback": return t(result.startsWith("declined") ? "ivr.callback.declined" : "ivr.callback");
      case "voicemail": return t(result === "recorded" ? "ivr.voicemail" : "ivr.voicemail.none");
      case "transfer": return t("ivr.transfer");
      case "hangup": return t("ivr.hangup");
      case "branch": case "set": return null; // the script's own bookkeeping, not the caller's doing
      default: return t("ivr.other", { name, result });
    }
  }

  const now = () => Date.now() / 1000 + offset;
  const setServerNow = (serverNow) => { if (typeof serverNow === "number") offset = serverNow - Date.now() / 1000; };

  async function api(method, path, body) {
    const opts = { method, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let resp;
    try { resp = await fetch(path, opts); } catch (e) { throw new Error(t("error.network")); }
    if (resp.status === 401) { window.location.assign("/login"); throw new Error(t("session.ended")); }
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      // The field the server names goes with the error, so a form can show it in place.
      const err = new Error(data.message || resp.statusText);
      err.field = data.field || null;
      err.status = resp.status;
      throw err;
    }
    return data;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(node.dataset, v);
      else node.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) return "—";
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
  }

  // Dates in the page's language, in the browser's own variant of it when it has one (an
  // English page in a British browser: 03/12/2026, 14:05, not 12/3/2026, 2:05 PM).
  const pageLang = document.documentElement.lang || "";
  const dateLocale = (navigator.languages || []).find((l) => l.split("-")[0] === pageLang) || pageLang || undefined;
  // ``timeZone``: in that zone (a schedule's, named beside it) rather than the browser's.
  function when(value, timeZone) {
    if (value === null || value === undefined || value === "") return "";
    const d = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    if (isNaN(d)) return String(value);
    try { return d.toLocaleString(dateLocale, timeZone ? { timeZone } : undefined); }
    catch (e) { return d.toLocaleString(dateLocale); } // a zone this browser does not know
  }

  // An error shown where the agent acted: ``where`` is the id of the message slot next to
  // the control (default: the page's own slot). An empty message clears it.
  function showError(message, where) {
    const node = document.getElementById(where || "action-error");
    if (node) node.textContent = message || "";
  }

  // Whether the session behind this page still exists. The websocket cannot tell: a
  // refused upgrade (401) reaches the browser as a bare 1006, like any network failure.
  async function sessionEnded() {
    try {
      const resp = await fetch("/api/me", { credentials: "same-origin", cache: "no-store" });
      return resp.status === 401;
    } catch (e) { return false; } // the server is away: keep trying, the banner says so
  }

  function connect(onMessage) {
    const conn = document.getElementById("conn");
    const banner = document.getElementById("conn-banner");
    let delay = 500;
    let pinger = null;
    let timer = null;
    let failures = 0;
    const status = (live) => {
      if (conn) {
        conn.textContent = live ? t("conn.live") : t("conn.reconnecting");
        conn.className = "conn " + (live ? "on" : "off");
      }
      // One failed attempt may be a blip (a restart takes a second); from the second on,
      // the agent must see that the page is not live.
      if (banner) banner.hidden = live || failures < 2;
    };
    const open = () => {
      timer = null;
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      socket = new WebSocket(proto + "//" + location.host + "/ws");
      socket.onopen = () => {
        delay = 500;
        failures = 0;
        status(true);
        pinger = setInterval(() => send({ type: "ping" }), 25000);
      };
      socket.onmessage = (ev) => {
        let msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (msg.type === "snapshot") setServerNow(msg.now);
        if (msg.type === "error") showError(msg.message);
        onMessage(msg);
      };
      socket.onclose = async (ev) => {
        clearInterval(pinger);
        failures += 1;
        status(false);
        if (ev.code === 1008 || (ev.code !== 1000 && await sessionEnded())) {
          window.location.assign("/login");
          return;
        }
        const wait = delay * (0.5 + Math.random());
        delay = Math.min(delay * 2, 30000);
        timer = setTimeout(open, wait);
      };
    };
    reconnectNow = () => {
      if (!timer) return;
      clearTimeout(timer);
      delay = 500;
      open();
    };
    const retry = document.getElementById("conn-retry");
    if (retry) retry.addEventListener("click", () => reconnectNow && reconnectNow());
    open();
  }

  function send(msg) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return null;
    const id = nextId++;
    socket.send(JSON.stringify(Object.assign({ id }, msg)));
    return id;
  }

  // Every native <dialog> of a page: its cancel button closes it, and closing gives focus
  // back to the control that opened it, while that control is still on the page.
  let dialogOpener = null;
  for (const dialog of document.querySelectorAll("dialog")) {
    dialog.addEventListener("close", () => { if (dialogOpener && dialogOpener.isConnected) dialogOpener.focus(); });
    for (const b of dialog.querySelectorAll(".dialog-cancel")) b.addEventListener("click", () => dialog.close());
  }
  // Open one with ``title`` in its heading and its error slots empty.
  function openDialog(dialog, title, opener) {
    dialogOpener = opener || document.activeElement;
    dialog.querySelector("h2").textContent = title;
    for (const slot of dialog.querySelectorAll(".error")) slot.textContent = "";
    dialog.showModal();
  }

  // The language picker (templates/_language.html): stored per user, then the page again.
  const language = document.getElementById("language");
  if (language) {
    language.addEventListener("change", async () => {
      try {
        await api("PUT", "/api/me/preferences", { language: language.value });
        window.location.reload();
      } catch (e) { showError(e.message); language.value = language.dataset.current; }
    });
  }

  const signout = document.getElementById("signout");
  if (signout) {
    signout.addEventListener("click", async () => {
      try { await api("POST", "/api/logout"); } finally { window.location.assign("/login"); }
    });
  }

  // One open case on a customer card (crm_lookup Case.to_json): its number links to the
  // case page in a new tab (the call's page stays) when ``mayOpen(k)`` (the case is in
  // the viewer's scope: the card lists all the customer's open cases), its status, and
  // its SLA: breached (flagged, or a due time already past) or when the next target
  // falls due. A paused clock (pending the customer) shows no due time.
  function caseItem(k, mayOpen) {
    const sla = k.sla || {};
    const dues = [];
    if (!sla.first_response_at && typeof sla.first_response_due === "number") dues.push(sla.first_response_due);
    if (typeof sla.resolution_due === "number") dues.push(sla.resolution_due);
    const paused = k.status === "pending_customer";
    const next = paused || !dues.length ? null : Math.min(...dues);
    const breached = Boolean(sla.first_response_breached || sla.resolution_breached || (next !== null && next < now()));
    const number = k.number || String(k.id);
    const ref = !mayOpen || mayOpen(k)
      ? el("a", { href: "/cases/" + encodeURIComponent(number), target: "_blank", rel: "noopener",
        "aria-label": t("agent.case.open", { number }) }, number)
      : number;
    const item = el("li", { class: "case" + (breached ? " sla-breached" : "") },
      ref, " ", k.subject || "", " — ", label("case", k.status || "open"));
    if (breached) item.append(" ", el("strong", { class: "sla-flag" }, t("agent.case.sla.breached")));
    else if (next !== null) item.append(" ", el("span", { class: "muted" }, t("agent.case.sla.due", { due: when(next) })));
    return item;
  }

  // A message's text as shown: a bounce's system line (its meta.bounce, written by the
  // desk's delivery_report) in the page's language, else the stored text. Always text:
  // the callers write it with textContent, so a diagnostic's markup stays markup.
  function messageText(m) {
    const b = (m && m.meta && m.meta.bounce) || null;
    if (!b || m.sender !== "system") return (m && m.text) || "";
    const reason = [b.status, b.diagnostic].filter(Boolean).join(" ") || t("agent.conv.bounce_no_reason");
    const delayed = b.action === "delayed";
    const key = b.reply_seq
      ? (delayed ? "agent.conv.bounce_reply_delayed" : "agent.conv.bounce_reply_failed")
      : (delayed ? "agent.conv.bounce_message_delayed" : "agent.conv.bounce_message_failed");
    return t(key, { to: b.recipient || t("contact.thread.customer"), reason });
  }

  return { api, el, clear, duration, when, now, connect, send, showError, t, has, label, spell, describeStep, openDialog, caseItem, messageText };
})();

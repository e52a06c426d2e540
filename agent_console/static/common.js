"use strict";
// Shared by the agent console and the wallboard: JSON API calls with the CSRF token,
// safe DOM building (text only, never innerHTML), clock skew, and the self-healing
// websocket (exponential backoff with jitter; every reconnect starts from a fresh snapshot).
const SB = (() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  let offset = 0;
  let socket = null;
  let nextId = 1;

  const now = () => Date.now() / 1000 + offset;
  const setServerNow = (serverNow) => { if (typeof serverNow === "number") offset = serverNow - Date.now() / 1000; };

  async function api(method, path, body) {
    const opts = { method, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const resp = await fetch(path, opts);
    if (resp.status === 401) { window.location.assign("/login"); throw new Error("signed out"); }
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(data.message || resp.statusText);
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

  function when(value) {
    if (value === null || value === undefined || value === "") return "";
    const d = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    return isNaN(d) ? String(value) : d.toLocaleString();
  }

  function showError(message) {
    const node = document.getElementById("action-error");
    if (node) node.textContent = message || "";
  }

  function connect(onMessage) {
    const conn = document.getElementById("conn");
    let delay = 500;
    let pinger = null;
    const status = (live) => {
      if (!conn) return;
      conn.textContent = live ? "live" : "reconnecting…";
      conn.className = "conn " + (live ? "on" : "off");
    };
    const open = () => {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      socket = new WebSocket(proto + "//" + location.host + "/ws");
      socket.onopen = () => {
        delay = 500;
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
      socket.onclose = (ev) => {
        clearInterval(pinger);
        status(false);
        if (ev.code === 1008) { window.location.assign("/login"); return; }
        const wait = delay * (0.5 + Math.random());
        delay = Math.min(delay * 2, 30000);
        setTimeout(open, wait);
      };
    };
    open();
  }

  function send(msg) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return null;
    const id = nextId++;
    socket.send(JSON.stringify(Object.assign({ id }, msg)));
    return id;
  }

  const signout = document.getElementById("signout");
  if (signout) {
    signout.addEventListener("click", async () => {
      try { await api("POST", "/api/logout"); } finally { window.location.assign("/login"); }
    });
  }

  return { api, el, clear, duration, when, now, connect, send, showError };
})();

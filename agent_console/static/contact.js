"use strict";
// The contact page: the summary, the timeline in plain words (pauses of the recording as
// offsets from the answer) and the player when there is a recording this user may play.
(() => {
  const { api, el, clear, t, label, when, duration, describeStep, spell, showError, messageText } = SB;
  const $ = (id) => document.getElementById(id);
  const page = $("contact-page");
  if (page.dataset.found !== "true") return;
  const id = page.dataset.contact;
  const base = "/api/contacts/" + encodeURIComponent(id);
  const missing = (v) => v === null || v === undefined || v === "";
  const seconds = (v) => (missing(v) ? "—" : duration(v));

  function facts(c) {
    const dl = clear($("contact-facts"));
    const rows = [
      [t("contact.channel"), label("channel", c.channel || "voice")],
      [t("contact.caller"), c.direction === "outbound" ? c.dialed : c.caller],
      [t("customer.direction"), t(c.direction === "outbound" ? "customer.outbound" : "customer.inbound")],
      [t("customer.queue"), c.queue],
      [t("customer.agent"), c.agent_name || c.agent_id],
      [t("contact.arrived"), when(c.arrived_at || c.started_at)],
      [t("contact.answered"), when(c.answered_at)],
      [t("contact.ended"), when(c.ended_at)],
      [t("customer.waited"), seconds(c.wait_seconds)],
      [t("customer.talk"), seconds(c.talk_seconds)],
      [t("contact.hold"), seconds(c.hold_seconds)],
      [t("contact.wrapup"), seconds(c.wrapup_seconds)],
      [t("customer.outcome"), c.outcome ? label("outcome", c.outcome) : ""],
      [t("customer.disposition"), c.disposition ? label("disposition", c.disposition) : ""],
    ];
    for (const [k, v] of rows) dl.append(el("dt", {}, k), el("dd", {}, missing(v) ? "—" : v));
    const who = $("contact-customer");
    clear(who);
    if (c.customer_id) {
      who.append(el("a", { href: "/customers/" + encodeURIComponent(c.customer_id) }, t("contact.customer_link")));
    } else {
      who.textContent = t("contact.no_customer");
    }
    const steps = (c.ivr_path || [])
      .map((s) => (typeof s === "string" ? spell(s) : describeStep(s)))
      .filter(Boolean);
    $("contact-ivr").hidden = !steps.length;
    $("contact-ivr").textContent = steps.length ? t("customer.ivr") + ": " + steps.join(" → ") : "";
    $("contact-notes").hidden = !c.notes;
    $("contact-notes").textContent = c.notes ? t("customer.notes") + ": " + c.notes : "";
  }

  // One timeline entry in words; null for the script's own bookkeeping.
  function sentence(e, c, names) {
    const d = e.data || {};
    const agent = (a) => (a ? names[a] || a : t("contact.someone"));
    // A recording's pause or resume: where in the call, counted from the answer.
    const offset = () => duration(Math.max(0, e.at - (c.answered_at || e.at)));
    switch (e.kind) {
      case "arrived":
        return d.direction === "outbound"
          ? t("contact.event.placed", { number: d.dialed || "—" })
          : t("contact.event.arrived", { number: d.caller || t("contact.unknown_number") });
      case "ivr_step": return d.step ? (typeof d.step === "string" ? spell(d.step) : describeStep(d.step)) : null;
      case "ivr_done": return t("contact.event.ivr_done");
      case "queued": return t("contact.event.queued", { queue: d.queue || "—" });
      case "offered": return t("contact.event.offered", { agent: agent(d.agent_id) });
      case "answered": return t("contact.event.answered", { agent: agent(d.agent_id) });
      case "held": return t("contact.event.held");
      case "unheld": return t("contact.event.unheld");
      case "recording":
        return d.agent_id ? t("contact.event.recording_by", { agent: agent(d.agent_id) }) : t("contact.event.recording");
      case "note:dialed_for": return t("contact.event.dialed_for", { queue: d.queue || "—" });
      case "note:recording_paused": return t("contact.event.paused", { offset: offset(), agent: agent(d.agent_id) });
      case "note:recording_resumed": return t("contact.event.resumed", { offset: offset(), agent: agent(d.agent_id) });
      case "note:ring_no_answer": return t("contact.event.no_answer", { agent: agent(d.agent || d.agent_id) });
      case "note:transfer": return t("contact.event.transfer", { target: d.target || "—" });
      case "note:moved": return t("contact.event.moved", { queue: d.queue || "—" });
      case "note:overflow": return t("contact.event.overflow", { queue: d.to || "—" });
      case "note:callback": return t("contact.event.callback", { attempt: d.attempt || 1, outcome: spell(d.outcome) });
      case "ended": return t("contact.event.ended", { outcome: label("outcome", d.outcome) || "—" });
      case "wrapup": return t("contact.event.wrapup", { disposition: label("disposition", d.disposition) || "—" });
      case "customer": return t("contact.event.customer");
      default: return spell(e.kind.replace(/^note:/, ""));
    }
  }

  function timeline(c) {
    const list = clear($("contact-events"));
    const names = c.agent_names || {};
    for (const e of c.events || []) {
      const words = sentence(e, c, names);
      if (!words) continue;
      list.append(el("li", { class: "event " + e.kind.replace(/[^a-z_]/g, "-"), dataset: { kind: e.kind } },
        el("span", { class: "event-time" }, when(e.at)), " ", el("span", { class: "event-words" }, words)));
    }
    if (!list.firstChild) list.append(el("li", { class: "empty" }, t("contact.no_events")));
  }

  function player(c) {
    const slot = clear($("recording-slot"));
    const rec = c.recording || {};
    const section = slot.closest("section");
    section.hidden = rec.status === "none";
    const parts = c.recordings || [];
    if (parts.length > 1) {
      // Recorded in parts (a blind transfer to another agent): one player per agent's part.
      slot.append(partList(parts, c.agent_names || {}));
      return;
    }
    if (rec.status === "missing") {
      slot.append(el("p", { class: "recording-missing", id: "recording-missing" }, t("contact.recording_missing")));
    } else if (rec.status === "available" && rec.may_play) {
      slot.append(el("audio", { controls: "", preload: "metadata", id: "recording-audio",
        src: base + "/recording", "aria-label": t("contact.recording_of", { id }) }));
    } else if (rec.status === "available") {
      slot.append(el("p", { class: "muted" }, t("contact.recording_not_yours")));
    }
  }

  function partList(parts, names) {
    const list = el("ol", { class: "recording-parts", id: "recording-parts" });
    for (const p of parts) {
      const who = p.agent_id ? names[p.agent_id] || p.agent_id : t("contact.someone");
      const labelId = "recording-part-" + p.part + "-label";
      const item = el("li", { class: "recording-part", dataset: { part: String(p.part) } },
        el("p", { class: "recording-part-label", id: labelId },
          t("contact.recording_part", { part: p.part, agent: who, time: when(p.at) })));
      if (p.status === "missing") {
        item.append(el("p", { class: "recording-missing" }, t("contact.recording_missing")));
      } else if (p.may_play) {
        item.append(el("audio", { controls: "", preload: "metadata", id: "recording-audio-" + p.part,
          src: base + "/recording?part=" + p.part, "aria-labelledby": labelId }));
      } else {
        item.append(el("p", { class: "muted" }, t("contact.recording_not_yours")));
      }
      list.append(item);
    }
    return list;
  }

  // A chat's or an email's thread: every message as text (nothing a customer sent is HTML).
  function thread(c) {
    const section = $("contact-thread");
    const tr = c.transcript;
    section.hidden = !tr;
    if (!tr) return;
    const conv = tr.conversation || {};
    $("contact-thread-title").textContent = t(conv.channel === "email" ? "contact.thread.email" : "contact.thread.chat");
    $("contact-thread-subject").textContent = conv.subject ? t("agent.conv.subject_line", { subject: conv.subject }) : "";
    const list = clear($("contact-messages"));
    for (const m of tr.messages || []) list.append(messageItem(m, c));
    if (!list.firstChild) list.append(el("li", { class: "empty" }, t("agent.conv.no_messages")));
  }
  function messageItem(m, c) {
    const who = m.sender === "system" ? t("agent.conv.system")
      : m.name || (m.sender === "agent" ? c.agent_name || m.agent_id || "" : t("contact.thread.customer"));
    const item = el("li", { class: "msg " + (m.sender || "customer"), id: "msg-" + m.seq, dataset: { seq: String(m.seq) } },
      el("div", { class: "msg-head" }, el("span", { class: "msg-who" }, who), " ", el("time", { class: "muted" }, when(m.at))),
      el("div", { class: "msg-text" }, messageText(m)));
    // a bounce links the reply it is about; that reply says it did not arrive
    const bounce = m.sender === "system" ? (m.meta || {}).bounce : null;
    if (bounce && bounce.reply_seq) {
      item.classList.add("bounce");
      item.append(el("a", { href: "#msg-" + Number(bounce.reply_seq), class: "msg-bounce-reply" }, t("agent.conv.bounce_show")));
    }
    if ((m.meta || {}).delivery === "bounced") {
      item.append(el("p", { class: "msg-status error msg-bounced" },
        t("agent.conv.bounced", { reason: m.meta.delivery_error || t("agent.conv.bounce_no_reason") })));
    }
    return item;
  }

  (async () => {
    try {
      const c = await api("GET", base);
      facts(c);
      thread(c);
      timeline(c);
      player(c);
    } catch (e) {
      $("contact-heading").textContent = e.status === 404 ? t("contact.gone") : t("contact.title", { id });
      showError(e.message);
    }
  })();
})();

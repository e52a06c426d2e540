"use strict";
// The customer page: the card, open cases, likely duplicates (merge with a side-by-side
// preview), the whole timeline of contacts in plain words, edit, and a search.
(() => {
  const { api, el, clear, t, label, when, duration, describeStep, spell, showError, openDialog, messageText } = SB;
  const $ = (id) => document.getElementById(id);
  const id = $("customer-page").dataset.customer;
  const base = "/api/customers/" + encodeURIComponent(id);
  let customer = null;
  let next = null;

  const say = (message) => { $("customer-status").textContent = message || ""; };

  function renderCustomer(c) {
    customer = c;
    $("customer-name").textContent = c.name;
    document.title = c.name + " — " + t("app.name");
    const tier = c.tier && c.tier !== "standard" && !c.vip ? label("tier", c.tier) : "";
    $("customer-tier").textContent = tier;
    $("customer-tier").classList.toggle("hidden", !tier);
    $("customer-vip").classList.toggle("hidden", !c.vip);
    $("customer-company").textContent = c.company || "—";
    $("customer-phones").textContent = (c.phones || []).join(", ") || "—";
    $("customer-email").textContent = c.email || "—";
    $("customer-account").textContent = (c.accounts || [])[0] || "—";
    $("customer-notes").textContent = c.notes || "—";
    const cases = clear($("customer-cases"));
    for (const k of c.open_cases || []) {
      const number = k.number || "#" + k.id;
      cases.append(el("li", { class: "case" },
        el("a", { href: "/cases/" + encodeURIComponent(number) }, number),
        " " + (k.subject || "") + " — " + label("case", k.status || "open")));
    }
    if (!cases.firstChild) cases.append(el("li", { class: "empty" }, t("customer.no_cases")));
  }

  // ---- a new case (issue 17): opened here, shown on its own page -------------------------
  $("open-case").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showError("", "open-case-error");
    try {
      const k = await api("POST", "/api/cases", {
        customer_id: String(id), subject: $("open-case-subject").value, priority: $("open-case-priority").value,
      });
      window.location.assign("/cases/" + encodeURIComponent(k.number));
    } catch (e) {
      showError(e.message, "open-case-error");
      $("open-case-subject").setAttribute("aria-invalid", "true");
      $("open-case-subject").focus();
    }
  });

  // ---- timeline ------------------------------------------------------------------------
  function contactItem(c) {
    // Contacts stored before steps were objects keep a bare node id: said as its name.
    const steps = (c.ivr_path || [])
      .map((s) => (typeof s === "string" ? spell(s) : describeStep(s)))
      .filter(Boolean);
    const facts = [
      [t("contact.channel"), label("channel", c.channel || "voice")],
      [t("customer.direction"), t(c.direction === "outbound" ? "customer.outbound" : "customer.inbound")],
      [t("customer.queue"), c.queue || "—"],
      [t("customer.waited"), c.wait_seconds === null || c.wait_seconds === undefined ? "—" : duration(c.wait_seconds)],
      [t("customer.agent"), c.agent_name || c.agent_id || "—"],
      [t("customer.talk"), c.talk_seconds === null || c.talk_seconds === undefined ? "—" : duration(c.talk_seconds)],
      [t("customer.outcome"), c.outcome ? label("outcome", c.outcome) : "—"],
      [t("customer.disposition"), c.disposition ? label("disposition", c.disposition) : "—"],
    ];
    return el("li", { class: "contact-row", dataset: { contact: String(c.id) } },
      el("h3", {},
        el("a", { href: "/contacts/" + encodeURIComponent(c.id),
          "aria-label": t("contact.open") + " — " + when(c.started_at || c.arrived_at) }, when(c.started_at || c.arrived_at)),
        c.recording_status === "available" ? el("span", { class: "recording-mark" }, t("contact.has_recording")) : null),
      el("dl", { class: "facts" }, ...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
      steps.length ? el("p", { class: "ivr-words" }, t("customer.ivr") + ": " + steps.join(" → ")) : null,
      c.notes ? el("p", { class: "notes" }, c.notes) : null,
      c.transcript ? transcriptOf(c) : null);
  }
  // A chat's or an email's first messages, as text; the contact page has the whole thread.
  function transcriptOf(c) {
    const tr = c.transcript;
    const conv = tr.conversation || {};
    const list = el("ol", { class: "thread-list" });
    for (const m of tr.messages || []) {
      const who = m.sender === "system" ? t("agent.conv.system") : m.name || (m.sender === "agent" ? c.agent_name || "" : t("contact.thread.customer"));
      list.append(el("li", { class: "msg " + (m.sender || "customer") },
        el("div", { class: "msg-head" }, el("span", { class: "msg-who" }, who), " ", el("time", { class: "muted" }, when(m.at))),
        el("div", { class: "msg-text" }, messageText(m)),
        (m.meta || {}).delivery === "bounced"
          ? el("p", { class: "msg-status error" }, t("agent.conv.bounced", { reason: m.meta.delivery_error || "" }))
          : null));
    }
    return el("details", { class: "transcript" },
      el("summary", {}, t(conv.channel === "email" ? "contact.thread.email" : "contact.thread.chat")
        + (conv.subject ? " — " + conv.subject : "") + " (" + t("contact.thread.count", { count: (tr.messages || []).length }) + ")"),
      list,
      tr.more ? el("a", { href: "/contacts/" + encodeURIComponent(c.id) }, t("contact.thread.more")) : null);
  }
  async function loadTimeline(offset) {
    try {
      const page = await api("GET", base + "/contacts?limit=20&offset=" + (offset || 0));
      const list = offset ? $("timeline") : clear($("timeline"));
      for (const c of page.contacts || []) list.append(contactItem(c));
      if (!list.firstChild) list.append(el("li", { class: "empty" }, t("customer.no_contacts")));
      next = page.next_offset;
      $("timeline-more").hidden = next === null || next === undefined;
    } catch (e) { showError(e.message); }
  }
  $("timeline-more").addEventListener("click", () => loadTimeline(next));

  // ---- duplicates and merge ---------------------------------------------------------------
  async function loadDuplicates() {
    const list = clear($("duplicates"));
    try {
      const data = await api("GET", base + "/duplicates");
      for (const d of data.duplicates || []) {
        const c = d.customer;
        const why = d.reasons.map((r) => t("customer.reason." + r)).join(", ");
        const button = el("button", { type: "button", class: "small merge",
          "aria-label": t("customer.compare") + " — " + c.name }, t("customer.compare"));
        button.addEventListener("click", () => openMerge(c, button));
        list.append(el("li", { class: "duplicate", dataset: { customer: String(c.id) } },
          el("a", { href: "/customers/" + encodeURIComponent(c.id) }, c.name),
          " ", el("span", { class: "muted" }, (c.phones || []).join(", ") + " · " + why), " ", button));
      }
      if (!list.firstChild) list.append(el("li", { class: "empty" }, t("customer.no_duplicates")));
    } catch (e) { showError(e.message); }
  }
  let mergeWith = null;
  function openMerge(other, button) {
    mergeWith = other;
    $("merge-keep-head").textContent = t("customer.keep");
    $("merge-dup-head").textContent = t("customer.duplicate");
    const rows = clear($("merge-rows"));
    const line = (key, a, b) => rows.append(el("tr", {}, el("th", { scope: "row" }, t(key)), el("td", {}, a || "—"), el("td", {}, b || "—")));
    line("customer.name", customer.name, other.name);
    line("customer.company", customer.company, other.company);
    line("customer.email", customer.email, other.email);
    line("customer.phones", (customer.phones || []).join(", "), (other.phones || []).join(", "));
    line("customer.tier", label("tier", customer.tier), label("tier", other.tier));
    openDialog($("merge-dialog"), t("customer.merge_title", { name: other.name, into: customer.name }), button);
    $("merge-confirm").focus();
  }
  $("merge-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const kept = await api("POST", base + "/merge", { duplicate_id: String(mergeWith.id) });
      $("merge-dialog").close();
      renderCustomer(kept);
      say(t("customer.merged", { name: mergeWith.name }));
      await Promise.all([loadTimeline(0), loadDuplicates()]);
      $("customer-name").focus();
    } catch (e) { $("merge-error").textContent = e.message; }
  });

  // ---- edit ------------------------------------------------------------------------------
  const FIELDS = ["name", "company", "email", "tier", "add_phone", "notes"];
  function clearFieldErrors() { for (const f of FIELDS) $("edit-" + f + "-error").textContent = ""; }
  $("btn-edit").addEventListener("click", () => {
    const form = $("edit-form");
    form.hidden = !form.hidden;
    $("btn-edit").setAttribute("aria-expanded", String(!form.hidden));
    if (form.hidden) return;
    clearFieldErrors();
    $("edit-name").value = customer.name;
    $("edit-company").value = customer.company || "";
    $("edit-email").value = customer.email || "";
    $("edit-tier").value = customer.tier || "standard";
    $("edit-add_phone").value = "";
    $("edit-notes").value = customer.notes || "";
    $("edit-name").focus();
  });
  $("edit-cancel").addEventListener("click", () => {
    $("edit-form").hidden = true;
    $("btn-edit").setAttribute("aria-expanded", "false");
    $("btn-edit").focus();
  });
  $("edit-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearFieldErrors();
    const body = {};
    for (const f of FIELDS) body[f] = $("edit-" + f).value.trim();
    if (!body.add_phone) delete body.add_phone;
    try {
      renderCustomer(await api("PATCH", base, body));
      $("edit-form").hidden = true;
      $("btn-edit").setAttribute("aria-expanded", "false");
      say(t("customer.saved"));
      $("btn-edit").focus();
      loadDuplicates();
    } catch (e) {
      // The typed values stay; the message goes next to the field the server named.
      const slot = e.field && FIELDS.includes(e.field) ? "edit-" + e.field + "-error" : "action-error";
      showError(e.message, slot);
      if (e.field && FIELDS.includes(e.field)) $("edit-" + e.field).focus();
    }
  });

  // ---- search ----------------------------------------------------------------------------
  $("find").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const q = $("find-q").value.trim();
    if (!q) return;
    try {
      const data = await api("GET", "/api/customers?q=" + encodeURIComponent(q));
      const list = clear($("find-results"));
      for (const c of data.customers || []) {
        list.append(el("li", {}, el("a", { href: "/customers/" + encodeURIComponent(c.id) },
          c.name + (c.company ? " · " + c.company : "") + (c.phones && c.phones.length ? " · " + c.phones[0] : ""))));
      }
      if (!list.firstChild) list.append(el("li", { class: "empty" }, t("customer.no_match")));
    } catch (e) { showError(e.message); }
  });

  (async () => {
    try {
      renderCustomer(await api("GET", base));
    } catch (e) {
      $("customer-name").textContent = e.status === 404 ? t("customer.gone") : e.message;
      $("btn-edit").hidden = true;
      return;
    }
    await Promise.all([loadTimeline(0), loadDuplicates()]);
  })();
})();

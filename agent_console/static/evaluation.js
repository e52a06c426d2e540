"use strict";
// Quality review of one contact (templates/_evaluation.html, on the contact page): the
// contact's evaluations and, for a supervisor of its queue or an admin, the form — one
// fieldset per section, one radio group per question, comments, the live score, Save.
// The score here is the server's formula (routing/evaluation_forms.py), shown as the
// supervisor answers; the server computes the stored one itself.
(() => {
  const root = document.getElementById("evaluation-root");
  if (!root) return;
  const { api, el, clear, t, when } = SB;
  const $ = (id) => document.getElementById(id);
  const contactId = root.dataset.contact;
  const me = root.dataset.user;
  const base = "/api/contacts/" + encodeURIComponent(contactId) + "/evaluations";
  const form = $("evaluation-form");
  let forms = [];
  let current = null; // the form being answered
  let editing = null; // the evaluation being changed (its own form snapshot)

  const say = (message) => { $("evaluation-status").textContent = message || ""; };
  const shown = (score) => (score === null || score === undefined ? t("evaluation.no_score") : Number(score).toFixed(1));

  // -- the score (routing.evaluation_forms.score) -----------------------------------------
  function valueOf(question, answer) {
    if (answer === "na") return null;
    if (question.kind === "yes_no") return answer === "yes" ? 1 : 0;
    return (Number(answer) - 1) / 4;
  }
  function scoreOf(f, answers) {
    let total = 0, weights = 0;
    for (const section of f.sections) {
      for (const q of section.questions) {
        if (!(q.id in answers)) continue;
        const v = valueOf(q, answers[q.id]);
        if (v === null) continue;
        total += q.weight * v;
        weights += q.weight;
      }
    }
    return weights ? Math.round(10000 * total / weights) / 100 : null;
  }

  function answerText(question, answer) {
    if (answer === undefined || answer === null) return t("evaluation.unanswered");
    if (answer === "na") return t("evaluation.na");
    if (question.kind === "yes_no") return t(answer === "yes" ? "evaluation.yes" : "evaluation.no");
    return t("evaluation.scale", { value: answer });
  }

  // -- the list ---------------------------------------------------------------------------
  function item(e) {
    const answers = [];
    for (const section of (e.form && e.form.sections) || []) {
      for (const q of section.questions) {
        answers.push(el("li", {}, q.text + ": " + answerText(q, e.answers[q.id])));
      }
    }
    const mine = form && e.evaluator.toLowerCase() === String(me).toLowerCase();
    const change = mine ? el("button", { type: "button", class: "small",
      "aria-label": t("evaluation.edit") + " — " + ((e.form && e.form.name) || e.form_id) }, t("evaluation.edit")) : null;
    if (change) change.addEventListener("click", () => startEdit(e));
    return el("li", { class: "evaluation-item", dataset: { evaluation: String(e.id) } },
      el("h3", {},
        el("span", { class: "score" }, shown(e.score)),
        el("span", {}, (e.form && e.form.name) || e.form_id),
        el("span", { class: "muted" }, t("evaluation.by", { name: e.evaluator }) + " · " + when(e.updated_at))),
      e.comments ? el("p", { class: "notes" }, e.comments) : null,
      el("details", {}, el("summary", {}, t("evaluation.answers")), el("ul", { class: "answers" }, ...answers)),
      change);
  }
  async function loadList() {
    const list = clear($("evaluation-list"));
    try {
      const data = await api("GET", base);
      // e.g. a contact no agent took: nobody to evaluate, so no form
      if (form && data.can_evaluate === false) form.hidden = true;
      for (const e of data.evaluations || []) list.append(item(e));
      if (!list.firstChild) list.append(el("li", { class: "empty" }, t("evaluation.none")));
    } catch (e) {
      list.append(el("li", { class: "error" }, e.message));
    }
  }

  // -- the form ---------------------------------------------------------------------------
  const qid = (q) => "evaluation-q-" + q.id;

  function questionSet(q) {
    const values = q.kind === "yes_no" ? ["yes", "no"] : ["1", "2", "3", "4", "5"];
    if (q.na) values.push("na");
    const group = el("fieldset", { class: "question", id: qid(q), "aria-describedby": qid(q) + "-error" },
      el("legend", {}, q.text, " ", el("span", { class: "weight" }, "(" + t("evaluation.weight", { weight: q.weight }) + ")")));
    const choices = el("div", { class: "choices" });
    for (const v of values) {
      const id = qid(q) + "-" + v;
      const input = el("input", { type: "radio", name: "q-" + q.id, id, value: v });
      if (q.required) input.setAttribute("required", "");
      const text = v === "na" ? t("evaluation.na") : q.kind === "yes_no" ? t("evaluation." + v) : v;
      choices.append(el("label", { for: id }, input, text));
    }
    group.append(choices, el("span", { class: "error", id: qid(q) + "-error" }));
    return group;
  }

  function render(f, answers) {
    current = f;
    const box = clear($("evaluation-questions"));
    $("evaluation-form-description").textContent = f.description || "";
    for (const section of f.sections) {
      const set = el("fieldset", { class: "section" }, el("legend", {}, section.title));
      for (const q of section.questions) set.append(questionSet(q));
      box.append(set);
    }
    for (const [id, value] of Object.entries(answers || {})) {
      const input = document.getElementById("evaluation-q-" + id + "-" + value);
      if (input) input.checked = true;
    }
    updateScore();
  }

  function answersOf() {
    const answers = {};
    for (const section of current.sections) {
      for (const q of section.questions) {
        const picked = form.querySelector('input[name="q-' + CSS.escape(q.id) + '"]:checked');
        if (!picked) continue;
        answers[q.id] = picked.value === "na" || q.kind === "yes_no" ? picked.value : Number(picked.value);
      }
    }
    return answers;
  }

  function updateScore() {
    const value = current ? scoreOf(current, answersOf()) : null;
    $("evaluation-score").textContent = value === null ? "—" : value.toFixed(1);
  }

  function clearErrors() {
    for (const node of form.querySelectorAll(".error")) node.textContent = "";
    for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  }

  // An error the server (or the check below) names goes next to its question or field.
  function fieldError(field, message) {
    let slot = null, target = null;
    if (field && field.startsWith("answers.")) {
      target = document.getElementById("evaluation-q-" + field.slice(8));
      slot = target && document.getElementById(target.id + "-error");
    } else if (field === "comments") {
      target = $("evaluation-comments"); slot = $("evaluation-comments-error");
    } else if (field === "form_id") {
      target = $("evaluation-form-id"); slot = $("evaluation-form-id-error");
    }
    if (!slot) { $("evaluation-error").textContent = message; return null; }
    slot.textContent = message;
    target.setAttribute("aria-invalid", "true");
    return target;
  }
  const focusIn = (target) => {
    const input = target && (target.matches("input, select, textarea") ? target : target.querySelector("input"));
    if (input) input.focus();
  };

  function startEdit(e) {
    editing = e;
    $("evaluation-form-title").textContent = t("evaluation.editing");
    $("evaluation-form-id").disabled = true;
    $("evaluation-cancel").hidden = false;
    $("evaluation-comments").value = e.comments || "";
    clearErrors();
    render(e.form, e.answers);
    form.scrollIntoView({ block: "nearest" });
    focusIn(form.querySelector("fieldset.question"));
  }
  function stopEdit() {
    editing = null;
    $("evaluation-form-title").textContent = t("evaluation.new");
    $("evaluation-form-id").disabled = false;
    $("evaluation-cancel").hidden = true;
    $("evaluation-comments").value = "";
    clearErrors();
    pick();
  }
  function pick() {
    const f = forms.find((x) => x.id === $("evaluation-form-id").value) || forms[0];
    if (f) render(f, {});
  }

  async function save(event) {
    event.preventDefault();
    clearErrors();
    say("");
    const answers = answersOf();
    let first = null;
    for (const section of current.sections) {
      for (const q of section.questions) {
        if (q.required && !(q.id in answers)) {
          const target = fieldError("answers." + q.id, t("evaluation.required"));
          first = first || target;
        }
      }
    }
    if (first) { $("evaluation-error").textContent = t("evaluation.check"); focusIn(first); return; }
    const body = { answers, comments: $("evaluation-comments").value };
    const button = $("evaluation-save");
    button.disabled = true;
    try {
      const saved = editing
        ? await api("PUT", base + "/" + encodeURIComponent(editing.id), body)
        : await api("POST", base, Object.assign({ form_id: current.id }, body));
      say(t("evaluation.saved", { score: shown(saved.score) }));
      if (editing) stopEdit();
      else { $("evaluation-comments").value = ""; render(current, {}); }
      await loadList();
    } catch (e) {
      focusIn(fieldError(e.field, e.message));
    } finally {
      button.disabled = false;
    }
  }

  async function loadForms() {
    try {
      forms = (await api("GET", "/api/quality/forms")).forms || [];
    } catch (e) { $("evaluation-error").textContent = e.message; return; }
    const select = clear($("evaluation-form-id"));
    for (const f of forms) select.append(el("option", { value: f.id }, f.name));
    if (!forms.length) {
      $("evaluation-error").textContent = t("evaluation.no_forms");
      $("evaluation-save").disabled = true;
      return;
    }
    pick();
  }

  if (form) {
    form.addEventListener("change", (event) => {
      if (event.target.type === "radio") {
        const group = event.target.closest("fieldset.question");
        if (group) {
          group.removeAttribute("aria-invalid");
          const slot = document.getElementById(group.id + "-error");
          if (slot) slot.textContent = "";
        }
        if (!form.querySelector('[aria-invalid="true"]')) $("evaluation-error").textContent = "";
        updateScore();
      }
    });
    $("evaluation-form-id").addEventListener("change", pick);
    $("evaluation-cancel").addEventListener("click", stopEdit);
    form.addEventListener("submit", save);
    loadForms();
  }
  loadList();
})();

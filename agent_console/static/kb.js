"use strict";
// The knowledge base (docs/ARCHITECTURE.md, "Knowledge base"): an embeddable panel —
// search, ranked results with their matches marked, the article, helpful votes, insert
// into a reply — used by the /kb page and beside the card on the agent page:
//
//   const panel = SBKb.openPanel(container, { onInsert(text, article) {}, contactId() {} });
//   SBKb.attachToggle(button, container, options)   // a button (and Alt+K) shows/hides it
//
// Text from the server goes in as text (snippets, titles, tags). The one exception is
// an article's body: the server renders its Markdown with raw HTML off and only
// http/https/mailto links (agent_console/kb_markdown.py), and the page's CSP runs no
// inline script; it is parsed into an inert document and its nodes moved in.
const SBKb = (() => {
  const { api, el, clear, t, when } = SB;
  let panels = 0;

  function snippetNodes(pieces) {
    return (pieces || []).map((p) => (p.match ? el("mark", {}, p.text) : document.createTextNode(p.text)));
  }

  function bodyNodes(html) {
    const doc = new DOMParser().parseFromString(String(html || ""), "text/html");
    return Array.from(doc.body.childNodes);
  }

  function votes(a) { return t("kb.votes", { helpful: a.helpful, unhelpful: a.unhelpful }); }

  function openPanel(container, options) {
    const opts = options || {};
    const n = ++panels;
    const id = (name) => "kb" + n + "-" + name;
    let lastQuery = null;
    let timer = null;
    let current = null;

    const input = el("input", { id: id("q"), type: "search", maxlength: "200", autocomplete: "off",
      "aria-describedby": id("hint"), class: "kb-q" });
    const lang = el("select", { id: id("lang"), class: "kb-lang" },
      el("option", { value: "" }, t("kb.lang.any")),
      el("option", { value: "en" }, t("kb.lang.en")),
      el("option", { value: "ru" }, t("kb.lang.ru")));
    const form = el("form", { role: "search", class: "kb-search", novalidate: "" },
      el("label", { for: id("q") }, t("kb.search.label")),
      el("div", { class: "search-row" }, input,
        el("label", { for: id("lang"), class: "sr-only" }, t("kb.search.language")), lang,
        el("button", { type: "submit", class: "kb-go" }, t("kb.search.submit"))),
      el("span", { id: id("hint"), class: "muted hint" }, t("kb.search.hint")));
    const status = el("p", { class: "muted kb-status", role: "status" });
    const error = el("p", { class: "error kb-error", role: "alert" });
    const results = el("ul", { class: "kb-results", "aria-label": t("kb.results") });
    const view = el("article", { class: "kb-article hidden", "aria-labelledby": id("title") });
    clear(container).append(form, status, error, results, view);

    function showResults() {
      view.classList.add("hidden");
      results.classList.remove("hidden");
      current = null;
    }

    async function search(query) {
      const q = query === undefined ? input.value.trim() : query;
      const key = q + "\u0000" + lang.value;
      if (key === lastQuery && !results.classList.contains("hidden")) return;
      lastQuery = key;
      error.textContent = "";
      const params = new URLSearchParams({ q, limit: "10" });
      if (lang.value) params.set("lang", lang.value);
      try {
        const data = await api("GET", "/api/kb/search?" + params.toString());
        if (key !== lastQuery) return; // a later search went out meanwhile
        showResults();
        clear(results);
        for (const hit of data.results) {
          const open = el("button", { type: "button", class: "link kb-open", dataset: { article: String(hit.id) },
            onclick: () => openArticle(hit.id) }, hit.title);
          results.append(el("li", { class: "kb-hit" },
            open,
            el("span", { class: "badge" }, t("kb.lang." + hit.language)),
            el("p", { class: "kb-snippet" }, ...snippetNodes(hit.snippet)),
            el("p", { class: "muted kb-meta" },
              (hit.tags || []).map((tag) => "#" + tag).join(" "), " · ", votes(hit),
              " · ", t("kb.uses", { count: hit.uses }))));
        }
        status.textContent = q
          ? t(data.results.length ? "kb.found" : "kb.none", { count: data.results.length, q })
          : t("kb.popular");
      } catch (e) { error.textContent = e.message; }
    }

    function renderArticle(a) {
      current = a;
      const heading = el("h3", { id: id("title"), tabindex: "-1" }, a.title);
      const meta = el("p", { class: "muted kb-meta" },
        t("kb.lang." + a.language), " · ", t("kb.owner", { owner: a.owner }), " · ",
        t("kb.reviewed", { when: a.last_reviewed_at ? when(a.last_reviewed_at) : "—" }), " · ",
        el("span", { class: "kb-votes" }, votes(a)), " · ", t("kb.uses", { count: a.uses }));
      const tags = el("p", { class: "kb-tags" }, ...(a.tags || []).map((tag) => el("span", { class: "badge" }, tag)));
      const body = el("div", { class: "kb-body" });
      body.append(...bodyNodes(a.html));
      const voted = el("span", { class: "muted kb-voted", role: "status" },
        a.my_vote === null || a.my_vote === undefined ? "" : t(a.my_vote ? "kb.voted_helpful" : "kb.voted_unhelpful"));
      const actions = el("div", { class: "kb-actions" },
        el("button", { type: "button", class: "kb-back", onclick: () => { showResults(); input.focus(); } }, t("kb.back")));
      if (typeof opts.onInsert === "function" && !a.retired) {
        actions.append(el("button", { type: "button", class: "primary kb-insert", onclick: () => insert(a) }, t("kb.insert")));
      }
      if (!a.retired) {
        actions.append(
          el("button", { type: "button", class: "kb-helpful", "aria-pressed": String(a.my_vote === true),
            onclick: () => vote(a, true) }, t("kb.helpful")),
          el("button", { type: "button", class: "kb-unhelpful", "aria-pressed": String(a.my_vote === false),
            onclick: () => vote(a, false) }, t("kb.unhelpful")));
      }
      if (typeof opts.onEdit === "function") {
        actions.append(el("button", { type: "button", class: "kb-edit", onclick: () => opts.onEdit(a) }, t("kb.edit")));
      }
      clear(view).append(heading);
      if (a.retired) view.append(el("p", { class: "badge warn" }, t("kb.retired")));
      view.append(meta, tags, body, actions, voted);
      results.classList.add("hidden");
      view.classList.remove("hidden");
      heading.focus();
    }

    async function openArticle(articleId) {
      error.textContent = "";
      lastQuery = null; // a search still in flight must not cover the article with its results
      try { renderArticle(await api("GET", "/api/kb/articles/" + encodeURIComponent(articleId))); }
      catch (e) { error.textContent = e.message; }
    }

    async function vote(a, helpful) {
      error.textContent = "";
      try { renderArticle(await api("POST", "/api/kb/articles/" + a.id + "/helpful", { helpful })); }
      catch (e) { error.textContent = e.message; }
    }

    async function insert(a) {
      error.textContent = "";
      opts.onInsert(a.text, a);
      const contact = typeof opts.contactId === "function" ? opts.contactId() : null;
      const body = contact === null || contact === undefined ? {} : { contact_id: String(contact) };
      try {
        const after = await api("POST", "/api/kb/articles/" + a.id + "/used", body);
        status.textContent = t("kb.inserted", { title: a.title });
        if (current && current.id === after.id) current = after;
      } catch (e) { error.textContent = e.message; }
    }

    form.addEventListener("submit", (ev) => { ev.preventDefault(); lastQuery = null; search(); });
    input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => search(), 250); });
    lang.addEventListener("change", () => { lastQuery = null; search(); });
    view.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") { ev.preventDefault(); showResults(); input.focus(); }
    });
    search("");
    return { search: (q) => { input.value = q; lastQuery = null; return search(q); }, open: openArticle,
      refresh: () => (current ? openArticle(current.id) : search()), focus: () => input.focus(), element: container };
  }

  // A button (and Alt+K) showing and hiding a panel in ``container``, opened on first use.
  function attachToggle(button, container, options) {
    if (!button || !container) return null;
    let panel = null;
    function toggle() {
      const show = container.classList.contains("hidden");
      container.classList.toggle("hidden", !show);
      button.setAttribute("aria-expanded", String(show));
      if (show) {
        if (!panel) panel = openPanel(container.querySelector(".kb-slot") || container, options);
        panel.focus();
      } else { button.focus(); }
    }
    button.addEventListener("click", toggle);
    document.addEventListener("keydown", (ev) => {
      if (ev.altKey && !ev.ctrlKey && !ev.metaKey && (ev.key === "k" || ev.key === "K" || ev.code === "KeyK")) {
        ev.preventDefault();
        toggle();
      }
    });
    return { toggle, panel: () => panel };
  }

  // What an inserted article does on a page that did not say: offered to whatever reply
  // box listens for "sb-kb-insert" (the conversation tabs), else copied to the clipboard.
  function defaultInsert(statusNode) {
    return (text, article) => {
      const ev = new CustomEvent("sb-kb-insert", { detail: { text, article }, cancelable: true });
      if (!document.dispatchEvent(ev)) return; // a reply box took it
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(
          () => { if (statusNode) statusNode.textContent = t("kb.copied"); },
          () => {});
      }
    };
  }

  // -- the /kb page ----------------------------------------------------------------------
  function page() {
    const root = document.getElementById("kb-page");
    if (!root) return;
    const editing = root.dataset.editing === "true";
    const $ = (name) => document.getElementById(name);
    let editingId = null;
    let panel = null;

    function fieldError(field, message) {
      for (const slot of root.querySelectorAll("#kb-form .error")) slot.textContent = "";
      const slot = field && $("kb-edit-" + field + "-error");
      if (slot) slot.textContent = message; else SB.showError(message);
    }

    function edit(a) {
      editingId = a ? a.id : null;
      $("kb-editor").classList.remove("hidden");
      $("kb-editor-title").textContent = t(a ? "kb.edit.title" : "kb.new");
      $("kb-edit-title").value = a ? a.title : "";
      $("kb-edit-language").value = a ? a.language : (document.documentElement.lang === "ru" ? "ru" : "en");
      $("kb-edit-tags").value = a ? (a.tags || []).join(", ") : "";
      $("kb-edit-owner").value = a ? a.owner : "";
      $("kb-edit-body").value = a ? a.body : "";
      $("kb-edit-reviewed").checked = true;
      $("kb-retire").classList.toggle("hidden", !a || a.retired);
      $("kb-restore").classList.toggle("hidden", !a || !a.retired);
      $("kb-edit-status").textContent = "";
      fieldError(null, "");
      $("kb-edit-title").focus();
    }

    async function save(ev) {
      ev.preventDefault();
      const body = {
        title: $("kb-edit-title").value,
        language: $("kb-edit-language").value,
        tags: $("kb-edit-tags").value,
        body: $("kb-edit-body").value,
      };
      const owner = $("kb-edit-owner").value.trim();
      if (owner) body.owner = owner;
      try {
        let article;
        if (editingId === null) article = await api("POST", "/api/kb/articles", body);
        else article = await api("PUT", "/api/kb/articles/" + editingId, Object.assign(body, { reviewed: $("kb-edit-reviewed").checked }));
        editingId = article.id;
        $("kb-edit-status").textContent = t("kb.edit.saved");
        $("kb-retire").classList.toggle("hidden", article.retired);
        $("kb-restore").classList.toggle("hidden", !article.retired);
        await panel.open(article.id);
      } catch (e) { fieldError(e.field, e.message); }
    }

    async function retire(retired) {
      if (editingId === null) return;
      try {
        const article = await api("POST", "/api/kb/articles/" + editingId + "/retire", { retired });
        $("kb-edit-status").textContent = t(retired ? "kb.edit.retired" : "kb.edit.restored");
        $("kb-retire").classList.toggle("hidden", article.retired);
        $("kb-restore").classList.toggle("hidden", !article.retired);
        await panel.open(article.id);
      } catch (e) { fieldError(e.field, e.message); }
    }

    panel = openPanel($("kb-browser"), editing ? { onEdit: edit } : {});
    if (editing) {
      $("kb-new").addEventListener("click", () => edit(null));
      $("kb-form").addEventListener("submit", save);
      $("kb-cancel").addEventListener("click", () => { $("kb-editor").classList.add("hidden"); $("kb-new").focus(); });
      $("kb-retire").addEventListener("click", () => retire(true));
      $("kb-restore").addEventListener("click", () => retire(false));
    }
    const params = new URLSearchParams(window.location.search);
    const q = params.get("q");
    const article = params.get("article"); // a link from a case's "articles used"
    if (/^[0-9]{1,12}$/.test(article || "")) panel.open(article);
    else if (q) panel.search(q.slice(0, 200));
  }

  page();
  return { openPanel, attachToggle, defaultInsert };
})();

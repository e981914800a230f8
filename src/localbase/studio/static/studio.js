// Localbase Studio: the little script every page loads (no framework, no build step).
// - forms with data-target are sent with fetch (the CSRF token in X-CSRF-Token) and their answer
//   swapped into the page; data-confirm asks first; an answer naming X-Studio-Location loads it;
// - grid cells with data-edit are edited in place (double-click, Enter saves, Escape cancels);
// - elements with data-live follow a server-sent event stream (prepend its HTML fragments).
"use strict";
(() => {
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  async function send(url, method, body) {
    const response = await fetch(url, {
      method, body, credentials: "same-origin",
      headers: {"X-CSRF-Token": csrf(), "X-Studio": "1"},
    });
    const location = response.headers.get("X-Studio-Location");
    if (location) {
      window.location.assign(location);
      return null;
    }
    return {ok: response.ok, status: response.status, html: await response.text()};
  }

  function flash(html) {
    const box = document.getElementById("flash");
    if (box) {
      box.innerHTML = html;
      box.scrollIntoView({block: "nearest"});
    }
  }

  function targetOf(form) {
    const spec = form.dataset.target;
    if (!spec || spec === "none") return null;
    if (spec.startsWith("closest:")) return form.closest(spec.slice(8));
    return document.querySelector(spec);
  }

  function place(target, html, mode) {
    if (!target) return;
    if (mode === "outer") target.outerHTML = html;
    else if (mode === "prepend") target.insertAdjacentHTML("afterbegin", html);
    else target.innerHTML = html;
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !("target" in form.dataset)) return;
    event.preventDefault();
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    form.querySelectorAll("[data-copy-from]").forEach((input) => {
      input.value = document.querySelector(input.dataset.copyFrom).value;
    });
    const method = (form.getAttribute("method") || "post").toUpperCase();
    const multipart = form.enctype === "multipart/form-data";  // file uploads go as they are
    const body = multipart ? new FormData(form, event.submitter) : new URLSearchParams(new FormData(form, event.submitter));
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    form.classList.add("busy");
    try {
      const result = await send(form.action, method, body);
      if (!result) return;
      if (!result.ok && form.dataset.target !== "#flash" && !form.dataset.errorsInline) flash(result.html);
      else { flash(""); place(targetOf(form), result.html, form.dataset.swap); }
    } catch (error) {
      flash(`<div class="error">request failed: ${String(error).replace(/</g, "&lt;")}</div>`);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
      form.classList.remove("busy");
    }
  });

  // -- inline edit of grid cells -----------------------------------------------------------------
  document.addEventListener("dblclick", (event) => {
    const cell = event.target.closest("td[data-edit]");
    if (!cell || cell.querySelector("form")) return;
    const grid = cell.closest("table[data-edit-url]");
    const row = cell.closest("tr");
    const original = cell.innerHTML;
    const value = cell.dataset.value || "";
    const form = document.createElement("form");
    form.className = "cell-edit";
    form.action = grid.dataset.editUrl;
    form.method = "post";
    form.dataset.target = "closest:tr";
    form.dataset.swap = "outer";
    const multiline = value.includes("\n") || value.length > 60;
    const input = document.createElement(multiline ? "textarea" : "input");
    input.name = "value";
    input.value = value;
    input.setAttribute("aria-label", `new value of ${cell.dataset.col}`);
    const nul = document.createElement("label");
    nul.innerHTML = '<input type="checkbox" name="null" value="1"> NULL';
    if (cell.dataset.null === "1") nul.querySelector("input").checked = true;
    for (const [name, v] of [["key", row.dataset.key], ["column", cell.dataset.col]]) {
      const hidden = document.createElement("input");
      hidden.type = "hidden"; hidden.name = name; hidden.value = v;
      form.appendChild(hidden);
    }
    const save = document.createElement("button");
    save.textContent = "Save";
    form.append(input, nul, save);
    cell.innerHTML = "";
    cell.appendChild(form);
    input.focus();
    input.addEventListener("keydown", (e) => {
      if (e.key === "Escape") { cell.innerHTML = original; }
      if (e.key === "Enter" && (!multiline || e.ctrlKey)) { e.preventDefault(); form.requestSubmit(); }
    });
  });

  // -- live views (server-sent events) ---------------------------------------------------------
  function follow(box) {
    const source = new EventSource(box.dataset.live);
    const list = box.querySelector("[data-live-items]") || box;
    const limit = Number(box.dataset.liveLimit || 500);
    source.onmessage = (event) => {
      if (box.dataset.paused === "1") return;
      const item = JSON.parse(event.data);
      list.insertAdjacentHTML("afterbegin", item.html);
      while (list.children.length > limit) list.lastElementChild.remove();
      box.dataset.count = String(Number(box.dataset.count || 0) + 1);
    };
    source.addEventListener("status", (event) => {
      const status = box.querySelector("[data-live-status]");
      if (status) status.textContent = JSON.parse(event.data).text;
    });
    source.onerror = () => {
      const status = box.querySelector("[data-live-status]");
      if (status && source.readyState === EventSource.CLOSED) status.textContent = "disconnected";
    };
    box.eventSource = source;
  }

  function start(root) {
    root.querySelectorAll("[data-live]").forEach((box) => { if (!box.eventSource) follow(box); });
  }

  document.addEventListener("click", (event) => {
    const toggle = event.target.closest("[data-live-toggle]");
    if (!toggle) return;
    const box = document.querySelector(toggle.dataset.liveToggle);
    box.dataset.paused = box.dataset.paused === "1" ? "" : "1";
    toggle.textContent = box.dataset.paused === "1" ? "Resume" : "Pause";
  });

  // fragments swapped in may hold live views too
  new MutationObserver(() => start(document)).observe(document.documentElement, {childList: true, subtree: true});
  document.addEventListener("DOMContentLoaded", () => start(document));

  // the SQL editor: Ctrl+Enter runs
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.matches("textarea[data-run]")) {
      event.preventDefault();
      event.target.form.requestSubmit();
    }
  });
})();

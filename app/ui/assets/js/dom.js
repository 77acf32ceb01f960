// Small DOM helpers shared by every page: element building, form fields with
// labels, dialogs, announcements for screen readers, and number formatting.

let uid = 0;

/** An element: h("button", {class: "x", onclick: f, "aria-label": "…"}, "text", child, …). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function nextId(prefix = "f") {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled form control: returns {wrap, input}. */
export function field(labelText, input, hintText) {
  input.id = input.id || nextId();
  const wrap = h("div", { class: "field" }, h("label", { for: input.id }, labelText), input);
  if (hintText) {
    const hint = h("p", { class: "hint", id: nextId("hint") }, hintText);
    input.setAttribute("aria-describedby", hint.id);
    wrap.append(hint);
  }
  return { wrap, input };
}

export function checkbox(labelText, checked = false) {
  const input = h("input", { type: "checkbox", checked });
  return { wrap: h("label", { class: "check" }, input, labelText), input };
}

/** Say something to screen-reader users without moving focus. */
export function announce(message) {
  const region = document.getElementById("announce");
  if (!region) return;
  region.textContent = "";
  window.setTimeout(() => { region.textContent = message; }, 50);
}

/**
 * A modal dialog with a title, content and buttons; resolves with the value of
 * the button used (null on Escape). `content` may be a function of `finish`,
 * for content that closes the dialog itself.
 */
export function dialog(title, content, buttons) {
  return new Promise((resolve) => {
    const heading = h("h2", { id: nextId("dlg") }, title);
    const dlg = h("dialog", { "aria-labelledby": heading.id });
    const row = h("div", { class: "row end" });
    for (const b of buttons) {
      row.append(h("button", { type: "button", class: b.class || "", onclick: () => finish(b.value) }, b.label));
    }
    dlg.append(heading, typeof content === "function" ? content((value) => finish(value)) : content, row);
    let done = false;
    function finish(value) {
      if (done) return;
      done = true;
      dlg.close();
      dlg.remove();
      resolve(value);
    }
    dlg.addEventListener("cancel", (e) => { e.preventDefault(); finish(null); });
    document.body.append(dlg);
    dlg.showModal();
  });
}

export async function confirmDialog(title, message, confirmLabel, danger = true) {
  const body = typeof message === "string" ? h("p", {}, message) : message;
  const value = await dialog(title, body, [
    { label: "Cancel", value: false, class: "secondary" },
    { label: confirmLabel, value: true, class: danger ? "danger" : "" },
  ]);
  return value === true;
}

export function formatBytes(n) {
  if (!Number.isFinite(n)) return "";
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

export function formatDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "";
  const s = Math.round(seconds);
  const hours = Math.floor(s / 3600);
  const mins = Math.floor((s % 3600) / 60);
  const secs = String(s % 60).padStart(2, "0");
  return hours ? `${hours}:${String(mins).padStart(2, "0")}:${secs}` : `${mins}:${secs}`;
}

export function formatNumber(n) {
  return new Intl.NumberFormat().format(n);
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => fn(...args), ms);
  };
}

/** A status line for results of an action, read out politely. */
export function statusLine() {
  const el = h("p", { class: "status-line", role: "status" });
  return {
    el,
    ok(text) { el.className = "status-line ok"; el.textContent = text; },
    error(text) { el.className = "status-line error"; el.textContent = text; },
    info(text) { el.className = "status-line muted"; el.textContent = text; },
    clear() { el.className = "status-line"; el.textContent = ""; },
  };
}

/** A notice that a page's API is not on this server yet. */
export function missing(what) {
  return h("p", { class: "notice" }, `${what} This server does not offer it yet; the page will work once it does.`);
}

/**
 * A list drawn in place: one row ({el, update(item)}) per item id is kept in
 * `rows` (a Map) and updated, so focus and a control being used stay put;
 * `container` then holds the rows in the items' order (`append`: after the
 * rows it has, for a next page), or `empty` when there are none.
 */
export function syncRows(container, rows, items, make, { append = false, empty = null } = {}) {
  const wanted = append ? [...rows.values()].map((row) => row.el) : [];
  const seen = new Set();
  for (const item of items) {
    seen.add(item.id);
    if (!rows.has(item.id)) rows.set(item.id, make(item));
    rows.get(item.id).update(item);
    if (!wanted.includes(rows.get(item.id).el)) wanted.push(rows.get(item.id).el);
  }
  if (!append) for (const id of [...rows.keys()]) if (!seen.has(id)) rows.delete(id);
  if (!wanted.length) { if (empty) container.replaceChildren(empty); return; }
  if (wanted.length !== container.children.length || wanted.some((el, i) => container.children[i] !== el)) container.replaceChildren(...wanted);
}

/** Reorderable list helpers: drag and drop (mouse, touch) plus buttons for keyboard users. */
export function makeReorderable(list, onMove) {
  let from = null;
  list.classList.add("ordered");
  list.addEventListener("dragstart", (e) => {
    const li = e.target.closest("li[data-index]");
    if (!li) return;
    from = Number(li.dataset.index);
    li.classList.add("dragging");
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", String(from));
  });
  list.addEventListener("dragover", (e) => {
    if (from === null) return;
    e.preventDefault();
    const li = e.target.closest("li[data-index]");
    for (const other of list.querySelectorAll(".drop-before")) other.classList.remove("drop-before");
    if (li) li.classList.add("drop-before");
  });
  list.addEventListener("dragend", () => {
    from = null;
    for (const other of list.querySelectorAll(".dragging, .drop-before")) other.classList.remove("dragging", "drop-before");
  });
  list.addEventListener("drop", (e) => {
    e.preventDefault();
    const li = e.target.closest("li[data-index]");
    const start = from;
    from = null;
    if (start === null || !li) return;
    const to = Number(li.dataset.index);
    if (to !== start) onMove(start, to);
  });
}

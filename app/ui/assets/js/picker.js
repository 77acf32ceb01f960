// Shared by Cards and Playlists: pick audio from the library, and an ordered
// list that reorders by drag and drop or by buttons (keyboard users).

import { api } from "./api.js";
import { debounce, field, formatDuration, h, makeReorderable, statusLine } from "./dom.js";

/** A search box over the library with an "Add" button per result. */
export function libraryPicker(labelText, onAdd) {
  const search = h("input", { type: "search", autocomplete: "off", placeholder: "Title contains…" });
  const results = h("ul", { class: "items", "aria-label": "Library search results" });
  const status = statusLine();
  async function load() {
    try {
      const page = await api("api/audio", { query: { q: search.value.trim(), limit: 8 } });
      results.replaceChildren(...page.items.map((item) => h("li", {},
        h("div", { class: "main" }, h("span", { class: "title" }, item.title), h("br"), h("span", { class: "meta" }, formatDuration(item.duration_s))),
        h("button", { type: "button", class: "secondary", "aria-label": `Add ${item.title}`, onclick: () => onAdd(item) }, "Add"))));
      if (!page.items.length) results.append(h("li", { class: "empty" }, search.value ? "Nothing matches." : "The library is empty: add audio on the Library page first."));
      status.clear();
    } catch (err) {
      status.error(`The library could not be searched: ${err.message}`);
    }
  }
  search.addEventListener("input", debounce(load, 250));
  const el = h("div", { class: "picker" }, field(labelText, search).wrap, results, status.el);
  return { el, load };
}

/**
 * An ordered list: `rows` are the entries, `describe(entry, index)` gives
 * {title, extra} for each, `move(from, to)` and `remove(index)` change the order.
 */
export function orderedList(labelText, { describe, move, remove, emptyText }) {
  const list = h("ol", { class: "items", "aria-label": labelText });
  makeReorderable(list, (from, to) => move(from, to));
  function render(rows, focus) {
    list.replaceChildren(...rows.map((entry, index) => {
      const { title, extra } = describe(entry, index);
      const up = h("button", { type: "button", class: "secondary icon", "aria-label": `Move ${title} up`, disabled: index === 0, onclick: () => move(index, index - 1, "up") }, "↑");
      const down = h("button", { type: "button", class: "secondary icon", "aria-label": `Move ${title} down`, disabled: index === rows.length - 1, onclick: () => move(index, index + 1, "down") }, "↓");
      const del = h("button", { type: "button", class: "danger secondary icon", "aria-label": `Remove ${title}`, onclick: () => remove(index) }, "✕");
      return h("li", { draggable: "true", dataset: { index: String(index) } },
        h("span", { class: "handle", "aria-hidden": "true", title: "Drag to reorder" }, "⠿"),
        h("span", { class: "pos", "aria-hidden": "true" }, String(index + 1)),
        h("div", { class: "main" }, h("span", { class: "title" }, title), extra ? h("div", { class: "meta" }, extra) : null),
        h("div", { class: "actions" }, up, down, del));
    }));
    if (!rows.length) list.append(h("li", { class: "empty" }, emptyText));
    if (focus) {
      const target = list.querySelector(`li[data-index="${focus.index}"] button[aria-label^="Move"][aria-label$="${focus.dir}"]`)
        || list.querySelector(`li[data-index="${focus.index}"] button`);
      if (target && !target.disabled) target.focus();
      else if (target) (list.querySelector(`li[data-index="${focus.index}"] button:not(:disabled)`) || target).focus();
    }
  }
  return { el: list, render };
}

/** Move an element of an array (a copy). */
export function moved(array, from, to) {
  const copy = [...array];
  const [item] = copy.splice(from, 1);
  copy.splice(to, 0, item);
  return copy;
}

/** Titles of audio ids, fetched once each. */
export function titleCache() {
  const known = new Map();
  return {
    remember(item) { known.set(item.id, item.title); },
    get(id) { return known.get(id); },
    async fill(ids) {
      await Promise.all(ids.filter((id) => !known.has(id)).map(async (id) => {
        try { known.set(id, (await api(`api/audio/${id}`)).title); } catch { known.set(id, "(deleted audio)"); }
      }));
    },
  };
}

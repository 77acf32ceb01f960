// Playlists: live playlists whose card follows them. Build and reorder (drag,
// or buttons for keyboard users), choose the play mode, make its card once;
// every later change rewrites that same card, so nobody makes a new one.

import { api, listOf } from "../api.js";
import { announce, clear, confirmDialog, field, h, missing, statusLine } from "../dom.js";
import { libraryPicker, moved, orderedList, titleCache } from "../picker.js";

const MODES = [["sequential", "In order"], ["shuffle", "Shuffle"]];

export async function render(root, ctx) {
  if (!ctx.features.playlists) {
    clear(root, h("h1", {}, "Playlists"), missing("Live playlists need the playlist part of this service."));
    return;
  }
  const titles = titleCache();
  const list = h("ul", { class: "items", "aria-label": "Playlists" }, h("li", { class: "placeholder", "aria-hidden": "true" }, h("div", { class: "main" }, h("div", { class: "title" }, "\u00a0"), h("div", { class: "meta" }, "\u00a0"))));
  const listStatus = statusLine();
  const editor = h("section", { class: "panel", "aria-labelledby": "pl-edit-h", hidden: true });
  let current = null;

  async function load() {
    try {
      const playlists = listOf(await api("api/playlists", { query: { all: ctx.me.is_admin ? "true" : "" } }), "playlists");
      list.replaceChildren(...playlists.map((p) => h("li", {},
        h("div", { class: "main" }, h("span", { class: "title" }, p.name), h("br"),
          h("span", { class: "meta" }, [`${p.audio_ids.length} items`, modeName(p.play_mode), p.storage === "yoto" ? "in Yoto's storage" : "streamed", p.yoto_card_id ? `card ${p.yoto_card_id}` : "no card yet"].join(" · "))),
        h("div", { class: "actions" },
          h("button", { type: "button", class: "secondary", "aria-label": `Open ${p.name}`, onclick: () => open(p.id) }, "Open"),
          h("button", { type: "button", class: "danger secondary", "aria-label": `Delete ${p.name}`, onclick: () => remove(p) }, "Delete")))));
      if (!playlists.length) list.append(h("li", { class: "empty" }, "No playlists yet. Start one above."));
      listStatus.clear();
    } catch (err) {
      list.replaceChildren();
      listStatus.error(`The playlists could not be listed: ${err.message}`);
    }
  }

  async function remove(p) {
    if (!(await confirmDialog(`Delete “${p.name}”?`, p.yoto_card_id ? "Its card stays on Yoto but stops following the playlist." : "The playlist is gone for the whole family.", "Delete playlist"))) return;
    try {
      await api(`api/playlists/${p.id}`, { method: "DELETE" });
      if (current && current.id === p.id) { current = null; editor.hidden = true; }
      announce(`Deleted ${p.name}`);
      await load();
    } catch (err) {
      listStatus.error(`Not deleted: ${err.message}`);
    }
  }

  // --- one playlist --------------------------------------------------------
  const status = statusLine();
  const items = orderedList("Items in order", {
    emptyText: "Empty: add audio from the library below.",
    describe: (id) => ({ title: titles.get(id) || "…" }),
    move: (from, to, dir) => {
      if (to < 0 || to >= current.audio_ids.length) return;
      edit("items/move", { method: "POST", json: { from, to, version: current.version } }, `Moved to position ${to + 1}`, dir ? { index: to, dir } : null);
    },
    remove: (index) => {
      const gone = titles.get(current.audio_ids[index]) || "the item";
      edit(`items/${index}`, { method: "DELETE", query: { version: current.version } }, `Removed ${gone}`, { index: Math.max(0, Math.min(index, current.audio_ids.length - 2)), dir: "up" });
    },
  });
  const picker = libraryPicker("Find audio to add", (item) => {
    titles.remember(item);
    edit("items", { method: "POST", json: { audio_id: item.id, version: current.version } }, `Added ${item.title}`);
  });
  const mode = h("select", {}, MODES.map(([value, label]) => h("option", { value }, label)));
  mode.addEventListener("change", () => edit("", { method: "PUT", json: { play_mode: mode.value, version: current.version } }, `Play mode: ${modeName(mode.value)}`));
  const storage = h("select", {},
    h("option", { value: "yoto" }, "Kept in Yoto's storage (plays offline)"),
    h("option", { value: "stream" }, "Streamed from this service"));
  storage.addEventListener("change", () => edit("", { method: "PUT", json: { storage: storage.value, version: current.version } }, storage.value === "yoto" ? "The card's audio goes to Yoto's storage" : "The card streams from this service"));
  // Day by day: chapter n opens on the first day plus n-1 days (or weeks); the player keeps the rest shut.
  const opensEvery = h("select", {},
    h("option", { value: "" }, "Every chapter is open"),
    h("option", { value: "day" }, "One more chapter each day"),
    h("option", { value: "week" }, "One more chapter each week"));
  const opensFrom = h("input", { type: "text", inputmode: "numeric", maxlength: 10, placeholder: "YYYY-MM-DD", autocomplete: "off" });
  const opensSave = h("button", { type: "button", class: "secondary" }, "Save the schedule");
  const opensNow = h("p", { class: "small", role: "status" });
  opensEvery.addEventListener("change", () => { opensFrom.disabled = !opensEvery.value; });
  opensSave.addEventListener("click", () => {
    if (!opensEvery.value) {
      edit("", { method: "PUT", json: { opens: null, version: current.version } }, "Every chapter is open again");
      return;
    }
    if (!/^\d{4}-\d{2}-\d{2}$/.test(opensFrom.value.trim())) {
      status.error("Give the first day as YYYY-MM-DD, for example 2026-12-01.");
      opensFrom.focus();
      return;
    }
    const opens = { from: opensFrom.value.trim(), every: opensEvery.value };
    edit("", { method: "PUT", json: { opens, version: current.version } }, `Chapter 1 opens on ${opens.from}, then one each ${opens.every}`);
  });
  const cardArea = h("div", { class: "stack" });
  const sync = h("p", { class: "small", role: "status" });
  let syncTimer = null;

  /** One edit of the open playlist, on the version we read; a lost race (409) shows the latest. */
  async function edit(path, options, said, focus) {
    const id = current.id;
    try {
      current = await api(`api/playlists/${id}${path ? `/${path}` : ""}`, options);
      await draw(focus);
      status.ok(`${said}.`);
      announce(said);
      load();
    } catch (err) {
      if (err.status === 409) {
        status.error(`${err.message}. This is the latest version now; try again.`);
        await open(id, false);
      } else {
        status.error(err.message);
      }
    }
  }

  /** The card's state; while an update is pending, read the playlist again when it is due (that writes it). */
  function showSync() {
    window.clearTimeout(syncTimer);
    const s = current.card_sync || { state: "none" };
    if (!current.yoto_card_id || s.state === "none") { sync.textContent = ""; return; }
    const words = {
      synced: ["ok small", "The card is up to date with this list."],
      pending: ["small muted", "Updating the card with the latest changes…"],
      failed: ["small error", `The card could not be updated: ${s.detail || "Yoto refused"}. It is tried again with the next change.`],
    }[s.state] || ["small", ""];
    sync.className = words[0];
    sync.textContent = words[1];
    if (s.state === "pending") {
      const id = current.id;
      syncTimer = window.setTimeout(async () => {
        if (!current || current.id !== id) return;
        try { current = await api(`api/playlists/${id}`); showSync(); } catch { /* the next edit tries again */ }
      }, Math.max(500, (s.due_in_s || 1) * 1000 + 250));
    }
  }

  async function open(id, focusHeading = true) {
    try {
      current = await api(`api/playlists/${id}`);
    } catch (err) {
      listStatus.error(err.message);
      return;
    }
    status.clear();
    editor.hidden = false;
    await draw();
    picker.load();
    if (focusHeading) editor.querySelector("h2").focus();
  }

  async function draw(focus) {
    await titles.fill(current.audio_ids);
    mode.value = current.play_mode || "sequential";
    storage.value = current.storage || "stream";
    opensEvery.value = current.opens ? current.opens.every : "";
    opensFrom.value = current.opens ? current.opens.from : opensFrom.value;
    opensFrom.disabled = !opensEvery.value;
    opensNow.textContent = opensText(current.opens);
    items.render(current.audio_ids, focus);
    const name = editor.querySelector("#pl-edit-h");
    if (name) name.textContent = current.name;
    showSync();
    if (current.yoto_card_id) {
      clear(cardArea,
        h("p", { class: "ok" }, `Its card: Yoto card ${current.yoto_card_id}.`), sync,
        h("p", { class: "small" }, "Edit the playlist as often as you like: the same card changes with it on the players. There is no need to make a new card."),
        current.play_mode === "shuffle" ? h("button", { type: "button", class: "secondary", onclick: reshuffle }, "Shuffle again") : null);
    } else {
      const make = h("button", { type: "button" }, "Make its card");
      make.addEventListener("click", async () => {
        make.disabled = true;
        status.info("Making the card on Yoto…");
        try {
          const card = await api(`api/playlists/${current.id}/card`, { method: "POST" });
          current = { ...current, yoto_card_id: card.yoto_card_id };
          try { current = await api(`api/playlists/${current.id}`); } catch { /* keep what the card said */ }
          status.ok(`Made card ${card.yoto_card_id}. Changes to the playlist now update it by themselves.`);
          await draw();
          load();
        } catch (err) {
          make.disabled = false;
          status.error(err.message);
        }
      });
      cardArea.replaceChildren(h("p", {}, "No card yet. Make one and it will follow this playlist from then on."), make);
    }
  }

  async function reshuffle() {
    try {
      await api(`api/playlists/${current.id}/reshuffle`, { method: "POST" });
      current = await api(`api/playlists/${current.id}`);
      status.ok("Shuffled again: the card gets the new order.");
      await draw();
    } catch (err) {
      status.error(err.message);
    }
  }

  clear(editor,
    h("h2", { id: "pl-edit-h", tabindex: "-1" }, ""),
    field("Play mode", mode, "Repeating is a setting of the player, not of the card.").wrap,
    field("Where the card's audio lives", storage, "A change rewrites the same card: a physical card linked to it keeps working.").wrap,
    h("fieldset", { class: "stack" }, h("legend", {}, "Day by day"),
      field("Chapters open", opensEvery, "An Advent calendar, a countdown, a book read one chapter a night: the player itself keeps the later chapters shut, offline too.").wrap,
      field("First day", opensFrom, "Chapter 1 opens at midnight that day, in the family's time zone.").wrap,
      opensSave, opensNow),
    h("h3", {}, "Items"), items.el,
    h("details", { open: true }, h("summary", {}, "Add from the library"), picker.el),
    h("h3", {}, "Card"), cardArea, status.el);

  // --- a new playlist ------------------------------------------------------
  const newName = h("input", { type: "text", maxlength: 100 });
  const newStatus = statusLine();
  const create = h("form", { class: "row bottom", novalidate: true }, field("New playlist name", newName).wrap, h("button", { type: "submit" }, "Start playlist"));
  create.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!newName.value.trim()) { newStatus.error("Give the playlist a name."); return; }
    try {
      const p = await api("api/playlists", { method: "POST", json: { name: newName.value.trim() } });
      newName.value = "";
      newStatus.ok(`Started “${p.name}”.`);
      await load();
      await open(p.id);
    } catch (err) {
      newStatus.error(err.message);
    }
  });

  clear(root,
    h("div", { class: "page-head" }, h("h1", {}, "Playlists"), h("p", {}, "Live lists: the card changes when the list does")),
    h("section", { class: "panel", "aria-labelledby": "pl-new-h" }, h("h2", { id: "pl-new-h" }, "Start a playlist"), create, newStatus.el),
    editor,
    h("section", { class: "panel", "aria-labelledby": "pl-list-h" }, h("h2", { id: "pl-list-h" }, "All playlists"), list, listStatus.el));
  await load();
  return () => window.clearTimeout(syncTimer);
}

/** Which chapters are open today, and when the next one opens. */
function opensText(opens) {
  if (!opens) return "";
  const total = opens.opens_at.length;
  const next = opens.opens_at[opens.open_now];
  const when = next ? new Date(next).toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" }) : "";
  return `${opens.open_now} of ${total} chapters open today.${next ? ` Chapter ${opens.open_now + 1} opens ${when}.` : ""}`;
}

function modeName(mode) {
  return (MODES.find(([v]) => v === mode) || [null, mode || "In order"])[1];
}

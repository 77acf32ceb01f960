// Cards: make a card from chosen audio (reorder first; an icon suggested per
// track from Yoto's public set and changeable; streamed or kept in Yoto's
// storage, with each track's upload shown; an optional cover), see the
// family's cards, edit and delete them.

import { api, listOf } from "../api.js";
import { announce, clear, confirmDialog, debounce, dialog, field, h, missing, statusLine } from "../dom.js";
import { libraryPicker, moved, orderedList, titleCache } from "../picker.js";

export async function render(root, ctx) {
  if (!ctx.features.cards) {
    clear(root, h("h1", {}, "Cards"), missing("Making Yoto cards needs the Yoto part of this service."));
    return;
  }
  const icons = iconBook(ctx);
  const list = h("ul", { class: "items", "aria-label": "The family's cards" }, h("li", { class: "placeholder", "aria-hidden": "true" }, h("div", { class: "main" }, h("div", { class: "title" }, "\u00a0"), h("div", { class: "meta" }, "\u00a0"))));
  const listStatus = statusLine();
  const linkNote = h("div");
  const titles = titleCache();
  let linked = false;
  let draft = blank();

  function blank() { return { id: null, title: "", description: "", author: "", storage: "", tracks: [] }; }

  // --- the form ---------------------------------------------------------------
  const heading = h("h2", { id: "card-form-h" }, "Make a card");
  const title = h("input", { type: "text", maxlength: 100, required: true });
  const description = h("input", { type: "text", maxlength: 500 });
  const author = h("input", { type: "text", maxlength: 100 });
  const cover = h("input", { type: "file", accept: "image/png,image/jpeg" });
  const storage = h("select", {},
    h("option", { value: "" }, "This install's default"),
    h("option", { value: "yoto" }, "Keep it in Yoto's storage (plays offline)"),
    h("option", { value: "stream" }, "Stream it from this service"));
  const formStatus = statusLine();
  const submit = h("button", { type: "submit" }, "Make the card");
  const cancelEdit = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => edit(null) }, "Stop editing");
  const tracks = orderedList("Tracks on the card, in order", {
    emptyText: "No tracks yet: add some from the library below.",
    describe: (t) => ({ title: t.title, extra: iconLine(t) }),
    move: (from, to, dir) => {
      if (to < 0 || to >= draft.tracks.length) return;
      draft.tracks = moved(draft.tracks, from, to);
      drawTracks(dir ? { index: to, dir } : null);
      announce(`Moved to position ${to + 1}`);
    },
    remove: (index) => {
      const [gone] = draft.tracks.splice(index, 1);
      drawTracks({ index: Math.min(index, draft.tracks.length - 1), dir: "up" });
      announce(`Removed ${gone.title}`);
    },
  });
  const picker = libraryPicker("Find audio to add", async (item) => {
    const track = { audio_id: item.id, title: item.title, icon: null, chosen: false, suggested: false };
    draft.tracks.push(track);
    drawTracks();
    announce(`Added ${item.title} as track ${draft.tracks.length}`);
    if (!linked) return;
    // The track's own title first; the card's title only when that finds nothing.
    track.icon = (await icons.suggest(item.title)) || (title.value.trim() ? await icons.suggest(title.value) : null);
    track.suggested = Boolean(track.icon);
    drawTracks();
  });

  function iconLine(track) {
    const img = track.icon && track.icon.url ? h("img", { class: "icon16", src: track.icon.url, alt: "", width: 32, height: 32 }) : h("span", { class: "icon16", "aria-hidden": "true" });
    const name = track.icon ? `Icon: ${track.icon.title}${track.chosen ? "" : " (suggested)"}` : "Icon: chosen automatically";
    const change = ctx.features.icons && linked ? h("button", { type: "button", class: "quiet", "aria-label": `Change icon of ${track.title}`, onclick: () => chooseIcon(track) }, "Change icon") : null;
    return h("span", { class: "row" }, img, name, change);
  }

  async function chooseIcon(track) {
    const picked = await icons.pick(track.title);
    if (picked === null) return;
    track.icon = picked === "auto" ? null : picked;
    track.chosen = picked !== "auto";
    drawTracks({ index: draft.tracks.indexOf(track), dir: "up" });
  }

  function drawTracks(focus) { tracks.render(draft.tracks, focus); }

  const form = h("form", { class: "stack", novalidate: true },
    h("div", { class: "grid2" }, field("Card title", title).wrap, field("Author (optional)", author).wrap),
    field("Description (optional)", description).wrap,
    h("h3", {}, "Tracks"), tracks.el,
    h("details", { class: "add-tracks", open: true }, h("summary", {}, "Add tracks from the library"), picker.el),
    field("Where the audio lives", storage, "Yoto's storage: uploaded once, plays with this service stopped. Streaming: fetched from this service each time it plays.").wrap,
    field("Cover image (optional, PNG or JPEG)", cover).wrap,
    h("div", { class: "row" }, submit, cancelEdit), formStatus.el);

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = title.value.trim();
    if (!name) { formStatus.error("Give the card a title."); title.focus(); return; }
    if (!draft.tracks.length) { formStatus.error("Add at least one track from the library."); return; }
    const body = {
      title: name,
      ...(description.value.trim() ? { description: description.value.trim() } : {}),
      ...(author.value.trim() ? { author: author.value.trim() } : {}),
      // An icon is sent when someone chose it or this page suggested it (what you see is what the card gets);
      // otherwise the service keeps choosing by the titles.
      tracks: draft.tracks.map((t) => ({ audio_id: t.audio_id, title: t.title, ...(t.icon && (t.chosen || t.suggested) ? { icon: t.icon.id } : {}) })),
      ...(storage.value ? { storage: storage.value } : {}),
    };
    submit.disabled = true;
    formStatus.info(draft.id ? "Updating the card on Yoto…" : "Making the card on Yoto…");
    try {
      const answer = draft.id ? await api(`api/cards/${draft.id}`, { method: "PUT", json: body }) : await api("api/cards", { method: "POST", json: body });
      const card = answer.run ? await afterUploads(answer) : answer;
      let note = "";
      if (cover.files && cover.files[0]) {
        try {
          const image = cover.files[0];
          await api(`api/cards/${card.id}/cover`, { method: "PUT", body: image, headers: { "Content-Type": image.type || "application/octet-stream" } });
        } catch (err) {
          note = ` The cover was not set: ${err.message}`;
        }
      }
      const was = draft.id;
      edit(null);
      formStatus.ok(`${was ? "Updated" : "Made"} “${card.title}”${card.yoto_card_id ? ` (Yoto card ${card.yoto_card_id})` : ""}. Put it on a player from the Players page.${note}`);
      await load();
    } catch (err) {
      formStatus.error(err.status === 409 && /link/i.test(err.message) ? `${err.message} (see Yoto account)` : err.message);
    } finally {
      submit.disabled = false;
    }
  });

  // A write queued behind its uploads to Yoto: show each track's phase until the run ends.
  async function afterUploads(queued) {
    const words = { hashing: "reading", uploading: "uploading", transcoding: "Yoto is converting", complete: "ready", held: "already at Yoto" };
    let run = queued.run;
    while (run.status === "queued" || run.status === "running") {
      const tracks = listOf(run.results);
      formStatus.info(tracks.length
        ? `Uploading to Yoto: ${tracks.map((t) => `track ${t.track} ${words[t.phase] || t.phase}${t.phase === "complete" || t.phase === "held" ? "" : ` ${t.percent}%`}`).join(", ")}…`
        : "Waiting to upload to Yoto…");
      await new Promise((done) => setTimeout(done, 1000));
      run = await api(`api/runs/${run.id}`);
    }
    if (run.status !== "ok") throw new Error(run.detail || "The upload to Yoto failed; the card was not changed.");
    return api(`api/cards/${run.subject_id}`);
  }

  async function edit(card) {
    formStatus.clear();
    if (!card) {
      draft = blank();
      form.reset();
      heading.textContent = "Make a card";
      submit.textContent = "Make the card";
      cancelEdit.hidden = true;
      drawTracks();
      return;
    }
    let full = card;
    try { full = await api(`api/cards/${card.id}`); } catch (err) { formStatus.error(err.message); return; }
    if (linked) await icons.loadAll();
    const tracksOf = listOf(full.tracks);
    await titles.fill(tracksOf.filter((t) => !t.title).map((t) => t.audio_id));
    draft = {
      id: full.id, title: full.title, description: full.description || "", author: full.author || "", storage: full.storage || "",
      tracks: tracksOf.map((t) => ({
        audio_id: t.audio_id, title: t.title || titles.get(t.audio_id) || "Track",
        icon: icons.byId(t.icon || t.chosen_icon), chosen: Boolean(t.icon), suggested: false,
      })),
    };
    title.value = draft.title;
    description.value = draft.description;
    author.value = draft.author;
    storage.value = draft.storage;
    heading.textContent = `Edit “${draft.title}”`;
    submit.textContent = "Save changes";
    cancelEdit.hidden = false;
    drawTracks();
    title.focus();
    heading.scrollIntoView({ block: "start" });
  }

  async function load() {
    try {
      const cards = listOf(await api("api/cards", { query: { all: ctx.me.is_admin ? "true" : "" } }), "cards");
      list.replaceChildren(...cards.map((card) => h("li", {},
        h("div", { class: "main" }, h("span", { class: "title" }, card.title), h("br"),
          h("span", { class: "meta" }, [`${listOf(card.tracks).length} tracks`, card.owner && card.owner !== ctx.me.username ? `by ${card.owner}` : null,
            card.storage === "yoto" ? "in Yoto's storage" : "streamed", card.yoto_card_id ? `Yoto card ${card.yoto_card_id}` : null, card.playlist_id ? "follows a playlist" : null, card.story_id ? "plays a story" : null].filter(Boolean).join(" · "))),
        h("div", { class: "actions" },
          card.playlist_id ? h("a", { class: "button secondary", href: "#/playlists", "aria-label": `Edit the playlist of ${card.title}` }, "Edit playlist")
            : card.story_id ? h("a", { class: "button secondary", href: `#/stories/${encodeURIComponent(card.story_id)}`, "aria-label": `Edit the story of ${card.title}` }, "Edit story")
            : h("button", { type: "button", class: "secondary", "aria-label": `Edit ${card.title}`, onclick: () => edit(card) }, "Edit"),
          h("button", { type: "button", class: "secondary", "aria-label": `Check ${card.title}`, onclick: () => doctor(card) }, "Check"),
          h("button", { type: "button", class: "danger secondary", "aria-label": `Delete ${card.title}`, onclick: () => remove(card) }, "Delete")))));
      if (!cards.length) list.append(h("li", { class: "empty" }, "No cards yet. Make the first one above."));
      listStatus.clear();
    } catch (err) {
      list.replaceChildren();
      listStatus.error(`The cards could not be listed: ${err.message}`);
    }
  }

  // The card doctor: what a player would meet on each track; repair rewrites the same card.
  async function doctor(card) {
    let found;
    try { found = await api(`api/cards/${card.id}/check`); } catch (err) { listStatus.error(`Not checked: ${err.message}`); return; }
    const lines = [...listOf(found.problems).map((p) => h("li", {}, p)),
      ...listOf(found.tracks).map((t) => h("li", {}, `Chapter ${t.chapter}, track ${t.track} “${t.title}”: ${t.ok ? "fine" : t.problems.join("; ")}`))];
    const body = h("div", {}, h("p", {}, found.ok ? "Every track is as a player needs it." : "Some tracks would not play as they should."), h("ul", {}, ...lines));
    const buttons = found.ok || card.playlist_id || card.story_id ? [{ label: "Close", value: false }] : [{ label: "Close", value: false, class: "secondary" }, { label: "Repair the card", value: true }];
    if (!(await dialog(`Check “${card.title}”`, body, buttons))) return;
    try {
      await api(`api/cards/${card.id}/repair`, { method: "POST" });
      listStatus.ok(`Repaired “${card.title}”: every track was written again.`);
    } catch (err) {
      listStatus.error(`Not repaired: ${err.message}`);
    }
  }

  async function remove(card) {
    if (!(await confirmDialog(`Delete “${card.title}”?`, "The card is deleted on Yoto too: a physical card linked to it stops playing. This cannot be undone.", "Delete card"))) return;
    try {
      await api(`api/cards/${card.id}`, { method: "DELETE" });
      if (draft.id === card.id) edit(null);
      announce(`Deleted ${card.title}`);
      await load();
    } catch (err) {
      listStatus.error(`Not deleted: ${err.message}`);
    }
  }

  async function checkLink() {
    if (!ctx.features.yoto) return;
    try {
      const s = await api("api/yoto/status");
      linked = s.linked;
      if (!s.linked) linkNote.replaceChildren(h("p", { class: "notice" }, "Cards live in your Yoto account: ", h("a", { href: "#/yoto" }, "link the Yoto account"), " first."));
    } catch { /* the form says so itself when it fails */ }
  }

  drawTracks();
  clear(root,
    h("div", { class: "page-head" }, h("h1", {}, "Cards"), h("p", {}, "Streaming cards for Yoto players")),
    linkNote,
    h("section", { class: "panel", "aria-labelledby": "card-form-h" }, heading, form),
    h("section", { class: "panel", "aria-labelledby": "cards-h" }, h("h2", { id: "cards-h" }, "The family's cards"), list, listStatus.el));
  await Promise.all([load(), picker.load(), checkLink()]);
  drawTracks();
}

/** Yoto's public icons as the API lists them: suggestions, lookup by id, a picker. */
function iconBook(ctx) {
  const known = new Map();
  let all = null;
  const norm = (i) => ({ id: i.media_id || i.mediaId || i.id, title: i.title || "icon", url: i.url || i.image_url || null });
  async function search(q) {
    if (!ctx.features.icons) return [];
    const found = listOf(await api("api/icons", { query: { q } }), "icons").map(norm);
    for (const icon of found) known.set(icon.id, icon);
    return found;
  }
  return {
    async suggest(q) {
      try { return (await search(q))[0] || null; } catch { return null; }
    },
    async loadAll() {
      if (all || !ctx.features.icons) return;
      try { all = await search(""); } catch { all = []; }
    },
    byId(id) {
      if (!id) return null;
      const bare = String(id).replace(/^yoto:#/, "");
      return known.get(bare) || { id: bare, title: "chosen icon", url: null };
    },
    pick(trackTitle) {
      const q = h("input", { type: "search", autocomplete: "off", value: trackTitle });
      const grid = h("div", { class: "icon-grid", role: "group", "aria-label": "Icons" });
      const status = statusLine();
      return dialog(`Icon for “${trackTitle}”`, (finish) => {
        const fill = async () => {
          try {
            const found = await search(q.value.trim());
            grid.replaceChildren(...found.slice(0, 60).map((icon) => h("button", { type: "button", "aria-label": `Use icon ${icon.title}`, onclick: () => finish(icon) },
              icon.url ? h("img", { src: icon.url, alt: "", width: 32, height: 32 }) : null, icon.title)));
            if (!found.length) status.info("No icon matches; try another word.");
            else status.clear();
          } catch (err) {
            status.error(`Icons could not be listed: ${err.message}`);
          }
        };
        q.addEventListener("input", debounce(fill, 250));
        fill();
        return h("div", { class: "stack" }, field("Search Yoto's icons", q).wrap, grid, status.el);
      }, [{ label: "Cancel", value: null, class: "secondary" }, { label: "Choose automatically", value: "auto", class: "secondary" }]);
    },
  };
}

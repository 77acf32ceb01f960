// Stories: branching stories whose path the listener chooses with the player's
// left and right buttons. An editor that works on a phone (scenes with audio
// from the library or typed text spoken, what each button leads to), the
// problems the service would refuse shown as you go, a preview that plays the
// path in the browser, saving, making the story's card, importing a Twee file.

import { api, listOf } from "../api.js";
import { announce, clear, confirmDialog, field, formatDuration, h, missing, statusLine, syncRows } from "../dom.js";
import { libraryPicker } from "../picker.js";
import { DONE, runFollower } from "./runs.js";

const AFTER = [["choose", "The listener chooses: left or right"], ["next", "It goes on to another scene"], ["end", "The story ends here"]];
const IMPORT_MAX_BYTES = 512 * 1024; // the service's TWEE_MAX_BYTES (services/stories.py)

export async function render(root, ctx) {
  if (ctx.features.stories === false) {
    clear(root, h("h1", {}, "Stories"), missing("Stories need the stories part of this service."));
    return;
  }
  const rows = new Map();
  const follower = runFollower();
  const audioTitles = new Map();
  let draft = blank();
  let editing = null; // the index of the scene in the scene form, or null for a new one
  let serverProblems = null; // the service's last refusal, until the story changes
  let chosenAudio = null;
  let unsaved = false; // scenes or the start changed since the story was opened or saved
  let edits = 0; // counts every change of the draft, so a save knows whether it still holds what was sent

  const mayChange = (s) => ctx.me.is_admin || !s.owner || s.owner === ctx.me.username;
  const sceneOf = (id) => draft.scenes.find((s) => s.id === id);
  const titleOf = (id) => { const s = sceneOf(id); return s ? s.title || "(untitled)" : `a scene that is not there (${id})`; };

  // --- the story: title, start, scenes -------------------------------------------
  const editHeading = h("h2", { id: "st-edit-h", tabindex: "-1" }, "New story");
  const editStatus = statusLine();
  const storyTitle = field("Story title", h("input", { type: "text", maxlength: 100, autocomplete: "off" }));
  const start = field("The story starts with", h("select", {}));
  start.input.addEventListener("change", () => { draft.start = start.input.value || null; changed(); });
  storyTitle.input.addEventListener("input", () => { unsaved = true; edits += 1; });
  const sceneList = h("ol", { class: "items st-scenes", "aria-label": "Scenes" });
  const problemList = h("ul", { class: "st-problems", "aria-label": "Problems" });
  const problemHead = h("p", { class: "st-problem-head" }, "");

  // --- one scene: the form that adds or changes it ------------------------------
  const sceneHeading = h("h3", { id: "st-scene-h", tabindex: "-1" }, "Add a scene");
  const sceneStatus = statusLine();
  const sceneTitle = field("Scene title", h("input", { type: "text", maxlength: 100, autocomplete: "off" }));
  const source = field("Its audio", h("select", {},
    h("option", { value: "text" }, "Text to speak"), h("option", { value: "library" }, "Audio from the library")));
  const chosenLine = h("p", { class: "st-chosen" }, "No audio chosen yet: find it below.");
  const picker = libraryPicker("Find audio in the library", (item) => {
    chosenAudio = { id: item.id, title: item.title, duration_s: item.duration_s };
    audioTitles.set(item.id, item.title);
    showChosen();
    announce(`${item.title} chosen for this scene`);
  });
  const libraryPart = h("div", { class: "st-library" }, chosenLine, picker.el);
  const speak = field("Text to speak", h("textarea", { rows: 4, maxlength: 100_000 }), "It is spoken when you add the scene and goes into the library.");
  const after = field("After this scene", h("select", {}, AFTER.map(([value, label]) => h("option", { value }, label))));
  const endHint = h("p", { class: "small muted" }, "At an ending the buttons may still lead somewhere, to hear it again: choose them, or leave them at Nothing.");
  const left = field("The left button leads to", h("select", {}));
  const right = field("The right button leads to", h("select", {}));
  const noPress = field("If no button is pressed", h("select", {}));
  const next = field("It goes on to", h("select", {}));
  const sceneSubmit = h("button", { type: "submit" }, "Add scene");
  const stopEdit = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => editScene(null) }, "Stop editing");
  const sceneForm = h("form", { class: "stack st-scene-form", novalidate: true, "aria-labelledby": "st-scene-h" },
    sceneHeading, sceneTitle.wrap, source.wrap, libraryPart, speak.wrap,
    h("div", { class: "grid2" }, after.wrap, h("div")), endHint,
    h("div", { class: "grid2" }, left.wrap, right.wrap),
    h("div", { class: "grid2" }, noPress.wrap, next.wrap),
    h("div", { class: "row" }, sceneSubmit, stopEdit), sceneStatus.el);

  function showChosen() {
    chosenLine.textContent = chosenAudio
      ? `Audio: ${chosenAudio.title}${chosenAudio.duration_s ? ` (${formatDuration(chosenAudio.duration_s)})` : ""}`
      : "No audio chosen yet: find it below.";
  }

  function showSource() {
    const text = source.input.value === "text";
    libraryPart.hidden = text;
    speak.wrap.hidden = !text;
    if (!text) picker.load();
  }
  source.input.addEventListener("change", showSource);

  function showAfter() {
    const mode = after.input.value;
    left.wrap.hidden = mode === "next";
    right.wrap.hidden = mode === "next";
    endHint.hidden = mode !== "end";
    noPress.wrap.hidden = mode !== "choose";
    next.wrap.hidden = mode !== "next";
    const none = draft.scenes.length > (editing === null ? 0 : 1) ? mode === "end" ? "Nothing" : "Choose a scene…" : "No other scenes yet";
    for (const select of [left.input, right.input]) select.options[0].textContent = none;
  }
  after.input.addEventListener("change", showAfter);

  /** The scene choices of the form's selects: every scene but the one being edited. */
  function fillTargets() {
    const self = editing === null ? null : draft.scenes[editing].id;
    const others = draft.scenes.filter((s) => s.id !== self);
    const fill = (select, emptyLabel) => {
      const keep = select.value;
      select.replaceChildren(h("option", { value: "" }, emptyLabel), ...others.map((s) => h("option", { value: s.id }, s.title || s.id)));
      select.value = others.some((s) => s.id === keep) ? keep : "";
    };
    fill(left.input, others.length ? "Choose a scene…" : "No other scenes yet");
    fill(right.input, others.length ? "Choose a scene…" : "No other scenes yet");
    fill(next.input, others.length ? "Choose a scene…" : "No other scenes yet");
    fill(noPress.input, "Nothing: it waits");
  }

  sceneForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const title = sceneTitle.input.value.trim();
    const mode = after.input.value;
    const text = source.input.value === "text";
    const problem = !title ? ["Give the scene a title.", sceneTitle.input]
      : text && !speak.input.value.trim() ? ["Type the text to speak.", speak.input]
        : !text && !chosenAudio ? ["Choose its audio from the library (or type text to speak).", source.input] : null;
    if (problem) { sceneStatus.error(problem[0]); problem[1].focus(); return; }
    // What the form says now: speaking takes a moment, and the form may be used for another scene meanwhile.
    const editedId = editing === null ? null : draft.scenes[editing].id;
    const ways = {
      left: mode !== "next" ? left.input.value || null : null,
      right: mode !== "next" ? right.input.value || null : null,
      next: mode === "choose" ? noPress.input.value || null : mode === "next" ? next.input.value || null : null,
      ending: mode === "end",
      after: mode, // the form's choice, kept while editing (a way on not chosen yet is still a way on)
    };
    const words = speak.input.value;
    let audio = chosenAudio;
    sceneSubmit.disabled = true;
    try {
      if (text) {
        sceneStatus.info("Speaking the text… this can take a little while.");
        try {
          const item = await api("api/audio/tts", { method: "POST", json: { title, text: words } });
          audio = { id: item.id, title: item.title, duration_s: item.duration_s };
        } catch (err) {
          sceneStatus.error(`Not spoken: ${err.message}`);
          return;
        }
        audioTitles.set(audio.id, audio.title);
      }
      const at = editedId === null ? -1 : draft.scenes.findIndex((x) => x.id === editedId);
      if (editedId !== null && at < 0) { sceneStatus.error(`“${title}” was removed meanwhile; its audio is in the library.`); return; }
      const old = at < 0 ? {} : draft.scenes[at];
      const scene = { ...old, id: old.id || freshId(draft.scenes), title, audio_id: audio.id, ...ways };
      if (at < 0) draft.scenes.push(scene);
      else draft.scenes[at] = scene;
      if (!draft.start) draft.start = scene.id;
      if (editing === null || editing === at) editScene(null);
      changed();
      sceneStatus.ok(`${at < 0 ? "Added" : "Changed"} “${title}”. Save the story to keep it.`);
      announce(`${at < 0 ? "Added" : "Changed"} scene ${title}`);
    } finally {
      sceneSubmit.disabled = false;
    }
  });

  /** Open a scene in the form (index), or empty it for a new one (null). */
  function editScene(index) {
    editing = index;
    sceneStatus.clear();
    fillTargets();
    if (index === null) {
      sceneForm.reset();
      chosenAudio = null;
      sceneHeading.textContent = "Add a scene";
      sceneSubmit.textContent = "Add scene";
      stopEdit.hidden = true;
    } else {
      const s = draft.scenes[index];
      sceneTitle.input.value = s.title || "";
      source.input.value = "library";
      speak.input.value = "";
      chosenAudio = s.audio_id ? { id: s.audio_id, title: audioTitles.get(s.audio_id) || "audio from the library" } : null;
      after.input.value = s.ending ? "end" : s.left || s.right ? "choose" : s.next ? "next" : s.after || "choose";
      left.input.value = s.left || "";
      right.input.value = s.right || "";
      noPress.input.value = s.left || s.right ? s.next || "" : "";
      next.input.value = s.next || "";
      sceneHeading.textContent = `Change “${s.title || s.id}”`;
      sceneSubmit.textContent = "Change scene";
      stopEdit.hidden = false;
    }
    showChosen();
    showSource();
    showAfter();
    if (index !== null) {
      sceneHeading.scrollIntoView({ block: "start" });
      sceneTitle.input.focus({ preventScroll: true });
    }
  }

  function removeScene(index) {
    const [gone] = draft.scenes.splice(index, 1);
    if (draft.start === gone.id) draft.start = draft.scenes.length ? draft.scenes[0].id : null;
    if (editing !== null) editScene(null);
    changed();
    const focus = sceneList.querySelector(`li:nth-child(${Math.min(index + 1, draft.scenes.length)}) button`);
    (focus || sceneForm.querySelector("input")).focus();
    announce(`Removed scene ${gone.title}. Anything that led to it now leads nowhere.`);
  }

  function drawScenes() {
    sceneList.replaceChildren(...draft.scenes.map((s, index) => {
      const name = s.title || s.id;
      return h("li", { dataset: { scene: s.id } },
        h("div", { class: "main" },
          h("span", { class: "title" }, name), s.id === draft.start ? h("span", { class: "badge on st-start" }, "Start") : null,
          h("div", { class: "meta" }, s.audio_id ? `Audio: ${audioTitles.get(s.audio_id) || "from the library"}` : "No audio"),
          h("div", { class: "meta st-leads" }, leadsWords(s, titleOf))),
        h("div", { class: "actions" },
          h("button", { type: "button", class: "secondary", "aria-label": `Preview from ${name}`, onclick: () => preview.play(s.id, true) }, "Preview"),
          h("button", { type: "button", class: "secondary", "aria-label": `Change ${name}`, onclick: () => editScene(index) }, "Change"),
          h("button", { type: "button", class: "danger secondary", "aria-label": `Remove ${name}`, onclick: () => removeScene(index) }, "Remove")));
    }));
    if (!draft.scenes.length) sceneList.append(h("li", { class: "empty" }, "No scenes yet: add the first one below. It is where the story starts."));
    const keep = draft.start;
    start.input.replaceChildren(
      h("option", { value: "" }, draft.scenes.length ? "Choose a scene…" : "Add a scene first"),
      ...draft.scenes.map((s) => h("option", { value: s.id }, s.title || s.id)));
    start.input.value = draft.scenes.some((s) => s.id === keep) ? keep : "";
  }

  function drawProblems() {
    const found = serverProblems || storyProblems(draft, titleOf);
    const errors = found.filter((p) => p.level === "error").length;
    const warnings = found.length - errors;
    problemList.replaceChildren(...found.map((p) => h("li", { class: p.level === "error" ? "error" : "", dataset: { kind: p.kind || "" } },
      h("strong", {}, p.level === "error" ? "Must fix: " : "Check: "), p.message)));
    problemHead.className = `st-problem-head ${errors ? "error" : warnings ? "st-warn" : "ok"}`;
    const counted = [errors ? `${plural(errors, "problem")} to fix before saving` : "Nothing stops saving", warnings ? plural(warnings, "warning") : null];
    problemHead.textContent = !draft.scenes.length ? "Add scenes: problems with the path show here before you save."
      : found.length ? `${counted.filter(Boolean).join(", ")}${serverProblems ? " (as the service sees it)" : ""}:`
        : "No problems: every choice leads somewhere, every scene can be reached and every path can end.";
  }

  /** The service's problems, in this page's words where the page found the same one. */
  function asService(problems) {
    const mine = storyProblems(draft, titleOf);
    return listOf(problems).map((p) => {
      const same = mine.find((m) => m.kind === p.kind && m.scene === p.scene);
      return { ...p, level: p.level || "error", message: same ? same.message : p.message || p.kind };
    });
  }

  /** The story changed: draw it again, and forget the service's last word on it. */
  function changed() {
    serverProblems = null;
    unsaved = true;
    edits += 1;
    const before = problemHead.textContent;
    drawScenes();
    drawProblems();
    if (editing === null) { fillTargets(); showAfter(); }
    preview.refresh();
    if (problemHead.textContent !== before && draft.scenes.length) announce(problemHead.textContent);
  }

  const saveButton = h("button", { type: "button", onclick: save }, "Save story");
  const cardButton = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => makeCard(draft, editStatus) }, "Make its card");
  const newButton = h("button", { type: "button", class: "secondary", onclick: () => open(null) }, "Start a new story");

  async function save() {
    const title = storyTitle.input.value.trim();
    if (!title) { editStatus.error("Give the story a title."); storyTitle.input.focus(); return; }
    if (!draft.scenes.length) { editStatus.error("Add at least one scene."); sceneTitle.input.focus(); return; }
    const found = storyProblems(draft, titleOf);
    const body = { title, start: draft.start, scenes: draft.scenes.map(sceneBody) };
    if (draft.version !== undefined && draft.version !== null) body.version = draft.version;
    saveButton.disabled = true;
    editStatus.info(found.length ? "Saving… (the service decides about the problems listed)" : "Saving…");
    const was = draft.id;
    const sent = draft;
    const mark = edits;
    try {
      const saved = was ? await api(`api/stories/${encodeURIComponent(was)}`, { method: "PUT", json: body }) : await api("api/stories", { method: "POST", json: body });
      if (draft !== sent || edits !== mark) {
        // Changed (or another story opened) while saving: what is in the editor now stays, unsaved.
        if (draft === sent) { draft.id = saved.id; draft.version = saved.version; cardButton.hidden = false; editHeading.textContent = `Change “${saved.title}”`; }
        editStatus.ok(`Saved “${saved.title}” as it was when you pressed Save${draft === sent ? "; what you changed since is not saved yet" : ""}.`);
        await load();
        return;
      }
      take(saved);
      serverProblems = asService(saved.problems);
      drawProblems();
      editStatus.ok(`${was ? "Saved changes to" : "Saved"} “${saved.title}”. Make its card to play it on a player.`);
      announce(`Saved ${saved.title}`);
      await load();
    } catch (err) {
      const problems = err.body && Array.isArray(err.body.problems) ? err.body.problems : null;
      if (err.status === 422 && problems) {
        serverProblems = asService(problems);
        drawProblems();
        editStatus.error(`Not saved: ${err.message}`);
        problemList.scrollIntoView({ block: "nearest" });
      } else {
        editStatus.error(err.status === 409 ? `Not saved: ${err.message}. The list shows the latest; open it again to change it.` : `Not saved: ${err.message}`);
        if (err.status === 409 || err.status === 404) load();
      }
    } finally {
      saveButton.disabled = false;
    }
  }

  /** The story as the service answered it, now in the editor. */
  function take(story) {
    draft = { id: story.id, version: story.version, title: story.title, start: story.start, scenes: listOf(story.scenes).map((s) => ({ ...s })),
      yoto_card_id: story.yoto_card_id || null, owner: story.owner };
    storyTitle.input.value = story.title;
    editHeading.textContent = `Change “${story.title}”`;
    cardButton.hidden = false;
    cardButton.textContent = draft.yoto_card_id ? "Make its card again" : "Make its card";
    editScene(null);
    changed();
    unsaved = false;
  }

  /** True when nothing unsaved is in the editor, or whoever is editing lets it go. */
  async function mayLeave() {
    if (!unsaved || !draft.scenes.length) return true;
    const name = storyTitle.input.value.trim() || "the story";
    return confirmDialog("Leave this story unsaved?", `The changes to “${name}” since it was last saved would be lost.`, "Leave it unsaved");
  }

  async function open(story) {
    if (!(await mayLeave())) return;
    editStatus.clear();
    if (!story) {
      draft = blank();
      storyTitle.input.value = "";
      editHeading.textContent = "New story";
      cardButton.hidden = true;
      editScene(null);
      changed();
      unsaved = false;
      editHeading.focus();
      return;
    }
    try {
      const full = await api(`api/stories/${encodeURIComponent(story.id)}`);
      await titlesOf(full.scenes);
      take(full);
      editHeading.scrollIntoView({ block: "start" });
      editHeading.focus({ preventScroll: true });
    } catch (err) {
      listStatus.error(`“${story.title}” could not be opened: ${err.message}`);
    }
  }

  async function titlesOf(scenes) {
    const ids = [...new Set(listOf(scenes).map((s) => s.audio_id).filter((id) => id && !audioTitles.has(id)))];
    await Promise.all(ids.map(async (id) => {
      try { audioTitles.set(id, (await api(`api/audio/${encodeURIComponent(id)}`)).title); } catch { audioTitles.set(id, "(audio not found)"); }
    }));
  }

  // --- making the card ---------------------------------------------------------
  async function makeCard(story, status) {
    status.info(`Making the card of “${story.title}” on Yoto…`);
    try {
      let answer = await api(`api/stories/${encodeURIComponent(story.id)}/card`, { method: "POST" });
      if (answer && answer.run) {
        let run = answer.run;
        while (!DONE.has(run.status)) {
          status.info(uploadWords(run));
          run = await follower.wait(run.id);
          if (!run) return;
        }
        if (run.status !== "ok") throw new Error(run.detail || "the upload to Yoto failed; the card was not changed");
        answer = await api(`api/stories/${encodeURIComponent(story.id)}`);
      }
      const cardId = answer.yoto_card_id;
      status.ok(`The card of “${story.title}” is ready${cardId ? ` (Yoto card ${cardId})` : ""}: put it on a player from the Players page. It plays without this service.`);
      announce(`Card ready for ${story.title}`);
      if (draft.id === story.id) { draft.yoto_card_id = cardId; cardButton.textContent = "Make its card again"; }
      await load();
    } catch (err) {
      // Refused in the request (409) or in the upload run: an unlinked account is fixed on the Yoto account page.
      status.error(`No card made: ${err.message}${/\blink/i.test(err.message) ? " (see Yoto account)" : ""}`);
    }
  }

  // --- the preview ---------------------------------------------------------------
  const preview = previewPanel({ sceneOf, titleOf, audioTitle: (id) => audioTitles.get(id), start: () => draft.start });

  // --- the list --------------------------------------------------------------------
  const list = h("ul", { class: "items st-list", "aria-label": ctx.me.is_admin ? "The family's stories" : "Your stories" },
    h("li", { class: "placeholder", "aria-hidden": "true" }, h("div", { class: "main" }, h("div", { class: "title" }, "\u00a0"), h("div", { class: "meta" }, "\u00a0"))));
  const listStatus = statusLine();
  let absent = false;

  async function load() {
    try {
      const all = ctx.me.is_admin ? "true" : "";
      let answer = await api("api/stories", { query: { limit: 100, all } });
      const found = [...listOf(answer, "stories")];
      for (let more = 0; answer && answer.next_cursor && more < 10; more += 1) {
        answer = await api("api/stories", { query: { limit: 100, all, cursor: answer.next_cursor } });
        found.push(...listOf(answer, "stories"));
      }
      syncRows(list, rows, found, storyRow, { empty: h("li", { class: "empty" }, "No stories yet. Make one above, or import a Twine story.") });
      listStatus.clear();
    } catch (err) {
      if (err.status === 401) return;
      if (err.status === 404 || err.status === 405) { absent = true; return; }
      if (!rows.size) list.replaceChildren();
      listStatus.error(`The stories could not be listed: ${err.message}`);
    }
  }

  function storyRow(first) {
    let s = first;
    const title = h("span", { class: "title" }, "");
    const meta = h("div", { class: "meta" }, "");
    const status = statusLine();
    const edit = h("button", { type: "button", class: "secondary", onclick: () => open(s) }, "Open");
    const card = h("button", { type: "button", class: "secondary", onclick: () => makeCard(s, status) }, "Make card");
    const del = h("button", { type: "button", class: "danger secondary", onclick: remove }, "Delete");
    const actions = h("div", { class: "actions" });
    const el = h("li", { class: "st-item" }, h("div", { class: "main" }, title, meta), actions, status.el);

    async function remove() {
      const card = s.yoto_card_id ? ` Its card (Yoto card ${s.yoto_card_id}) is deleted too, on Yoto as well.` : "";
      if (!(await confirmDialog(`Delete “${s.title}”?`, `The story goes for the whole family.${card} This cannot be undone.`, "Delete story"))) return;
      try {
        await api(`api/stories/${encodeURIComponent(s.id)}`, { method: "DELETE" });
        if (draft.id === s.id) { unsaved = false; open(null); }
        rows.delete(s.id);
        announce(`Deleted ${s.title}`);
        await load();
        listStatus.ok(`Deleted “${s.title}”.`);
      } catch (err) {
        status.error(`Not deleted: ${err.message}`);
      }
    }

    function update(latest) {
      s = latest;
      title.textContent = s.title;
      const scenes = listOf(s.scenes);
      const endings = scenes.filter((x) => x.ending).length;
      meta.textContent = [
        `${scenes.length} ${scenes.length === 1 ? "scene" : "scenes"}`,
        `${endings} ${endings === 1 ? "ending" : "endings"}`,
        listOf(s.problems).length ? plural(listOf(s.problems).length, "warning") : null,
        s.yoto_card_id ? `Yoto card ${s.yoto_card_id}` : "no card yet",
        s.owner && s.owner !== ctx.me.username ? `by ${s.owner}` : null,
      ].filter(Boolean).join(" · ");
      edit.setAttribute("aria-label", `Open ${s.title}`);
      card.setAttribute("aria-label", `Make the card of ${s.title}`);
      card.textContent = s.yoto_card_id ? "Make card again" : "Make card";
      del.setAttribute("aria-label", `Delete ${s.title}`);
      actions.replaceChildren(...(mayChange(s) ? [edit, card, del] : [edit]));
    }
    return { el, update };
  }

  // --- import ---------------------------------------------------------------------
  const importStatus = statusLine();
  const importFile = field("Twine story (a Twee 3 file)", h("input", { type: "file", accept: ".twee,.tw,.txt,text/plain" }),
    "Passages become scenes; a passage's first two links are the left and right buttons, a third what comes next; a passage with no links is an ending. Text with no audio is spoken.");
  const importButton = h("button", { type: "submit" }, "Import story");
  const importForm = h("form", { class: "stack", novalidate: true }, importFile.wrap, h("div", { class: "row" }, importButton), importStatus.el);
  importForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = importFile.input.files && importFile.input.files[0];
    if (!file) { importStatus.error("Choose a Twee file first."); importFile.input.focus(); return; }
    if (file.size > IMPORT_MAX_BYTES) { importStatus.error("That file is too big for a story: at most 512 KB."); return; }
    const form = new FormData();
    form.append("file", file, file.name);
    importButton.disabled = true;
    importStatus.info("Importing… passages without audio are being spoken, which can take a while.");
    try {
      let made = await api("api/stories/import", { method: "POST", body: form });
      if (made && made.run) {
        const run = await follower.wait(made.run.id);
        if (!run) return;
        if (run.status !== "ok") throw new Error(run.detail || "the import did not finish");
        made = await api(`api/stories/${encodeURIComponent(run.subject_id)}`);
      }
      importForm.reset();
      importStatus.ok(`Imported “${made.title}” with ${listOf(made.scenes).length} scenes. It is open in the editor above.`);
      announce(`Imported ${made.title}`);
      await load();
      if (!(await mayLeave())) { importStatus.ok(`Imported “${made.title}”: it is in the list below, to open when you are ready.`); return; }
      await titlesOf(made.scenes);
      take(made);
    } catch (err) {
      importStatus.error(`Not imported: ${err.message}`);
    } finally {
      importButton.disabled = false;
    }
  });

  editScene(null);
  changed();
  clear(root,
    h("div", { class: "page-head" }, h("h1", {}, "Stories"), h("p", {}, "Stories that branch: the listener chooses with the player's buttons")),
    h("section", { class: "panel st-editor", "aria-labelledby": "st-edit-h" },
      editHeading, storyTitle.wrap,
      h("h3", {}, "Scenes"), sceneList, start.wrap,
      h("div", { class: "st-problem-box" }, problemHead, problemList),
      sceneForm,
      h("div", { class: "row st-save" }, saveButton, cardButton, newButton), editStatus.el),
    preview.el,
    h("details", { class: "panel" }, h("summary", {}, "Import a Twine story"), importForm),
    // Last, as on the other pages: rows filling in move nothing below them.
    h("section", { class: "panel", "aria-labelledby": "st-list-h" }, h("h2", { id: "st-list-h" }, ctx.me.is_admin ? "The family's stories" : "Your stories"), list, listStatus.el));

  await load();
  if (absent) {
    clear(root, h("h1", {}, "Stories"), missing("Stories need the stories part of this service."));
    return () => follower.stop();
  }
  // #/stories/<id> (a link from elsewhere, such as a story's card) opens that story in the editor.
  const linked = decodeURIComponent(location.hash.replace(/^#\/?/, "").split("/")[1] || "");
  if (/^[A-Za-z0-9]{1,64}$/.test(linked)) open({ id: linked, title: `story ${linked}` });
  return () => { follower.stop(); preview.stop(); };
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function blank() {
  return { id: null, version: null, title: "", start: null, scenes: [], yoto_card_id: null };
}

/** A scene as the service takes it: its fields, nothing else. */
function sceneBody(s) {
  return { id: s.id, title: s.title, audio_id: s.audio_id || null, left: s.left || null, right: s.right || null, next: s.next || null, ending: Boolean(s.ending) };
}

function freshId(scenes) {
  const taken = new Set(scenes.map((s) => s.id));
  let n = scenes.length + 1;
  while (taken.has(`s${n}`)) n += 1;
  return `s${n}`;
}

/** "Left: The cave · Right: The river", "Goes on to The cave", "Ending". */
function leadsWords(s, titleOf) {
  const parts = [];
  if (s.ending) {
    parts.push("Ending: the story stops here");
    for (const way of ["left", "right"]) if (s[way]) parts.push(`${way === "left" ? "Left" : "Right"}: ${titleOf(s[way])}`);
    return parts.join(" · ");
  }
  if (s.left || s.right) {
    parts.push(`Left: ${s.left ? titleOf(s.left) : "nowhere yet"}`, `Right: ${s.right ? titleOf(s.right) : "nowhere yet"}`);
    if (s.next) parts.push(`no press: ${titleOf(s.next)}`);
  } else if (s.next) {
    parts.push(`Goes on to ${titleOf(s.next)}`);
  } else {
    parts.push("Leads nowhere yet");
  }
  return parts.join(" · ");
}

/**
 * The problems of a story, worked out as the service works them out
 * (core/stories.py), in the page's words with scene titles: errors block a
 * save (a way on to no scene, a start that is no scene, an ending that goes on,
 * a bad or repeated id), warnings do not (a scene no path reaches, a loop with
 * no way to an ending, a scene that leads nowhere, no audio). Errors first.
 */
export function storyProblems(story, titleOf = null) {
  const found = [];
  const scenes = story.scenes;
  if (!scenes.length) return found;
  const ids = new Set();
  const name = (s) => `“${titleOf ? titleOf(s.id) : s.title || s.id}”`;
  const add = (scene, kind, level, message) => found.push({ scene, kind, level, message });
  const exits = (s) => [...new Set(["left", "right", "next"].map((b) => s[b]).filter(Boolean))];
  for (const s of scenes) {
    if (!SCENE_ID.test(s.id || "")) add(s.id || null, "bad_id", "error", `${name(s)} has an id this service cannot keep: letters, digits, . _ or - only.`);
    else if (ids.has(s.id)) add(s.id, "duplicate_scene", "error", `Two scenes have the id ${s.id}.`);
    ids.add(s.id);
  }
  for (const s of scenes) {
    for (const way of ["left", "right", "next"]) {
      if (s[way] && !ids.has(s[way])) add(s.id, "missing_scene", "error", `${name(s)}: ${WAY_WORDS[way]} leads to a scene that is not there.`);
    }
    if (s.ending && s.next) add(s.id, "ending_goes_on", "error", `${name(s)} is an ending but also goes on: choose one.`);
  }
  const silent = (s) => add(s.id, "no_audio", "warning", `${name(s)} has no audio yet: it needs some before the card is made.`);
  if (!ids.has(story.start)) {
    add(null, "bad_start", "error", "Choose the scene the story starts with.");
    for (const s of scenes) if (!s.audio_id) silent(s);
    return order(found);
  }
  const graph = new Map(scenes.map((s) => [s.id, exits(s).filter((id) => ids.has(id))]));
  const back = new Map();
  for (const [from, targets] of graph) for (const t of targets) back.set(t, [...(back.get(t) || []), from]);
  const reached = reach([story.start], graph);
  const finishing = reach(scenes.filter((s) => s.ending || !exits(s).length).map((s) => s.id), back);
  const seen = new Set();
  for (const s of scenes) {
    if (seen.has(s.id)) continue;
    seen.add(s.id);
    if (!reached.has(s.id)) add(s.id, "unreachable", "warning", `No path from the start reaches ${name(s)}.`);
    else if (!finishing.has(s.id)) add(s.id, "no_ending", "warning", `From ${name(s)} no path leads to an ending: a loop with no way out.`);
    if (!s.ending && !exits(s).length) add(s.id, "no_way_on", "warning", `${name(s)} leads nowhere, so it plays as an ending: choose where it goes, or make it one.`);
    if (!s.audio_id) silent(s);
  }
  return order(found);
}

const SCENE_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const WAY_WORDS = { left: "the left button", right: "the right button", next: "what comes next" };

/** Every scene reachable from `starts` along `graph` (a Map of id → ids). */
function reach(starts, graph) {
  const seen = new Set(starts);
  for (const queue = [...starts]; queue.length;) {
    for (const id of graph.get(queue.shift()) || []) if (!seen.has(id)) { seen.add(id); queue.push(id); }
  }
  return seen;
}

/** Errors first, each level in the order found. */
function order(found) {
  return [...found.filter((p) => p.level === "error"), ...found.filter((p) => p.level !== "error")];
}

/** What a card-upload run is doing, in words. */
function uploadWords(run) {
  const words = { hashing: "reading", uploading: "uploading", transcoding: "Yoto is converting", complete: "ready", held: "already at Yoto" };
  const tracks = listOf(run.results);
  return tracks.length
    ? `Uploading to Yoto: ${tracks.map((t) => `scene ${t.track} ${words[t.phase] || t.phase}${t.phase === "complete" || t.phase === "held" ? "" : ` ${t.percent}%`}`).join(", ")}…`
    : "Waiting to upload to Yoto…";
}

/**
 * The preview: plays a scene's audio in the browser, with Left and Right (and
 * Skip, where the scene goes on by itself) moving along the path as the
 * player's buttons would; the path so far is listed.
 */
function previewPanel({ sceneOf, titleOf, audioTitle, start }) {
  // No native controls (their inner buttons are Tab stops of their own): Pause and the path buttons do it.
  const audio = h("audio", { preload: "auto" });
  const now = h("p", { class: "st-now", role: "status" }, "Press Play from the start to hear the story as a listener would.");
  const path = h("ol", { class: "st-path", "aria-label": "Path so far" });
  const from = h("button", { type: "button", onclick: () => play(start(), true) }, "Play from the start");
  const leftB = h("button", { type: "button", class: "secondary", disabled: true, onclick: () => press("left") }, "Left");
  const rightB = h("button", { type: "button", class: "secondary", disabled: true, onclick: () => press("right") }, "Right");
  const skip = h("button", { type: "button", class: "secondary", disabled: true, onclick: () => press("next") }, "Skip to what comes next");
  const pause = h("button", { type: "button", class: "secondary", disabled: true, onclick: () => (audio.paused ? audio.play().catch(() => {}) : audio.pause()) }, "Pause");
  audio.addEventListener("play", () => { pause.textContent = "Pause"; });
  audio.addEventListener("pause", () => { pause.textContent = "Play"; });
  audio.addEventListener("emptied", () => { pause.disabled = true; });
  audio.addEventListener("loadedmetadata", () => { pause.disabled = false; });
  const status = statusLine();
  let current = null;
  let token = 0;

  audio.addEventListener("ended", () => { const s = sceneOf(current); if (s && !s.ending && s.next) press("next"); });

  async function play(id, restart) {
    status.clear();
    const s = id ? sceneOf(id) : null;
    if (!s) { status.error(id ? "That scene is not in the story." : "Add a scene and choose where the story starts first."); return; }
    if (restart) path.replaceChildren();
    current = id;
    path.append(h("li", {}, s.title || s.id));
    draw();
    const mine = ++token;
    if (!s.audio_id) { audio.removeAttribute("src"); status.error(`“${s.title}” has no audio yet.`); return; }
    try {
      const { url } = await api(`api/audio/${encodeURIComponent(s.audio_id)}/stream-url`);
      if (mine !== token) return;
      audio.src = url;
      audio.play().catch(() => { /* autoplay may be refused; the controls are there */ });
    } catch (err) {
      if (mine === token) status.error(`Cannot play “${s.title}”: ${err.message}`);
    }
    el.scrollIntoView({ block: "nearest" });
  }

  function press(button) {
    const s = sceneOf(current);
    if (!s || !s[button] || (button === "next" && s.ending)) return;
    play(s[button], false);
    announce(`${button === "next" ? "On" : button === "left" ? "Left" : "Right"}: ${titleOf(s[button])}`);
  }

  function draw() {
    const s = current ? sceneOf(current) : null;
    if (!s) {
      now.textContent = current ? "The scene being previewed was removed. Play from the start again." : "Press Play from the start to hear the story as a listener would.";
      for (const b of [leftB, rightB, skip]) b.disabled = true;
      return;
    }
    const heard = audioTitle(s.audio_id);
    now.textContent = s.ending ? `Now playing: ${s.title} (the end)` : `Now playing: ${s.title}${heard && heard !== s.title ? ` (${heard})` : ""}`;
    // An ending may still offer its buttons (to play again).
    leftB.disabled = !s.left || !sceneOf(s.left);
    rightB.disabled = !s.right || !sceneOf(s.right);
    skip.disabled = s.ending || !s.next || !sceneOf(s.next);
    leftB.setAttribute("aria-label", !leftB.disabled ? `Left: ${titleOf(s.left)}` : "Left");
    rightB.setAttribute("aria-label", !rightB.disabled ? `Right: ${titleOf(s.right)}` : "Right");
  }

  const el = h("section", { class: "panel st-preview", "aria-labelledby": "st-preview-h" },
    h("h2", { id: "st-preview-h" }, "Preview"), now, audio,
    h("div", { class: "row st-buttons" }, leftB, rightB), h("div", { class: "row" }, from, pause, skip), status.el,
    h("h3", {}, "Path so far"), path);
  return {
    el,
    play,
    refresh: draw,
    stop() { token += 1; audio.pause(); audio.removeAttribute("src"); },
  };
}

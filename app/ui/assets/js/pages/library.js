// Library: upload (drop or pick several files, a progress bar each, through
// the two-step signed upload), record from the microphone, text to speech,
// search, rename, delete (with the "used by" warning) and play in the page;
// import a whole collection (a ZIP of folders, or an audiobook) with its progress.

import { api, ApiError, listOf, sendToTarget } from "../api.js";
import { announce, checkbox, clear, confirmDialog, debounce, field, formatBytes, formatDuration, formatNumber, h, statusLine } from "../dom.js";
import { recorderPanel } from "../recorder.js";

const PAGE = 30;
const ACCEPT = "audio/*,.mp3,.m4a,.aac,.wav,.flac,.ogg,.oga";

export async function render(root, ctx) {
  const usage = h("p", { id: "usage" }, "\u00a0");
  const list = h("ul", { class: "items", "aria-label": "Audio in the library", "aria-busy": "true" }, placeholders(4));
  const more = h("button", { type: "button", class: "secondary more", hidden: true }, "Show more");
  const listStatus = statusLine();
  const search = h("input", { type: "search", placeholder: "Title contains…", autocomplete: "off" });
  const mine = checkbox("Only mine");
  const dock = playerDock();
  let cursor = null;
  let query = "";

  async function loadUsage() {
    try {
      const u = await api("api/audio/usage");
      usage.textContent = `${formatNumber(u.items)} of yours · ${formatBytes(u.used_bytes)} used of ${formatBytes(u.quota_bytes)}`;
    } catch (err) {
      if (err.status !== 401) usage.textContent = `Storage use unknown: ${err.message}`;
    }
  }

  async function load(reset = true) {
    if (reset) cursor = null;
    list.setAttribute("aria-busy", "true");
    try {
      const page = await api("api/audio", { query: { q: query, limit: PAGE, cursor, mine: mine.input.checked ? "true" : "" } });
      if (reset) list.replaceChildren();
      for (const item of page.items) list.append(row(item));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      if (!list.children.length) {
        list.append(h("li", { class: "empty" }, query ? `Nothing matches “${query}”.` : "Nothing here yet. Add audio above: upload files, record, or type text to be spoken."));
      }
      listStatus.clear();
    } catch (err) {
      if (reset) list.replaceChildren();
      listStatus.error(`The library could not be loaded: ${err.message}`);
    } finally {
      list.setAttribute("aria-busy", "false");
    }
  }

  function row(item) {
    const title = h("span", { class: "title" }, item.title);
    const meta = h("span", { class: "meta" }, [formatDuration(item.duration_s), formatBytes(item.size_bytes), levelOf(item), item.owner, sourceName(item.source)].filter(Boolean).join(" · "));
    const status = h("span", { class: "meta", role: "status" });
    const main = h("div", { class: "main" }, title, h("br"), meta, status);
    const actions = h("div", { class: "actions" },
      h("button", { type: "button", class: "secondary", "aria-label": `Play ${item.title}`, onclick: () => play(item, status) }, "Play"),
      h("button", { type: "button", class: "secondary", "aria-label": `Rename ${item.title}`, onclick: () => rename(item, li, main) }, "Rename"),
      h("button", { type: "button", class: "danger secondary", "aria-label": `Delete ${item.title}`, onclick: () => remove(item, li, status) }, "Delete"));
    const li = h("li", { dataset: { id: item.id } }, main, actions);
    return li;
  }

  async function play(item, status) {
    status.textContent = "";
    try {
      const { url } = await api(`api/audio/${item.id}/stream-url`);
      dock.play(url, item.title);
    } catch (err) {
      status.textContent = ` · Cannot play: ${err.message}`;
    }
  }

  function rename(item, li, mainPart) {
    const input = h("input", { type: "text", value: item.title, maxlength: 200, required: true });
    const msg = statusLine();
    const form = h("form", { class: "main" },
      field(`New title for ${item.title}`, input).wrap,
      h("div", { class: "row" }, h("button", { type: "submit" }, "Save"), h("button", { type: "button", class: "secondary", onclick: () => done() }, "Cancel")),
      msg.el);
    const actions = li.querySelector(".actions");
    actions.hidden = true;
    mainPart.replaceWith(form);
    input.focus();
    input.select();
    function done(updated) {
      const fresh = row(updated || item);
      li.replaceWith(fresh);
      fresh.querySelector(`button[aria-label^="Rename"]`).focus();
    }
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const title = input.value.trim();
      if (!title) { msg.error("A title cannot be empty."); return; }
      try {
        const updated = await api(`api/audio/${item.id}`, { method: "PATCH", json: { title } });
        announce(`Renamed to ${updated.title}`);
        done(updated);
      } catch (err) {
        msg.error(err.message);
      }
    });
    form.addEventListener("keydown", (e) => { if (e.key === "Escape") done(); });
  }

  async function remove(item, li, status) {
    if (!(await confirmDialog("Delete this audio?", `“${item.title}” will be gone for the whole family.`, "Delete"))) return;
    try {
      await api(`api/audio/${item.id}`, { method: "DELETE" });
    } catch (err) {
      if (err.status !== 409) { status.textContent = ` · Not deleted: ${err.message}`; return; }
      const users = await usedBy(err.body, ctx.features);
      const body = h("div", {}, h("p", {}, `“${item.title}” is still used by:`), h("ul", {}, users.map((u) => h("li", {}, u))),
        h("p", {}, "Deleting it anyway removes it from those; the cards skip it from their next update."));
      if (!(await confirmDialog("It is still in use", body, "Delete anyway"))) return;
      try {
        await api(`api/audio/${item.id}`, { method: "DELETE", query: { force: "true" } });
      } catch (again) {
        status.textContent = ` · Not deleted: ${again.message}`;
        return;
      }
    }
    announce(`Deleted ${item.title}`);
    const next = li.nextElementSibling || li.previousElementSibling;
    li.remove();
    (next && next.querySelector("button")) ? next.querySelector("button").focus() : search.focus();
    if (!list.children.length) load();
    loadUsage();
  }

  // --- adding audio ---------------------------------------------------------
  const uploads = h("ul", { class: "uploads", "aria-label": "Uploads" });
  const picker = h("input", { type: "file", multiple: true, accept: ACCEPT, class: "visually-hidden", id: "file-picker" });
  const drop = h("label", { class: "drop", for: "file-picker" },
    picker,
    h("span", {}, "Drop audio files here, or ", h("strong", {}, "choose files")),
    h("span", { class: "small muted" }, "MP3, M4A, AAC, WAV, FLAC or OGG · several at once"));
  picker.setAttribute("aria-label", "Choose audio files to upload");
  picker.addEventListener("change", () => { uploadAll([...picker.files]); picker.value = ""; });
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const type of ["dragleave", "drop"]) drop.addEventListener(type, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    uploadAll([...(e.dataTransfer ? e.dataTransfer.files : [])]);
  });

  async function uploadAll(files) {
    if (!files.length) return;
    const jobs = files.map((file) => uploadRow(file));
    // Two at a time: quick on a phone's connection without starving the page.
    const queue = [...jobs];
    const workers = [0, 1].map(async () => { while (queue.length) await queue.shift()(); });
    await Promise.all(workers);
    await Promise.all([load(), loadUsage()]);
  }

  /** A row with a progress bar for one file; returns the function that uploads it. */
  function uploadRow(file, title) {
    const name = title || file.name;
    const bar = h("progress", { max: 1, value: 0, "aria-label": `Upload of ${name}` });
    const state = h("div", { class: "state", role: "status" }, "Waiting…");
    uploads.append(h("li", {}, h("div", { class: "name" }, name), bar, state));
    return () => uploadOne(file, title, bar, state);
  }

  async function uploadOne(file, title, bar, state) {
    let started = null;
    let sent = false;
    try {
      state.textContent = "Starting…";
      started = await api("api/audio/uploads", { method: "POST", json: { filename: file.name, size_bytes: file.size, ...(title ? { title } : {}) } });
      state.textContent = "Uploading…";
      await sendToTarget(started.target, file, (fraction) => {
        bar.value = fraction;
        state.textContent = fraction < 1 ? `Uploading… ${Math.round(fraction * 100)}%` : "Checking the audio…";
      });
      sent = true;
      const item = await api(`api/audio/uploads/${started.id}/complete`, { method: "POST", json: title ? { title } : {} });
      bar.value = 1;
      state.className = "state ok";
      state.textContent = `Added as “${item.title}” (${formatDuration(item.duration_s)})`;
      return item;
    } catch (err) {
      bar.value = 0;
      state.className = "state error";
      state.textContent = `Not added: ${err instanceof ApiError ? err.message : String(err)}`;
      // Completing consumes the upload either way; before that, let the server drop it now.
      if (started && !sent && err.status !== 401) api(`api/audio/uploads/${started.id}`, { method: "DELETE" }).catch(() => {});
      return null;
    }
  }

  const importer = importPanel(async () => { await Promise.all([load(), loadUsage()]); });

  // --- text to speech --------------------------------------------------------
  const tts = ttsPanel(ctx, async () => { await Promise.all([load(), loadUsage()]); });
  const recorder = recorderPanel(async (file, title) => {
    await uploadRow(file, title)();
    await Promise.all([load(), loadUsage()]);
  });

  search.addEventListener("input", debounce(() => { query = search.value.trim(); load(); }, 250));
  mine.input.addEventListener("change", () => load());
  more.addEventListener("click", () => load(false));

  clear(root,
    h("div", { class: "page-head" }, h("h1", {}, "Library"), usage),
    h("section", { class: "panel", "aria-labelledby": "add-h" }, h("h2", { id: "add-h" }, "Upload audio"), drop, uploads),
    importer.el,
    recorder.el,
    tts.el,
    h("section", { class: "panel", "aria-labelledby": "lib-h" },
      h("h2", { id: "lib-h" }, "Everything in the library"),
      h("div", { class: "grid2" }, field("Search the library", search).wrap, h("div", { class: "row" }, mine.wrap)),
      list, more, listStatus.el),
    dock.el);

  await Promise.all([load(), loadUsage(), tts.load()]);
  return () => { dock.stop(); recorder.stop(); importer.stop(); };
}

/** The archive through the two-step upload (no body cap on the way), then the import's run. */
async function sendImport(file, onProgress) {
  const started = await api("api/imports/uploads", { method: "POST", json: { filename: file.name, size_bytes: file.size } });
  try {
    await sendToTarget(started.target, file, onProgress);
  } catch (err) {
    if (err.status !== 401) api(`api/audio/uploads/${started.id}`, { method: "DELETE" }).catch(() => {});
    throw err;
  }
  return api(`api/imports/uploads/${started.id}/complete`, { method: "POST" });
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes, crc = 0) {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i += 1) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** A folder's files ({path, file}) as one ZIP, stored (audio does not compress): what the server imports. */
async function zipOf(name, entries) {
  const parts = [];
  const central = [];
  let offset = 0;
  const utf8 = new TextEncoder();
  for (const { path, file } of entries) {
    const nameBytes = utf8.encode(path);
    const crc = crc32(new Uint8Array(await file.arrayBuffer()));
    const head = new DataView(new ArrayBuffer(30));
    [[0, 0x04034b50, 4], [4, 20, 2], [6, 0x800, 2], [8, 0, 2], [14, crc, 4], [18, file.size, 4], [22, file.size, 4], [26, nameBytes.length, 2]]
      .forEach(([at, v, n]) => (n === 4 ? head.setUint32(at, v, true) : head.setUint16(at, v, true)));
    const dir = new DataView(new ArrayBuffer(46));
    [[0, 0x02014b50, 4], [4, 20, 2], [6, 20, 2], [8, 0x800, 2], [16, crc, 4], [20, file.size, 4], [24, file.size, 4], [28, nameBytes.length, 2], [42, offset, 4]]
      .forEach(([at, v, n]) => (n === 4 ? dir.setUint32(at, v, true) : dir.setUint16(at, v, true)));
    parts.push(head, nameBytes, file);
    central.push(dir, nameBytes);
    offset += 30 + nameBytes.length + file.size;
  }
  const size = central.reduce((n, part) => n + part.byteLength, 0);
  const end = new DataView(new ArrayBuffer(22));
  [[0, 0x06054b50, 4], [8, entries.length, 2], [10, entries.length, 2], [12, size, 4], [16, offset, 4]]
    .forEach(([at, v, n]) => (n === 4 ? end.setUint32(at, v, true) : end.setUint16(at, v, true)));
  return new File([...parts, ...central, end], `${name}.zip`, { type: "application/zip" });
}

/** Every file under a dropped folder, with its path from that folder's parent. */
async function filesUnder(entry, prefix = "") {
  if (entry.isFile) return [{ path: prefix + entry.name, file: await new Promise((ok, fail) => entry.file(ok, fail)) }];
  const reader = entry.createReader();
  const found = [];
  for (;;) {
    const batch = await new Promise((ok, fail) => reader.readEntries(ok, fail));
    if (!batch.length) break;
    for (const child of batch) found.push(...(await filesUnder(child, `${prefix}${entry.name}/`)));
  }
  return found;
}

/** Import a collection: a folder or a ZIP of one (sub-folders become playlists), or an audiobook; its files as they go. */
function importPanel(onDone) {
  const picker = h("input", { type: "file", accept: ".zip,application/zip,.m4b,.m4a,.mp3", class: "visually-hidden", id: "import-picker" });
  picker.setAttribute("aria-label", "Choose a ZIP or an audiobook to import");
  const folderPicker = h("input", { type: "file", webkitdirectory: true, multiple: true, class: "visually-hidden", id: "folder-picker" });
  folderPicker.setAttribute("aria-label", "Choose a folder to import");
  const drop = h("label", { class: "drop", for: "import-picker" },
    picker,
    h("span", {}, "Drop a folder or a ZIP here, or ", h("strong", {}, "choose a ZIP")),
    h("span", { class: "small muted" }, "Each sub-folder becomes a playlist · an audiobook with chapters becomes one item per chapter"));
  const folderButton = h("label", { class: "button secondary", for: "folder-picker" }, folderPicker, "Choose a folder…");
  const bar = h("progress", { max: 1, value: 0, "aria-label": "Import progress", hidden: true });
  const state = h("div", { class: "state", role: "status" });
  const skipped = h("ul", { class: "uploads", "aria-label": "Files not imported" });
  let stopped = false;

  picker.addEventListener("change", () => { const [file] = picker.files; picker.value = ""; if (file) start(file); });
  folderPicker.addEventListener("change", () => {
    const files = [...folderPicker.files];
    folderPicker.value = "";
    if (!files.length) return;
    const top = (files[0].webkitRelativePath || files[0].name).split("/")[0];
    start(null, top, files.map((file) => ({ path: file.webkitRelativePath || file.name, file })));
  });
  for (const type of ["dragenter", "dragover"]) drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
  for (const type of ["dragleave", "drop"]) drop.addEventListener(type, () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (e) => {
    e.preventDefault();
    const item = e.dataTransfer && e.dataTransfer.items && e.dataTransfer.items[0];
    const entry = item && item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
    if (entry && entry.isDirectory) {
      start(null, entry.name, await filesUnder(entry));
      return;
    }
    const [file] = e.dataTransfer ? e.dataTransfer.files : [];
    if (file) start(file);
  });

  function show(run) {
    const rows = (run.results || []).filter((r) => r.kind === "audio");
    const done = rows.filter((r) => r.status !== "waiting").length;
    bar.max = Math.max(1, rows.length);
    bar.value = done;
    state.className = "state";
    state.textContent = `Importing… ${formatNumber(done)} of ${formatNumber(rows.length)} files`;
  }

  async function start(file, folder, entries) {
    skipped.replaceChildren();
    bar.hidden = false;
    bar.max = 1;
    bar.value = 0;
    state.className = "state";
    state.textContent = file ? `Sending ${file.name}…` : `Packing the folder ${folder}…`;
    try {
      if (!file) file = await zipOf(folder, entries);
      let { run } = await sendImport(file, (f) => { bar.value = f; state.textContent = f < 1 ? `Sending ${file.name}… ${Math.round(f * 100)}%` : "Checking the archive…"; });
      while (!["ok", "partial", "failed"].includes(run.status) && !stopped) {
        show(run);
        await new Promise((resolve) => window.setTimeout(resolve, 700));
        run = await api(`api/runs/${encodeURIComponent(run.id)}`);
      }
      if (stopped) return;
      show(run);
      bar.value = bar.max;
      state.className = run.status === "failed" ? "state error" : "state ok";
      state.textContent = run.status === "failed" ? `Not imported: ${run.detail}` : `Imported: ${run.detail}`;
      for (const r of (run.results || []).filter((x) => x.status === "skipped" && x.kind !== "other")) {
        skipped.append(h("li", {}, h("div", { class: "name" }, r.path), h("div", { class: "state" }, r.reason)));
      }
      announce(state.textContent);
      await onDone();
    } catch (err) {
      bar.value = 0;
      state.className = "state error";
      state.textContent = `Not imported: ${err instanceof ApiError ? err.message : String(err)}`;
    }
  }

  const el = h("section", { class: "panel", "aria-labelledby": "import-h" },
    h("h2", { id: "import-h" }, "Import a collection"), drop, h("div", { class: "row" }, folderButton), bar, state, skipped);
  return { el, stop() { stopped = true; } };
}

/** What a 409 names as still using an item, as words (names when the API can tell them). */
async function usedBy(body, features) {
  const named = async (ids, path, feature, kind) => Promise.all((ids || []).map(async (id) => {
    if (features[feature]) {
      try { const r = await api(`${path}/${id}`); return `the ${kind} “${r.name || r.title}”`; } catch { /* fall back to the id */ }
    }
    return `a ${kind} (${id})`;
  }));
  const [playlists, cards] = await Promise.all([
    named(body.playlists, "api/playlists", "playlists", "playlist"),
    named(body.cards, "api/cards", "cards", "card"),
  ]);
  return [...playlists, ...cards];
}

function placeholders(n) {
  return Array.from({ length: n }, () => h("li", { class: "placeholder", "aria-hidden": "true" },
    h("div", { class: "main" }, h("div", { class: "title" }, "\u00a0"), h("div", { class: "meta" }, "\u00a0"))));
}

function sourceName(source) {
  return { tts: "spoken", upload: "uploaded", recording: "recorded" }[source] || source;
}

function playerDock() {
  const audio = h("audio", { controls: true, preload: "none", "aria-label": "Audio player" });
  const now = h("span", { class: "now" }, "");
  const el = h("div", { class: "player-dock", hidden: true, role: "region", "aria-label": "Now playing" }, now, audio);
  return {
    el,
    play(url, title) {
      el.hidden = false;
      now.textContent = title;
      audio.src = url;
      audio.play().catch(() => { /* autoplay may be refused; the controls are there */ });
      announce(`Playing ${title}`);
    },
    stop() { audio.pause(); audio.removeAttribute("src"); },
  };
}

function ttsPanel(ctx, afterMade) {
  const title = h("input", { type: "text", maxlength: 200, required: true });
  const text = h("textarea", { required: true, rows: 5 });
  const voice = h("select", {}, h("option", { value: "" }, "Default voice"));
  const count = h("span", { class: "small muted" }, "0 characters");
  const quota = h("p", { class: "small muted", id: "tts-quota" }, "\u00a0");
  const status = statusLine();
  const submit = h("button", { type: "submit" }, "Make audio");
  let limits = null;

  function showQuota() {
    if (!limits) return;
    quota.textContent = `${formatNumber(limits.remaining_today)} characters left today · at most ${formatNumber(limits.max_chars)} in one go`;
  }
  text.addEventListener("input", () => { count.textContent = `${formatNumber(text.value.length)} characters`; });

  const form = h("form", { class: "stack", novalidate: true },
    h("div", { class: "grid2" }, field("Title", title).wrap, field("Voice", voice).wrap),
    field("Text to speak", text).wrap,
    h("div", { class: "row" }, submit, count),
    quota, status.el);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!title.value.trim() || !text.value.trim()) { status.error("Give it a title and some text to speak."); return; }
    submit.disabled = true;
    status.info("Making the audio… this can take a little while for long texts.");
    try {
      const item = await api("api/audio/tts", { method: "POST", json: { text: text.value, title: title.value.trim(), ...(voice.value ? { voice: voice.value } : {}) } });
      status.ok(`Added “${item.title}” (${formatDuration(item.duration_s)}) to the library.`);
      title.value = "";
      text.value = "";
      count.textContent = "0 characters";
      await afterMade();
    } catch (err) {
      const left = err.headers && err.headers.get("X-TTS-Remaining");
      if (left !== null && left !== undefined && limits) limits.remaining_today = Number(left);
      status.error(err.message);
    } finally {
      submit.disabled = false;
      loadQuota();
    }
  });

  async function loadQuota() {
    if (!ctx.features.tts_quota) return;
    try { limits = await api("api/tts/quota"); showQuota(); } catch { /* the quota line is informative only */ }
  }

  async function load() {
    const voices = api("api/tts/voices").then((list) => {
      for (const v of listOf(list)) voice.append(h("option", { value: v.id }, `${v.name} (${v.language})`));
    }).catch((err) => { if (err.status !== 401) status.error(`Voices could not be listed: ${err.message}`); });
    await Promise.all([voices, loadQuota()]);
  }

  const el = h("details", { class: "panel" }, h("summary", {}, "Type text to be spoken"), form);
  return { el, load };
}

// The listening level the item was brought to, and from what (null: not measured).
function levelOf(item) {
  if (item.loudness_lufs == null) return null;
  const from = item.loudness_in_lufs == null ? "" : ` (was ${Math.round(item.loudness_in_lufs)})`;
  return `level ${Math.round(item.loudness_lufs)} LUFS${from}`;
}

// Routines: steps sent to a player at a time on chosen days (bedtime, quiet
// time, or made step by step), switched on and off, run now with each step's
// answer in words, edited and deleted. Times are on the family's clock
// (FAMILY_TIMEZONE, named by the list answer); the next run shows in the
// browser's own time.

import { api, listOf } from "../api.js";
import { announce, checkbox, clear, confirmDialog, field, h, missing, nextId, statusLine, syncRows } from "../dom.js";
import { moved, orderedList } from "../picker.js";
import { DONE, runFollower } from "./runs.js";

const DAYS = [["mon", "Monday", "Mon"], ["tue", "Tuesday", "Tue"], ["wed", "Wednesday", "Wed"], ["thu", "Thursday", "Thu"],
  ["fri", "Friday", "Fri"], ["sat", "Saturday", "Sat"], ["sun", "Sunday", "Sun"]];
const QUICK_DAYS = [
  ["Every day", DAYS.map(([d]) => d)],
  ["School nights", ["sun", "mon", "tue", "wed", "thu"]],
  ["Weekends", ["sat", "sun"]],
];
const KINDS = [["play", "Play a card"], ["volume", "Volume"], ["sleep_timer", "Sleep timer"], ["sleep_end", "Sleep at the end of the track or chapter"],
  ["ambient", "Night-light colour"], ["light_ramp", "Fade the night light"],
  ["pause", "Pause"], ["resume", "Resume"], ["stop", "Stop playing"], ["status", "Ask for status"]];
const RAMP_MAX_MINUTES = 12; // a routine's fades together (services/bedtime.py)
const TEMPLATE_NAMES = { bedtime: "Bedtime", quiet_time: "Quiet time" };
// The templates' steps until the service's own list arrives (the same, so nothing moves when it does).
const TEMPLATE_STEPS = {
  bedtime: [{ action: "ambient", hex: "#401a00" }, { action: "volume", volume: 30 }, { action: "play", card_id: "CARD_ID" }, { action: "sleep_timer", minutes: 30 }],
  quiet_time: [{ action: "stop" }, { action: "ambient", hex: "#000000" }],
};
const COLOUR_NAMES = { "#401a00": "dim and warm", "#000000": "off", "#000": "off" };
const SLEEP_MAX_MINUTES = 24 * 60;
const LAST_RUNS_SHOWN = 5;
const CLOCK = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };

export async function render(root, ctx) {
  if (!ctx.features.routines) {
    clear(root, h("h1", {}, "Routines"), missing("Routines need the scheduling part of this service."));
    return;
  }
  let players = new Map();
  let playersKnown = false;
  let cards = [];
  let cardTitles = new Map();
  let templates = Object.entries(TEMPLATE_STEPS).map(([name, steps]) => ({ name, steps }));
  let zone = null;
  const playerSelects = [];
  const cardSelects = [];
  const rows = new Map();
  const follower = runFollower();

  const cardTitle = (id) => cardTitles.get(id) || `card ${id}`;
  const words = (step) => stepWords(step, cardTitle);
  const mayChange = (r) => ctx.me.is_admin || r.owner === ctx.me.username;

  // --- shared pieces ------------------------------------------------------------
  function playerSelect() {
    const select = h("select", {}, h("option", { value: "" }, "Looking for players…"));
    playerSelects.push(select);
    return select;
  }

  function fillPlayers(select, keep = select.value) {
    const options = [h("option", { value: "" }, players.size ? "Choose a player…" : "No players yet")];
    for (const p of players.values()) options.push(h("option", { value: p.id }, `${p.name || p.id}${p.online === false ? " (offline)" : ""}`));
    // A routine's player that the account no longer lists stays choosable, said plainly.
    if (keep && !players.has(keep)) options.push(h("option", { value: keep }, `Player ${keep} (not found)`));
    select.replaceChildren(...options);
    select.value = keep || "";
  }

  function cardSelect() {
    const select = h("select", {}, h("option", { value: "" }, "Looking for cards…"));
    cardSelects.push(select);
    return select;
  }

  function fillCards(select, keep = select.value) {
    const options = [h("option", { value: "" }, cards.length ? "Choose a card…" : "No cards yet")];
    for (const c of cards) options.push(h("option", { value: c.yoto_card_id }, c.title));
    if (keep && !cardTitles.has(keep)) options.push(h("option", { value: keep }, `Card ${keep}`));
    select.replaceChildren(...options);
    select.value = keep || "";
  }

  function timeInput() {
    // A text box, not type=time: Chromium's time box is three Tab stops, and a
    // phone keyboard with digits only is quickest. "1930", "7:30 pm" work too.
    const input = h("input", { type: "text", inputmode: "numeric", autocomplete: "off", maxlength: 8, spellcheck: "false" });
    input.addEventListener("blur", () => { const t = parseClock(input.value); if (t) input.value = t; });
    return input;
  }

  // --- start from a template --------------------------------------------------
  const tplStatus = statusLine();
  let template = "bedtime";
  const tplSteps = h("p", { class: "small muted rt-steps" }, "\u00a0");
  // Two pressed/unpressed buttons, not radios: each is its own Tab stop.
  const tplButtons = Object.entries(TEMPLATE_NAMES).map(([name, label]) => h("button", {
    type: "button", class: "secondary", dataset: { template: name },
    onclick: () => { template = name; showTemplate(); },
  }, label));
  const tplGroup = h("div", { class: "row rt-templates", role: "group", "aria-label": "Template" }, tplButtons);
  const tplPlayer = field("Player", playerSelect());
  const tplCard = field("Card to play", cardSelect());
  const tplTime = field("Time", timeInput(), "24-hour clock, like 19:30");
  const tplName = field("Name (optional)", h("input", { type: "text", maxlength: 100 }));
  const tplDays = daysPicker();
  const tplSubmit = h("button", { type: "submit" }, "Add routine");
  const tplForm = h("form", { class: "stack", novalidate: true },
    h("div", {}, h("p", { class: "rt-label", "aria-hidden": "true" }, "Template"), tplGroup, tplSteps),
    h("div", { class: "grid2" }, tplPlayer.wrap, tplCard.wrap),
    h("div", { class: "grid2" }, tplTime.wrap, tplName.wrap),
    tplDays.el, h("div", { class: "row" }, tplSubmit), tplStatus.el);

  function showTemplate() {
    const name = template;
    for (const b of tplButtons) b.setAttribute("aria-pressed", String(b.dataset.template === name));
    tplCard.wrap.hidden = name !== "bedtime";
    const tpl = templates.find((t) => t.name === name);
    tplSteps.textContent = tpl
      ? `Steps: ${tpl.steps.map((s) => (s.action === "play" ? "Play the card you choose" : words(s))).join(" · ")}`
      : "\u00a0";
  }

  tplForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const at = parseClock(tplTime.input.value);
    const days = tplDays.get();
    const problem = !tplPlayer.input.value ? ["Choose the player.", tplPlayer.input]
      : template === "bedtime" && !tplCard.input.value ? ["Choose the card bedtime plays.", tplCard.input]
        : !at ? ["Type the time like 19:30.", tplTime.input]
          : !days.length ? ["Choose at least one day.", tplDays.first()] : null;
    if (problem) { tplStatus.error(problem[0]); problem[1].focus(); return; }
    const body = { template, player_id: tplPlayer.input.value, at, days };
    if (template === "bedtime") body.card_id = tplCard.input.value;
    if (tplName.input.value.trim()) body.name = tplName.input.value.trim();
    tplSubmit.disabled = true;
    tplStatus.info("Adding the routine…");
    try {
      const made = await api("api/routines/from-template", { method: "POST", json: body });
      tplName.input.value = "";
      tplStatus.ok(`Added “${made.name}”: ${summary(made)}. It is in the list below.`);
      announce(`Added ${made.name}`);
      await load();
    } catch (err) {
      tplStatus.error(`Not added: ${refusal(err)}`);
    } finally {
      tplSubmit.disabled = false;
    }
  });

  // --- make your own (and edit) -----------------------------------------------
  let draft = { id: null, steps: [] };
  const ownHeading = h("h2", { id: "rt-own-h", tabindex: "-1" }, "Make your own");
  const ownStatus = statusLine();
  const ownName = field("Name", h("input", { type: "text", maxlength: 100 }));
  const ownPlayer = field("Player", playerSelect());
  const ownTime = field("Time", timeInput(), "24-hour clock, like 19:30");
  const ownDays = daysPicker();
  const steps = orderedList("Steps in order", {
    emptyText: "No steps yet: add them one at a time below.",
    describe: (step, i) => ({ title: `Step ${i + 1}: ${words(step)}` }),
    move: (from, to, dir) => {
      if (to < 0 || to >= draft.steps.length) return;
      draft.steps = moved(draft.steps, from, to);
      steps.render(draft.steps, dir ? { index: to, dir } : null);
      announce(`Moved to step ${to + 1}`);
    },
    remove: (index) => {
      const [gone] = draft.steps.splice(index, 1);
      steps.render(draft.steps, { index: Math.min(index, draft.steps.length - 1), dir: "up" });
      announce(`Removed ${words(gone)}`);
    },
  });
  const kind = field("Add a step", h("select", {}, KINDS.map(([value, label]) => h("option", { value }, label))));
  const stepCard = field("Card for this step", cardSelect());
  const stepVolume = field("Volume (%)", h("input", { type: "number", min: 0, max: 100, step: 1, value: 30, inputmode: "numeric" }));
  const stepMinutes = field("Minutes (0 turns it off)", h("input", { type: "number", min: 0, max: SLEEP_MAX_MINUTES, step: 1, value: 30, inputmode: "numeric" }));
  const stepColour = field("Colour", h("input", { type: "color", value: "#ffb347" }));
  const stepEnd = field("At the end of", h("select", {}, h("option", { value: "track" }, "the track"), h("option", { value: "chapter" }, "the chapter")),
    "The player pauses when what plays then ends; it needs the MQTT listener running.");
  const rampFrom = field("Fade from", h("input", { type: "color", value: "#ff8c1a" }));
  const rampTo = field("Fade to", h("input", { type: "color", value: "#200800" }));
  const rampMinutes = field(`Fade minutes (1 to ${RAMP_MAX_MINUTES})`, h("input", { type: "number", min: 1, max: RAMP_MAX_MINUTES, step: 1, value: 10, inputmode: "numeric" }),
    "One colour change every 30 s at most; at the end the light goes back to the player's own colour. Not on a Yoto Mini.");
  const ramp = { wrap: h("div", { class: "stack" }, rampFrom.wrap, rampTo.wrap, rampMinutes.wrap) };
  const values = { play: stepCard, volume: stepVolume, sleep_timer: stepMinutes, sleep_end: stepEnd, ambient: stepColour, light_ramp: ramp };
  const kindNote = h("p", { class: "hint", hidden: true });
  const addStep = h("button", { type: "button", class: "secondary" }, "Add step");
  const ownSubmit = h("button", { type: "submit" }, "Save routine");
  const stopEdit = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => editRoutine(null) }, "Stop editing");

  // Offered only where a listener will see the track end (GET /api/players says whether and why not).
  function showSleepAtEnd(can) {
    if (!can || can.available) return;
    const option = [...kind.input.options].find((o) => o.value === "sleep_end");
    if (option) { option.disabled = true; option.textContent = "Sleep at the end of the track (not available here)"; }
    if (kind.input.value === "sleep_end") { kind.input.value = "play"; showKind(); }
    kindNote.textContent = `Sleep at the end of the track is not available here: ${can.reason}.`;
    kindNote.hidden = false;
  }

  function showKind() {
    for (const [name, f] of Object.entries(values)) f.wrap.hidden = kind.input.value !== name;
  }
  kind.input.addEventListener("change", showKind);

  addStep.addEventListener("click", () => {
    const chosen = kind.input.value;
    const action = chosen === "sleep_end" ? "sleep_timer" : chosen;
    const step = { action };
    if (chosen === "sleep_end") {
      step.at_end_of = stepEnd.input.value;
    } else if (action === "light_ramp") {
      const minutes = Math.round(Number(rampMinutes.input.value));
      if (!rampMinutes.input.value.trim() || !Number.isFinite(minutes)) { ownStatus.error(`Type the minutes, 1 to ${RAMP_MAX_MINUTES}.`); rampMinutes.input.focus(); return; }
      Object.assign(step, { from: rampFrom.input.value, to: rampTo.input.value, minutes });
    } else if (action === "play") {
      if (!stepCard.input.value) { ownStatus.error("Choose the card this step plays."); stepCard.input.focus(); return; }
      step.card_id = stepCard.input.value;
    } else if (action === "volume") {
      // What is typed goes as typed: the service says what it accepts.
      step.volume = Math.round(Number(stepVolume.input.value));
      if (!stepVolume.input.value.trim() || !Number.isFinite(step.volume)) { ownStatus.error("Type the volume, 0 to 100."); stepVolume.input.focus(); return; }
    } else if (action === "sleep_timer") {
      step.minutes = Math.round(Number(stepMinutes.input.value));
      if (!stepMinutes.input.value.trim() || !Number.isFinite(step.minutes)) { ownStatus.error("Type the minutes."); stepMinutes.input.focus(); return; }
    } else if (action === "ambient") {
      step.hex = stepColour.input.value;
    }
    draft.steps.push(step);
    steps.render(draft.steps);
    ownStatus.clear();
    announce(`Added step ${draft.steps.length}: ${words(step)}`);
  });

  const ownForm = h("form", { class: "stack", novalidate: true },
    h("div", { class: "grid2" }, ownName.wrap, ownPlayer.wrap),
    h("div", { class: "grid2" }, ownTime.wrap, h("div")),
    ownDays.el,
    h("h3", {}, "Steps"), steps.el,
    kindNote,
    h("div", { class: "rt-add-step" }, kind.wrap, stepCard.wrap, stepVolume.wrap, stepMinutes.wrap, stepEnd.wrap, stepColour.wrap, ramp.wrap, addStep),
    h("div", { class: "row" }, ownSubmit, stopEdit), ownStatus.el);

  ownForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = ownName.input.value.trim();
    const at = parseClock(ownTime.input.value);
    const days = ownDays.get();
    const problem = !name ? ["Give the routine a name.", ownName.input]
      : !ownPlayer.input.value ? ["Choose the player.", ownPlayer.input]
        : !at ? ["Type the time like 19:30.", ownTime.input]
          : !days.length ? ["Choose at least one day.", ownDays.first()]
            : !draft.steps.length ? ["Add at least one step.", kind.input] : null;
    if (problem) { ownStatus.error(problem[0]); problem[1].focus(); return; }
    const body = { name, player_id: ownPlayer.input.value, at, days, steps: draft.steps, enabled: draft.id ? draft.enabled : true };
    ownSubmit.disabled = true;
    ownStatus.info("Saving…");
    const editing = draft.id;
    try {
      const saved = editing
        ? await api(`api/routines/${editing}`, { method: "PUT", json: body })
        : await api("api/routines", { method: "POST", json: body });
      editRoutine(null);
      ownStatus.ok(`${editing ? "Saved changes to" : "Saved"} “${saved.name}”: ${summary(saved)}.`);
      announce(`Saved ${saved.name}`);
      await load();
    } catch (err) {
      ownStatus.error(err.status === 409 ? `${err.message}. Someone changed it meanwhile: the list shows the latest; open it again to edit.` : `Not saved: ${refusal(err)}`);
      if (err.status === 409 || err.status === 404) load();
    } finally {
      ownSubmit.disabled = false;
    }
  });

  function editRoutine(r) {
    ownStatus.clear();
    if (!r) {
      draft = { id: null, steps: [] };
      ownForm.reset();
      kind.input.value = "play";
      ownDays.set([]);
      ownHeading.textContent = "Make your own";
      ownSubmit.textContent = "Save routine";
      stopEdit.hidden = true;
      steps.render(draft.steps);
      showKind();
      return;
    }
    draft = { id: r.id, enabled: r.enabled, steps: r.steps.map((s) => ({ ...s })) };
    ownName.input.value = r.name;
    fillPlayers(ownPlayer.input, r.player_id);
    for (const s of r.steps) if (s.card_id && !cardTitles.has(s.card_id)) fillCards(stepCard.input, s.card_id);
    ownTime.input.value = r.at;
    ownDays.set(r.days);
    ownHeading.textContent = `Edit “${r.name}”`;
    ownSubmit.textContent = "Save changes";
    stopEdit.hidden = false;
    steps.render(draft.steps);
    ownHeading.scrollIntoView({ block: "start" });
    ownName.input.focus({ preventScroll: true });
  }

  // --- the list -----------------------------------------------------------------
  const list = h("ul", { class: "items rt-list", "aria-label": "The family's routines" },
    h("li", { class: "placeholder", "aria-hidden": "true" }, h("div", { class: "main" }, h("div", { class: "title" }, "\u00a0"), h("div", { class: "meta" }, "\u00a0"))));
  const listStatus = statusLine();
  const zoneLine = h("p", { class: "small muted rt-zone" }, "\u00a0");

  async function load() {
    try {
      let answer = await api("api/routines", { query: { limit: 100 } });
      const found = [...listOf(answer)];
      for (let more = 0; answer.next_cursor && more < 10; more += 1) {
        answer = await api("api/routines", { query: { limit: 100, cursor: answer.next_cursor } });
        found.push(...listOf(answer));
      }
      if (answer.timezone) zone = answer.timezone;
      showZone();
      syncRows(list, rows, found, routineRow, { empty: h("li", { class: "empty" }, "No routines yet. Start from a template above, or make your own.") });
      listStatus.clear();
    } catch (err) {
      if (err.status === 401) return;
      if (!rows.size) list.replaceChildren();
      listStatus.error(`The routines could not be listed: ${err.message}`);
    }
  }

  function showZone() {
    if (!zone) return;
    const mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
    zoneLine.textContent = `Times are on the family's clock: ${zone.replace(/_/g, " ")}.${mine && mine !== zone ? " The next run is shown in your own time." : ""}`;
  }

  /** One routine in the list; `update` changes it in place so focus stays put. */
  function routineRow(first) {
    let r = first;
    const title = h("span", { class: "title" }, "");
    const off = h("span", { class: "badge off", hidden: true }, "Off");
    const when = h("div", { class: "meta" }, "");
    const next = h("div", { class: "meta" }, "");
    const warn = h("div", { class: "meta rt-warn", hidden: true }, "");
    const stepsLine = h("div", { class: "meta" }, "");
    const runsBox = h("div", { class: "small" });
    const runs = h("details", { class: "rt-runs" }, h("summary", {}, "Last runs"), runsBox);
    const status = statusLine();
    const actions = h("div", { class: "actions" });
    const who = h("div", { class: "meta", hidden: true }, "");
    let runsStale = true;

    const toggle = checkbox("On schedule", first.enabled);
    toggle.input.setAttribute("role", "switch");
    toggle.input.addEventListener("change", () => switchTo(toggle.input.checked));
    const runNow = h("button", { type: "button", class: "secondary" }, "Run now");
    runNow.addEventListener("click", run);
    const edit = h("button", { type: "button", class: "secondary", onclick: () => editRoutine(r) }, "Edit");
    const del = h("button", { type: "button", class: "danger secondary", onclick: remove }, "Delete");

    runs.addEventListener("toggle", () => { if (runs.open && runsStale) showRuns(); });

    async function switchTo(on) {
      status.info(on ? "Switching on…" : "Switching off…");
      try {
        const saved = await api(`api/routines/${r.id}`, { method: "PUT", json: bodyOf(r, { enabled: on }) });
        update(saved);
        status.ok(on ? `On: ${next.textContent || "it runs on its days"}.` : "Off: it will not run until it is switched on again.");
        announce(`${r.name} ${on ? "switched on" : "switched off"}`);
      } catch (err) {
        toggle.input.checked = r.enabled;
        status.error(`Not switched ${on ? "on" : "off"}: ${refusal(err)}`);
        if (err.status === 409 || err.status === 404) load();
      }
    }

    async function run() {
      runNow.disabled = true;
      status.info(`Running on ${playerName(r.player_id)}: each step waits for the player to answer…`);
      try {
        let done = await api(`api/routines/${r.id}/run`, { method: "POST" });
        // 202: the service's workers send the steps; the page follows the run.
        if (!DONE.has(done.status)) done = await follower.wait(done.id);
        if (!done) return;
        const said = runWords(done, r.steps, words);
        if (done.status === "ok") status.ok(`All steps done. ${said}`);
        else status.error(`${done.status === "partial" ? "Some steps did not work." : "It did not work."} ${said}`);
        announce(`${r.name}: ${done.status === "ok" ? "all steps done" : "some steps did not work"}`);
        runsStale = true;
        if (runs.open) showRuns();
      } catch (err) {
        status.error(`Not run: ${refusal(err)}`);
      } finally {
        runNow.disabled = false;
      }
    }

    async function remove() {
      if (!(await confirmDialog(`Delete “${r.name}”?`, "It stops running on its days, for the whole family. This cannot be undone.", "Delete routine"))) return;
      try {
        await api(`api/routines/${r.id}`, { method: "DELETE" });
        if (draft.id === r.id) editRoutine(null);
        announce(`Deleted ${r.name}`);
        rows.delete(r.id);
        await load();
        listStatus.ok(`Deleted “${r.name}”.`);
      } catch (err) {
        status.error(`Not deleted: ${refusal(err)}`);
      }
    }

    async function showRuns() {
      runsStale = false;
      runsBox.replaceChildren(h("p", { class: "muted" }, "Loading…"));
      try {
        const full = await api(`api/routines/${r.id}`);
        const last = listOf(full.last_runs).slice(0, LAST_RUNS_SHOWN);
        if (!last.length) { runsBox.replaceChildren(h("p", { class: "muted" }, "It has not run yet.")); return; }
        runsBox.replaceChildren(h("ul", { class: "rt-run-list" }, last.map((x) => h("li", {},
          h("strong", {}, `${dayAndTime(x.started_at || x.created_at)}, ${x.trigger === "schedule" ? "on schedule" : "run by hand"}: `),
          statusWords(x), x.results && x.results.length ? h("br") : null,
          x.results && x.results.length ? h("span", { class: "muted" }, runWords(x, full.steps, words)) : null))));
      } catch (err) {
        runsStale = true;
        runsBox.replaceChildren(h("p", { class: "error" }, `The last runs could not be shown: ${err.message}`));
      }
    }

    const el = h("li", { class: "rt-item" },
      h("div", { class: "main" }, h("span", { class: "row" }, title, off), when, next, warn, stepsLine, who, runs),
      actions, status.el);

    function update(latest) {
      r = latest;
      title.textContent = r.name;
      off.hidden = r.enabled;
      when.textContent = `${playerName(r.player_id)} · ${summary(r)}`;
      next.textContent = !r.enabled ? "Switched off: it will not run." : r.next_run_at ? nextWords(r.next_run_at, zone) : "Not scheduled.";
      const player = players.get(r.player_id);
      warn.hidden = !playersKnown || (player && player.online !== false);
      warn.textContent = !player ? "Its player is not found in the linked Yoto account, so this routine cannot reach it."
        : `${player.name || player.id} is offline right now: it only hears the routine while it is on.`;
      stepsLine.textContent = `Steps: ${r.steps.map(words).join(" · ")}`;
      toggle.input.checked = r.enabled;
      toggle.input.setAttribute("aria-label", `${r.name} on schedule`);
      runNow.setAttribute("aria-label", `Run ${r.name} now`);
      edit.setAttribute("aria-label", `Edit ${r.name}`);
      del.setAttribute("aria-label", `Delete ${r.name}`);
      const changes = mayChange(r);
      who.hidden = changes;
      who.textContent = changes ? "" : `Made by ${r.owner}: only they or a grown-up with admin rights can change it.`;
      if (changes && !actions.children.length) actions.append(toggle.wrap, runNow, edit, del);
      if (!changes) actions.replaceChildren();
      runsStale = true;
      if (runs.open) showRuns();
    }
    return { el, update };
  }

  function playerName(id) {
    const p = players.get(id);
    return p ? p.name || p.id : playersKnown ? `Player ${id} (not found)` : `Player ${id}`;
  }

  // --- data --------------------------------------------------------------------
  async function loadPlayers() {
    if (!ctx.features.players) { playersKnown = false; return; }
    try {
      const answer = await api("api/players");
      players = new Map(listOf(answer, "players").map((p) => [p.id, p]));
      playersKnown = true;
      showSleepAtEnd(answer && answer.sleep_at_end);
    } catch (err) {
      if (err.status !== 401) tplStatus.error(`The players could not be listed: ${err.message}`);
    }
  }

  async function loadCards() {
    if (!ctx.features.cards) return;
    try {
      cards = listOf(await api("api/cards"), "cards").filter((c) => c.yoto_card_id);
      cardTitles = new Map(cards.map((c) => [c.yoto_card_id, c.title]));
    } catch { cards = []; }
  }

  async function loadTemplates() {
    try { templates = listOf(await api("api/routines/templates")); } catch { /* the built-in words stay */ }
  }

  editRoutine(null);
  showTemplate();
  clear(root,
    h("div", { class: "page-head" }, h("h1", {}, "Routines"), h("p", {}, "Put the players to bed (or quieten them) on a schedule")),
    zoneLine,
    h("section", { class: "panel", "aria-labelledby": "rt-tpl-h" }, h("h2", { id: "rt-tpl-h" }, "Start from a template"), tplForm),
    h("section", { class: "panel", "aria-labelledby": "rt-own-h" }, ownHeading, ownForm),
    h("section", { class: "panel", "aria-labelledby": "rt-list-h" }, h("h2", { id: "rt-list-h" }, "The family's routines"), list, listStatus.el));

  await Promise.all([loadPlayers(), loadCards(), loadTemplates()]);
  for (const s of playerSelects) fillPlayers(s);
  for (const s of cardSelects) fillCards(s);
  showTemplate();
  await load();
  return () => follower.stop();
}

/** Seven day checkboxes (full day names) and quick choices; get/set as ["mon", …]. */
function daysPicker() {
  const boxes = DAYS.map(([value, name]) => {
    const box = checkbox(name);
    box.input.value = value;
    return box;
  });
  const set = (days) => { for (const b of boxes) b.input.checked = days.includes(b.input.value); };
  const legend = h("legend", { id: nextId("days") }, "Days");
  const quick = h("div", { class: "row rt-quick", role: "group", "aria-label": "Quick choice of days" }, QUICK_DAYS.map(([label, days]) => h("button", {
    type: "button", class: "quiet", onclick: () => { set(days); announce(`${label}: ${daysSummary(days)}`); },
  }, label)));
  const el = h("fieldset", { class: "rt-days-field" }, legend, h("div", { class: "rt-days" }, boxes.map((b) => b.wrap)), quick);
  return {
    el,
    get: () => boxes.filter((b) => b.input.checked).map((b) => b.input.value),
    set,
    first: () => boxes[0].input,
  };
}

/** "Volume 30 %", "Play “Story”": a step in words. */
function stepWords(step, cardTitle) {
  switch (step.action) {
    case "play": return `Play “${cardTitle(step.card_id)}”${step.chapter ? `, chapter ${step.chapter}` : ""}${step.track ? `, track ${step.track}` : ""}`;
    case "volume": return `Volume ${step.volume} %`;
    case "sleep_timer":
      if (step.at_end_of) return `Sleep at the end of the ${step.at_end_of}`;
      return step.minutes ? `Sleep timer ${step.minutes} min` : "Sleep timer off";
    case "light_ramp": return `Fade the night light from ${colourWords(step.from)} to ${colourWords(step.to)} over ${step.minutes} min`;
    case "ambient": {
      const hex = step.hex ? `#${String(step.hex).replace(/^#/, "").toLowerCase()}` : null;
      if (!hex) return `Night light rgb(${step.r}, ${step.g}, ${step.b})`;
      return `Night light ${COLOUR_NAMES[hex] || hex}`;
    }
    case "pause": return "Pause";
    case "resume": return "Resume";
    case "stop": return "Stop playing";
    case "status": return "Ask for status";
    default: return step.action;
  }
}

function colourWords(hex) {
  const key = `#${String(hex || "").replace(/^#/, "").toLowerCase()}`;
  return COLOUR_NAMES[key] || key;
}

/** Each step of a run and how it went: "Volume 30 %: done; Play “Story”: the player did not answer". */
function runWords(run, steps, words) {
  return listOf(run.results).map((res) => {
    const step = steps && steps[res.step - 1];
    // A run of an older version of the steps: the kind of step, not today's details.
    const what = step && step.action === res.action ? words(step) : (KINDS.find(([k]) => k === res.action) || [null, res.action])[1];
    const how = res.outcome === "ok" ? (res.reason ? `done (${res.reason})` : "done")
      : res.outcome === "timeout" ? "the player did not answer"
        : res.outcome === "skipped" ? "not sent"
          : `did not work${res.reason ? ` (${res.reason})` : ""}`;
    return `${what}: ${how}`;
  }).join("; ") || (run.detail || "");
}

function statusWords(run) {
  return { ok: "all steps done", partial: "some steps did not work", failed: "it did not work", running: "running…", queued: "waiting to run" }[run.status] || run.status;
}

/** "19:30 on Mon–Fri": the family clock time and the days, runs of three or more joined. */
function summary(r) {
  return `${r.at} ${daysSummary(r.days)}`;
}

function daysSummary(days) {
  const on = DAYS.map(([d]) => days.includes(d));
  const count = on.filter(Boolean).length;
  if (count === 7) return "every day";
  if (!count) return "on no day";
  // Start after a day that is off, so a run across Sunday–Monday stays one run.
  const start = on.findIndex((v, i) => v && !on[(i + 6) % 7]);
  const parts = [];
  let i = 0;
  while (i < 7) {
    const at = (start + i) % 7;
    if (!on[at]) { i += 1; continue; }
    let len = 1;
    while (i + len < 7 && on[(start + i + len) % 7]) len += 1;
    const first = DAYS[at][2];
    const last = DAYS[(at + len - 1) % 7][2];
    if (len >= 3) parts.push(`${first}–${last}`);
    else if (len === 2) parts.push(first, last);
    else parts.push(first);
    i += len;
  }
  return `on ${parts.join(", ")}`;
}

/** "Next: tomorrow 19:30", in the browser's time. */
function nextWords(iso, zone) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  const mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return `Next: ${dayAndTime(iso)}${zone && mine && mine !== zone ? " (your time)" : ""}`;
}

function dayAndTime(iso) {
  const when = new Date(iso);
  const now = new Date();
  const midnight = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const diff = Math.round((midnight(when) - midnight(now)) / 86400000);
  const time = when.toLocaleTimeString([], CLOCK);
  if (diff === 0) return `today ${time}`;
  if (diff === 1) return `tomorrow ${time}`;
  if (diff === -1) return `yesterday ${time}`;
  if (diff > 1 && diff < 7) return `${when.toLocaleDateString([], { weekday: "long" })} ${time}`;
  return `${when.toLocaleDateString([], { weekday: "short", day: "numeric", month: "short" })} ${time}`;
}

/** "19:30" from "19:30", "1930", "7.30", "7:30 pm"; null when it is not a time. */
function parseClock(text) {
  const m = /^(\d{1,2})(?:[:.h]?(\d{2}))?(am|pm)?$/.exec(String(text).trim().toLowerCase().replace(/\s+/g, ""));
  if (!m) return null;
  let hours = Number(m[1]);
  const minutes = Number(m[2] || 0);
  if (m[3]) {
    if (hours < 1 || hours > 12) return null;
    hours = (hours % 12) + (m[3] === "pm" ? 12 : 0);
  }
  if (hours > 23 || minutes > 59) return null;
  return `${String(hours).padStart(2, "0")}:${String(minutes).padStart(2, "0")}`;
}

/** The whole routine as PUT takes it, with some fields changed. */
function bodyOf(r, changes) {
  return { name: r.name, player_id: r.player_id, at: r.at, days: r.days, steps: r.steps, enabled: r.enabled, ...changes };
}

const FIELD_WORDS = { at: "time", days: "days", name: "name", player_id: "player", card_id: "card", volume: "volume", minutes: "minutes", hex: "colour", steps: "steps",
  at_end_of: "at the end of", from: "fade from", to: "fade to" };

/** A refusal in words: a 422's fields named as the form names them ("step 1, volume: …"). */
function refusal(err) {
  const errors = err && err.body && Array.isArray(err.body.errors) ? err.body.errors : null;
  if (err.status !== 422 || !errors || !errors.length) return err.message;
  return errors.slice(0, 3).map((e) => {
    const loc = (Array.isArray(e.loc) ? e.loc : []).filter((p) => p !== "body");
    let where = "";
    if (loc[0] === "steps" && Number.isInteger(loc[1])) {
      const fieldName = loc.slice(2).reverse().find((p) => FIELD_WORDS[p] && p !== "steps");
      where = `step ${loc[1] + 1}${fieldName ? `, ${FIELD_WORDS[fieldName]}` : ""}`;
    } else if (loc.length) {
      where = FIELD_WORDS[loc[0]] || String(loc[0]);
    }
    const msg = String(e.msg || "not accepted").replace(/^Value error, /, "");
    return where ? `${where}: ${msg}` : msg;
  }).join("; ");
}

// A player's own settings, alarms, and quiet hours with a daily limit, as
// sections of its panel on the Players page: each reads the API when opened,
// offers only what the model has (`supported`), sends only what was changed,
// and shows what the server answered (its values, or its reason for refusing).

import { api, listOf } from "../api.js";
import { announce, checkbox, confirmDialog, field, h, statusLine } from "../dom.js";

const DAYS = [["mon", "Mon", "Monday"], ["tue", "Tue", "Tuesday"], ["wed", "Wed", "Wednesday"], ["thu", "Thu", "Thursday"],
  ["fri", "Fri", "Friday"], ["sat", "Sat", "Saturday"], ["sun", "Sun", "Sunday"]];
const BRIGHTNESS = ["auto", 0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
const SHUTDOWN_S = [300, 600, 900, 1800, 3600, 7200, 14400];
const MODEL_NAMES = { v3: "Yoto Player (3rd generation)", v2: "Yoto Player (2nd generation)", mini: "Yoto Mini" };

const modelName = (model) => MODEL_NAMES[model] || (model ? `Yoto player “${model}”` : "this player");
const percentWords = (v) => (v === "auto" ? "automatic" : `${v}%`);
const minutesWords = (s) => (s % 3600 === 0 ? `${s / 3600} hour${s === 3600 ? "" : "s"}` : s % 60 === 0 ? `${s / 60} minutes` : `${s} seconds`);
const onOff = (v) => (v ? "on" : "off");

// --- controls: each makes {wrap, input, get(), set(value)} ----------------------------------------------------------

/** "7:05", "0705", "7.05" or "07:05" as "07:05" (a 24-hour clock); null for anything else. */
function clockOf(text) {
  const digits = String(text).trim().replace(/^(\d{1,2})[:.h](\d\d)$/, (_, a, b) => a.padStart(2, "0") + b);
  if (!/^\d{4}$/.test(digits) || Number(digits.slice(0, 2)) > 23 || Number(digits.slice(2)) > 59) return null;
  return `${digits.slice(0, 2)}:${digits.slice(2)}`;
}

// A text box rather than type=time, whose three parts are three Tab stops in Chromium.
function timeControl(label) {
  const input = h("input", { type: "text", inputmode: "numeric", autocomplete: "off", maxlength: 5, spellcheck: "false" });
  const { wrap } = field(label, input, "24-hour clock, like 07:30");
  input.addEventListener("blur", () => { const t = clockOf(input.value); if (t) input.value = t; });
  return { wrap, input, get: () => clockOf(input.value) || input.value.trim(), set: (v) => { input.value = v || ""; } };
}

function percentControl(label) {
  const input = h("input", { type: "range", min: 0, max: 100, step: 1, value: 0 });
  const out = h("output", { "aria-hidden": "true" }, "");
  const show = () => { out.textContent = `${input.value}%`; input.setAttribute("aria-valuetext", `${input.value}%`); };
  input.addEventListener("input", show);
  const { wrap } = field(h("span", {}, `${label} `, out), input);
  input.setAttribute("aria-label", label);
  return { wrap, input, get: () => Number(input.value), set: (v) => { input.value = String(v ?? 0); show(); } };
}

function choiceControl(label, choices, words) {
  const input = h("select", {});
  const { wrap } = field(label, input);
  let offered = choices;
  const set = (v) => {
    const values = offered.some((c) => String(c) === String(v)) || v === null || v === undefined ? offered : [...offered, v];
    input.replaceChildren(...values.map((c) => h("option", { value: String(c) }, words(c))));
    input.value = String(v);
  };
  const get = () => (/^\d+$/.test(input.value) ? Number(input.value) : input.value);
  set(choices[0]);
  return { wrap, input, get, set, offer: (only) => { offered = choices.filter(only); } };
}

function colourControl(label) {
  const input = h("input", { type: "color", value: "#000000" });
  const { wrap } = field(label, input);
  return { wrap, input, get: () => input.value.toLowerCase(), set: (v) => { input.value = v || "#000000"; } };
}

function textControl(label, hint) {
  const input = h("input", { type: "text", autocomplete: "off", spellcheck: "false" });
  const { wrap } = field(label, input, hint);
  return { wrap, input, get: () => input.value.trim(), set: (v) => { input.value = v ?? ""; } };
}

function switchControl(label) {
  const box = checkbox(label);
  box.input.setAttribute("role", "switch");
  return { wrap: box.wrap, input: box.input, get: () => box.input.checked, set: (v) => { box.input.checked = Boolean(v); } };
}

// The contract's fields, the words for each, and how each is shown and changed.
const FIELDS = [
  ["day_starts", "day", () => timeControl("Day starts at"), "day starts at"],
  ["day_max_volume", "day", () => percentControl("Maximum volume by day"), "maximum volume by day", percentWords],
  ["day_brightness", "day", () => choiceControl("Screen brightness by day", BRIGHTNESS, percentWords), "screen brightness by day", percentWords],
  ["day_ambient", "day", () => colourControl("Night-light colour by day"), "night-light colour by day"],
  ["night_starts", "night", () => timeControl("Night starts at"), "night starts at"],
  ["night_max_volume", "night", () => percentControl("Maximum volume at night"), "maximum volume at night", percentWords],
  ["night_brightness", "night", () => choiceControl("Screen brightness at night", BRIGHTNESS, percentWords), "screen brightness at night", percentWords],
  ["night_ambient", "night", () => colourControl("Night-light colour at night"), "night-light colour at night"],
  ["clock_face", "player", () => textControl("Clock face", "Yoto's name for the face, such as digital-sun."), "clock face"],
  ["hour_format", "player", () => choiceControl("Clock", [24, 12], (c) => `${c}-hour`), "clock", (v) => `${v}-hour`],
  ["shutdown_timeout_s", "player", () => choiceControl("Switch off when left alone for", SHUTDOWN_S, minutesWords), "switch off after", minutesWords],
  ["bluetooth", "player", () => switchControl("Bluetooth"), "Bluetooth", onOff],
  ["bluetooth_headphones", "player", () => switchControl("Bluetooth headphones"), "Bluetooth headphones", onOff],
  ["headphones_volume_limited", "player", () => switchControl("Limit the volume in headphones"), "headphone volume limit", onOff],
  ["repeat_all", "player", () => switchControl("Repeat all: start the card again after its last track"), "repeat all", onOff],
].map(([key, group, make, words, shown = (v) => String(v)]) => ({ key, group, make, words, shown }));

/**
 * A section of a player's panel that reads `path` each time it is opened (unless `busy()`): the
 * first answer puts `content` in place, and every answer goes to `show(answer, first)`.
 */
function lazySection(title, playerName, path, content, show, busy = () => false) {
  const body = h("div", { class: "ps-body" }, h("p", { class: "muted small" }, "Opening…"));
  const el = h("details", { class: "ps" }, h("summary", { "aria-label": `${title} of ${playerName()}` }, title), body);
  let drawn = false;
  let reading = null;
  function load() {
    reading = reading || (async () => {
      try {
        const answer = await api(path);
        const first = !drawn;
        if (first) body.replaceChildren(...content);
        drawn = true;
        show(answer, first);
      } catch (err) {
        drawn = false;
        body.replaceChildren(h("p", { class: "error small" }, `${title} could not be read: ${err.message}`));
      } finally {
        reading = null;
      }
    })();
    return reading;
  }
  el.addEventListener("toggle", () => { if (el.open && !busy()) load(); });
  return { el, load };
}

/** Send a change with `button` held down; `done` gets the answer, a refusal shows as `failed`: the reason. */
async function sending(button, status, failed, send, done) {
  status.info("Saving…");
  button.disabled = true;
  try {
    done(await send());
  } catch (err) {
    status.error(`${failed}: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

/** The Settings section of one player: `playerName` is a function (the name can change). */
export function settingsSection(playerId, playerName) {
  const path = `api/players/${encodeURIComponent(playerId)}/settings`;
  const status = statusLine();
  const controls = new Map(FIELDS.map((f) => [f.key, { ...f, ...f.make(), touched: false }]));
  let server = null;
  for (const c of controls.values()) {
    c.input.addEventListener(c.input.type === "checkbox" || c.input.tagName === "SELECT" ? "change" : "input", () => { c.touched = true; });
  }
  const modelLine = h("p", { class: "small muted" }, "");
  const group = (key, legend) => h("fieldset", { class: "ps-group" }, h("legend", {}, legend),
    [...controls.values()].filter((c) => c.group === key).map((c) => c.wrap));
  const save = h("button", { type: "submit" }, "Save settings");
  save.setAttribute("aria-label", `Save settings of ${playerName()}`);
  const form = h("form", { class: "ps-form", novalidate: true, "aria-label": `Settings of ${playerName()}` },
    modelLine,
    h("div", { class: "grid2" }, group("day", "Day"), group("night", "Night")),
    group("player", "The player"),
    h("div", { class: "row" }, save), status.el);
  const dirty = () => [...controls.values()].some((c) => c.touched);
  const offered = (key) => (server && Array.isArray(server.supported) ? server.supported.includes(key) : server && server[key] !== null && server[key] !== undefined);

  function show(answer) {
    server = answer;
    const lacks = FIELDS.filter((f) => !offered(f.key)).map((f) => f.words);
    modelLine.textContent = `${modelName(answer.model)}.${lacks.length ? ` It has no ${lacks.join(", ")}: those are not offered.` : ""}`;
    // "auto" needs a light sensor (the answer's light_sensor); a value already "auto" stays offered.
    for (const key of ["day_brightness", "night_brightness"]) {
      controls.get(key).offer((c) => c !== "auto" || (answer.light_sensor ?? answer.model === "v3") || answer[key] === "auto");
    }
    for (const c of controls.values()) {
      c.wrap.hidden = !offered(c.key);
      c.set(answer[c.key]);
      c.touched = false;
    }
    for (const fs of form.querySelectorAll("fieldset")) fs.hidden = ![...fs.querySelectorAll(".field, .check")].some((w) => !w.hidden);
  }

  const section = lazySection("Settings", playerName, path, [form], show, dirty);

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!server) return;
    const same = (a, b) => (typeof a === "string" && typeof b === "string" ? a.toLowerCase() === b.toLowerCase() : a === b);
    const changed = [...controls.values()].filter((c) => c.touched && offered(c.key) && !same(c.get(), server[c.key]));
    const bad = changed.find((c) => c.key.endsWith("_starts") && !clockOf(c.get()));
    if (bad) { status.error(`Type the time for “${bad.words}” like 07:30.`); bad.input.focus(); return; }
    if (!changed.length) { for (const c of controls.values()) c.touched = false; status.info("Nothing changed."); return; }
    const body = Object.fromEntries(changed.map((c) => [c.key, c.get()]));
    await sending(save, status, "Not saved", () => api(path, { method: "PATCH", json: body }), (answer) => {
      show(answer);
      const said = changed.map((c) => `${c.words} ${c.shown(answer[c.key])}`).join(", ");
      status.ok(`Saved on ${playerName()}: ${said}.`);
      announce(`Settings of ${playerName()} saved`);
    });
  });

  return section;
}

// --- alarms --------------------------------------------------------------------------------------------------------

function daysWords(days) {
  const on = DAYS.filter(([d]) => days.includes(d));
  if (on.length === 7) return "every day";
  if (!on.length) return "no day";
  if (on.length === 5 && !days.includes("sat") && !days.includes("sun")) return "weekdays";
  if (on.length === 2 && days.includes("sat") && days.includes("sun")) return "weekends";
  return on.map(([, short]) => short).join(", ");
}

/** Seven toggle buttons, Mon..Sun; get/set as ["mon", …]. */
function dayToggles() {
  const buttons = DAYS.map(([value, short, long]) => {
    const b = h("button", { type: "button", class: "secondary ps-day", "aria-pressed": "false", "aria-label": long, dataset: { day: value } }, short);
    b.addEventListener("click", () => b.setAttribute("aria-pressed", b.getAttribute("aria-pressed") === "true" ? "false" : "true"));
    return b;
  });
  const el = h("fieldset", { class: "ps-days" }, h("legend", {}, "Days"), h("div", { class: "ps-day-row" }, buttons));
  return {
    el,
    get: () => buttons.filter((b) => b.getAttribute("aria-pressed") === "true").map((b) => b.dataset.day),
    set: (days) => { for (const b of buttons) b.setAttribute("aria-pressed", String(days.includes(b.dataset.day))); },
    first: () => buttons[0],
  };
}

/**
 * The Alarms section of one player. `cards()` gives the family's cards ({yoto_card_id, title}) that
 * an alarm may play; the built-in sounds offered are those the player's alarms already play (the
 * API names no list of them).
 */
export function alarmsSection(playerId, playerName, cards) {
  const base = `api/players/${encodeURIComponent(playerId)}/alarms`;
  const status = statusLine();
  const formStatus = statusLine();
  let alarms = [];
  let editing = null;
  const list = h("ul", { class: "items ps-alarms", "aria-label": `Alarms on ${playerName()}` });

  const heading = h("h3", {}, "New alarm");
  const days = dayToggles();
  const time = timeControl("Alarm time");
  const volume = percentControl("Alarm volume");
  const what = h("select", {});
  const whatField = field("What plays", what);
  const enabled = switchControl("Switched on");
  const submit = h("button", { type: "submit" }, "Add alarm");
  const cancel = h("button", { type: "button", class: "secondary", hidden: true }, "Cancel");
  const form = h("form", { class: "ps-form ps-alarm-form", novalidate: true, "aria-label": `New alarm on ${playerName()}` },
    heading, days.el, h("div", { class: "grid2" }, time.wrap, volume.wrap), whatField.wrap, enabled.wrap,
    h("div", { class: "row" }, submit, cancel), formStatus.el);

  const cardTitle = (id) => (cards().find((c) => c.yoto_card_id === id) || {}).title;
  const playsWords = (a) => (a.card_id ? `card “${cardTitle(a.card_id) || a.card_id}”` : a.sound ? `sound ${a.sound}` : "the player's own sound");
  const alarmName = (a) => `${a.time || "(no time)"} ${daysWords(a.days)}`;

  /** The choices of what plays; "the player's own sound" only where it can be chosen (a new alarm, or one that has it). */
  function fillWhat(current) {
    const ours = cards();
    const heard = [...new Set(alarms.map((a) => a.sound).filter(Boolean))];
    const options = !current || (!current.card_id && !current.sound) ? [h("option", { value: "" }, "The player's own alarm sound")] : [];
    const cardOptions = ours.map((c) => h("option", { value: `card:${c.yoto_card_id}` }, c.title));
    if (current && current.card_id && !ours.some((c) => c.yoto_card_id === current.card_id)) cardOptions.push(h("option", { value: `card:${current.card_id}` }, `Card ${current.card_id}`));
    if (cardOptions.length) options.push(h("optgroup", { label: "Our cards" }, cardOptions));
    if (heard.length) options.push(h("optgroup", { label: "Built-in sounds (from this player's alarms)" }, heard.map((id) => h("option", { value: `sound:${id}` }, `Sound ${id}`))));
    what.replaceChildren(...options);
    what.value = current && current.card_id ? `card:${current.card_id}` : current && current.sound ? `sound:${current.sound}` : "";
  }

  function reset() {
    editing = null;
    heading.textContent = "New alarm";
    form.setAttribute("aria-label", `New alarm on ${playerName()}`);
    days.set([]);
    time.set("07:00");
    volume.set(50);
    enabled.set(true);
    fillWhat(null);
    submit.textContent = "Add alarm";
    cancel.hidden = true;
  }

  function edit(alarm) {
    editing = alarm;
    heading.textContent = `Change the alarm at ${alarmName(alarm)}`;
    form.setAttribute("aria-label", `Change the alarm at ${alarmName(alarm)}`);
    days.set(alarm.days);
    time.set(alarm.time || "");
    volume.set(alarm.volume ?? 50);
    enabled.set(alarm.enabled);
    fillWhat(alarm);
    submit.textContent = "Save alarm";
    cancel.hidden = false;
    formStatus.clear();
    time.input.focus();
  }
  cancel.addEventListener("click", () => { reset(); formStatus.clear(); submit.focus(); });

  function row(alarm) {
    const toggle = switchControl("On");
    toggle.set(alarm.enabled);
    toggle.input.setAttribute("aria-label", `Alarm at ${alarmName(alarm)} on`);
    toggle.input.addEventListener("change", async () => {
      const on = toggle.input.checked;
      status.info(on ? "Switching the alarm on…" : "Switching the alarm off…");
      try {
        const saved = await api(`${base}/${alarm.n}`, { method: "PATCH", json: { enabled: on } });
        status.ok(`Alarm at ${alarmName(saved)} ${saved.enabled ? "on" : "off"}.`);
        announce(`Alarm ${saved.enabled ? "on" : "off"}`);
        const hadFocus = document.activeElement === toggle.input;
        await load();
        if (hadFocus) list.querySelector(`li[data-n="${alarm.n}"] [role="switch"]`)?.focus();
      } catch (err) {
        toggle.input.checked = !on;
        status.error(`Not switched ${on ? "on" : "off"}: ${err.message}`);
      }
    });
    const change = h("button", { type: "button", class: "secondary", "aria-label": `Change alarm at ${alarmName(alarm)}`, onclick: () => edit(alarm) }, "Change");
    const del = h("button", { type: "button", class: "danger secondary", "aria-label": `Delete alarm at ${alarmName(alarm)}` }, "Delete");
    del.addEventListener("click", async () => {
      if (!(await confirmDialog(`Delete the alarm at ${alarmName(alarm)}?`, `${playerName()} will no longer ring at ${alarm.time}.`, "Delete alarm"))) { del.focus(); return; }
      status.info("Deleting…");
      try {
        await api(`${base}/${alarm.n}`, { method: "DELETE" });
        if (editing && editing.n === alarm.n) reset();
        status.ok(`Deleted the alarm at ${alarmName(alarm)}.`);
        announce("Alarm deleted");
        await load();
        form.querySelector("button, input, select")?.focus();
      } catch (err) {
        status.error(`Not deleted: ${err.message}`);
      }
    });
    return h("li", { dataset: { n: String(alarm.n) } },
      h("div", { class: "main" },
        h("div", { class: "title" }, alarm.time, " ", h("span", { class: "muted" }, daysWords(alarm.days))),
        h("div", { class: "meta" }, `${alarm.volume === null ? "Volume unknown" : `Volume ${alarm.volume}%`} · ${playsWords(alarm)}${alarm.enabled ? "" : " · off"}`)),
      h("div", { class: "actions" }, toggle.wrap, change, del));
  }

  function draw() {
    list.replaceChildren(...(alarms.length ? alarms.map(row) : [h("li", { class: "empty" }, "No alarms on this player.")]));
  }

  const section = lazySection("Alarms", playerName, base, [list, status.el, form], (answer, first) => {
    alarms = listOf(answer, "alarms");
    if (first) reset();
    else if (!editing) fillWhat(null);
    draw();
  });
  const load = section.load;

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const [kind, id] = what.value ? [what.value.slice(0, what.value.indexOf(":")), what.value.slice(what.value.indexOf(":") + 1)] : [null, null];
    const wanted = { days: days.get(), time: time.get(), volume: volume.get(), card_id: kind === "card" ? id : null, sound: kind === "sound" ? id : null, enabled: enabled.get() };
    if (!wanted.days.length) { formStatus.error("Choose at least one day."); days.first().focus(); return; }
    if (!clockOf(wanted.time)) { formStatus.error("Type the alarm's time like 07:30."); time.input.focus(); return; }
    const was = editing;
    // Only what changed, and never a null: what plays changes by naming the card or the sound it plays now.
    const body = Object.fromEntries(Object.entries(wanted).filter(([k, v]) => v !== null && (!was || JSON.stringify(v) !== JSON.stringify(was[k] ?? null))));
    if (was && !Object.keys(body).length) { formStatus.info("Nothing changed."); return; }
    let saved = null;
    await sending(submit, formStatus, was ? "Not saved" : "Not added", () => api(was ? `${base}/${was.n}` : base, { method: was ? "PATCH" : "POST", json: body }), (answer) => {
      saved = answer;
      formStatus.ok(`${was ? "Saved" : "Added"}: ${alarmName(saved)}, volume ${saved.volume}%, ${playsWords(saved)}${saved.enabled ? "" : ", off"}.`);
      announce(was ? "Alarm saved" : "Alarm added");
      reset();
    });
    if (saved) await load();
  });

  return section;
}

// --- quiet hours and a daily limit ---------------------------------------------------------------------------------

const BREACH_WORDS = { quiet_hours: "quiet hours", daily_limit: "the daily limit" };

/** The Rules section of one player: quiet hours, a daily listening limit, the notice; a PUT replaces all three. */
export function rulesSection(playerId, playerName) {
  const path = `api/players/${encodeURIComponent(playerId)}/rules`;
  const status = statusLine();
  const enforced = h("p", { class: "small" }, "");
  const today = h("p", { class: "small muted" }, "");
  const quiet = switchControl("Quiet hours: no playing between these times");
  const from = timeControl("Quiet from");
  const to = timeControl("Quiet until");
  const limited = switchControl("A daily limit on listening");
  const minutes = h("input", { type: "number", min: 0, max: 1440, step: 1, inputmode: "numeric" });
  const minutesField = field("Minutes a day", minutes);
  const notice = h("input", { type: "text", maxlength: 200, autocomplete: "off" });
  const noticeField = field("Notice spoken first", notice, "Left empty: the player pauses without a word.");
  const save = h("button", { type: "submit", "aria-label": `Save quiet hours and limit of ${playerName()}` }, "Save rules");
  const times = h("div", { class: "grid2" }, from.wrap, to.wrap);
  const form = h("form", { class: "ps-form", novalidate: true, "aria-label": `Quiet hours and daily limit of ${playerName()}` },
    enforced, today, quiet.wrap, times, limited.wrap, minutesField.wrap, noticeField.wrap, h("div", { class: "row" }, save), status.el);
  const showSwitches = () => { times.hidden = !quiet.get(); minutesField.wrap.hidden = !limited.get(); };
  quiet.input.addEventListener("change", showSwitches);
  limited.input.addEventListener("change", showSwitches);

  function show(rules) {
    const off = String(rules.enforced_by).startsWith("not enforced");
    enforced.className = off ? "small ps-warn" : "small ok";
    enforced.textContent = off ? `Not enforced now: ${String(rules.enforced_by).replace(/^not enforced:\s*/, "")}.` : `Enforced by the listener (mqttMode ${rules.enforced_by}).`;
    const paused = rules.last_pause ? ` Last paused ${new Date(rules.last_pause.at).toLocaleString()} for ${BREACH_WORDS[rules.last_pause.breach] || rules.last_pause.breach}.` : "";
    today.textContent = `${Math.round(Number(rules.minutes_today) || 0)} minutes played today${rules.in_quiet_hours ? ", and it is quiet hours now" : ""}.${paused}`;
    quiet.set(Boolean(rules.quiet_hours));
    from.set(rules.quiet_hours ? rules.quiet_hours.from : "19:30");
    to.set(rules.quiet_hours ? rules.quiet_hours.to : "07:00");
    limited.set(rules.daily_limit_minutes !== null && rules.daily_limit_minutes !== undefined);
    minutes.value = String(rules.daily_limit_minutes ?? 60);
    notice.value = rules.notice || "";
    showSwitches();
  }

  const section = lazySection("Quiet hours and daily limit", playerName, path, [form], show);

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (quiet.get() && (!clockOf(from.get()) || !clockOf(to.get()))) { status.error("Type both quiet-hours times like 19:30."); (clockOf(from.get()) ? to : from).input.focus(); return; }
    const limit = Number(minutes.value);
    if (limited.get() && (!/^\d+$/.test(minutes.value.trim()) || limit > 1440)) { status.error("Give the daily limit in whole minutes, 0 to 1440."); minutes.focus(); return; }
    const body = {
      quiet_hours: quiet.get() ? { from: clockOf(from.get()), to: clockOf(to.get()) } : null,
      daily_limit_minutes: limited.get() ? limit : null,
      notice: notice.value.trim() || null,
    };
    await sending(save, status, "Not saved", () => api(path, { method: "PUT", json: body }), (rules) => {
      show(rules);
      const parts = [rules.quiet_hours ? `quiet ${rules.quiet_hours.from}–${rules.quiet_hours.to}` : "no quiet hours", rules.daily_limit_minutes !== null ? `${rules.daily_limit_minutes} minutes a day` : "no daily limit"];
      status.ok(`Saved on ${playerName()}: ${parts.join(", ")}.`);
      announce(`Rules of ${playerName()} saved`);
    });
  });

  return section;
}

// Players: each player's live state, updated by itself (server-sent events
// where the server streams, otherwise a poll of our own API), every command
// the API offers, and a small chart of the last week's listening. Admins can
// keep a player for the member whose Yoto account has it ("mine only"). Its own
// settings, alarms and rules are sections of its panel (player-settings.js); an
// announcement box above the players speaks on some or all of them (announce.js).

import { api, apiUrl, listOf } from "../api.js";
import { announce, checkbox, clear, field, formatDuration, h, missing, statusLine, syncRows } from "../dom.js";
import { announcementBox } from "./announce.js";

const POLL_MS = 5000;
const POLL_WITH_STREAM_MS = 30000;
const SLEEP_CHOICES = [0, 5, 10, 15, 20, 30, 45, 60, 90];
const SLEEP_AT_END = [["track", "At the end of this track"], ["chapter", "At the end of this chapter"]];
const TYPING_GRACE_MS = 2500;
// A player's own sections: their title, the feature that offers them, and their maker in player-settings.js.
const SECTIONS = [["Settings", "player_settings", "settingsSection"], ["Alarms", "alarms", "alarmsSection"],
  ["Quiet hours and daily limit", "player_rules", "rulesSection"]];

export async function render(root, ctx) {
  if (!ctx.features.players) {
    clear(root, h("h1", {}, "Players"), missing("Seeing and controlling the players needs the Yoto part of this service."));
    return;
  }
  const grid = h("div", { class: "players" }, h("div", { class: "panel player" }, h("p", { class: "muted now" }, "Looking for players…")));
  const live = h("p", { class: "small muted" }, "\u00a0");
  const pageStatus = statusLine();
  const announcer = ctx.features.announcements !== false ? announcementBox() : null;
  if (announcer) announcer.el.hidden = true;
  const panels = new Map();
  let cardTitles = new Map();
  let cards = [];
  let source = null;
  let timer = null;
  let stopped = false;

  async function loadCards() {
    if (!ctx.features.cards) return;
    try {
      cards = listOf(await api("api/cards"), "cards").filter((c) => c.yoto_card_id);
      cardTitles = new Map(cards.map((c) => [c.yoto_card_id, c.title]));
    } catch { cards = []; }
  }

  let streams = false;
  let pollMs = POLL_MS;
  // Whether a listener runs that sees a track end (GET /api/players says, and why not).
  let sleepAtEnd = { available: true, reason: null };

  async function loadAll() {
    try {
      const answer = await api("api/players");
      const players = listOf(answer, "players");
      if (answer && typeof answer.stream === "boolean") streams = answer.stream;
      if (answer && answer.poll_interval_s) pollMs = Math.max(2000, answer.poll_interval_s * 1000);
      if (answer && answer.sleep_at_end) sleepAtEnd = answer.sleep_at_end;
      if (!players.length) {
        grid.replaceChildren(h("div", { class: "panel" }, h("p", {}, "No players yet. Link the Yoto account (", h("a", { href: "#/yoto" }, "Yoto account"), ") and switch a player on.")));
        panels.clear();
        return;
      }
      syncRows(grid, panels, players, playerPanel);
      if (announcer) { announcer.sync(players); announcer.el.hidden = false; }
      pageStatus.clear();
    } catch (err) {
      if (err.status === 401) return;
      if (!panels.size) grid.replaceChildren(h("div", { class: "panel" }, h("p", { class: "error" }, `The players could not be listed: ${err.message}`)));
      else pageStatus.error(`Could not refresh: ${err.message}`);
    }
  }

  function onData(data) {
    const states = Array.isArray(data) ? data : data && Array.isArray(data.players) ? data.players : [data && data.player ? data.player : data];
    for (const raw of states) {
      if (!raw || typeof raw !== "object") continue;
      const id = raw.id || raw.player_id || raw.device_id;
      const patch = { ...(raw.state || raw.patch || raw), id };
      if (!id) continue;
      const panel = panels.get(id);
      if (panel) panel.update(patch);
      else loadAll();
    }
  }

  function schedule(ms) {
    window.clearTimeout(timer);
    if (stopped) return;
    timer = window.setTimeout(async () => {
      if (!document.hidden) await loadAll();
      schedule(ms);
    }, ms);
  }

  function connect() {
    if (!streams || !window.EventSource) {
      live.textContent = "Updates every few seconds.";
      schedule(pollMs);
      return;
    }
    source = new EventSource(apiUrl("api/players/stream"));
    const handle = (e) => { try { onData(JSON.parse(e.data)); } catch { /* a keep-alive or a line we do not know */ } };
    source.addEventListener("message", handle);
    for (const name of ["player", "players", "state", "update"]) source.addEventListener(name, handle);
    source.addEventListener("open", () => { live.textContent = "Live: changes show up as they happen."; schedule(POLL_WITH_STREAM_MS); });
    source.addEventListener("error", () => {
      if (source && source.readyState === EventSource.CLOSED) {
        source = null;
        live.textContent = "Updates every few seconds.";
        schedule(pollMs);
      }
    });
  }

  /** One player's panel; `update` changes it in place so focus and sliders stay put. */
  function playerPanel(first) {
    const id = first.id;
    let state = { ...first };
    let lastTouched = 0;
    const name = h("h2", {}, first.name || id);
    const online = h("span", { class: "badge" }, "");
    const what = h("p", { class: "title" }, "");
    const chapter = h("p", { class: "meta small" }, "");
    const posBar = h("span");
    const position = h("div", { class: "position", role: "presentation" }, posBar);
    const posText = h("p", { class: "meta small" }, "\u00a0");
    const fact = (label) => { const dd = h("dd", {}, "–"); return [h("div", {}, h("dt", {}, label), dd), dd]; };
    const [volBox, volFact] = fact("Volume");
    const [batBox, batFact] = fact("Battery");
    const [sleepBox, sleepFact] = fact("Sleep timer");
    const [seenBox, seenFact] = fact("Last heard");
    const [wifiBox, wifiFact] = fact("Wi-Fi");
    const status = statusLine();
    const playerName = () => state.name || id;

    async function command(body, said, done = "done") {
      status.info(`${said}…`);
      try {
        await api(`api/players/${encodeURIComponent(id)}/commands`, { method: "POST", json: body });
        status.ok(`${said}: ${done}.`);
        announce(`${playerName()}: ${said} done`);
        try { update(await api(`api/players/${encodeURIComponent(id)}`)); } catch { /* the live feed brings it */ }
      } catch (err) {
        status.error(`${said}: ${err.message}`);
      }
    }
    const button = (label, body, cls = "secondary") => h("button", { type: "button", class: cls, "aria-label": `${label} ${playerName()}`, onclick: () => command(body, label) }, label);
    const transport = h("div", { class: "transport", role: "group", "aria-label": `Playback on ${playerName()}` },
      button("Previous", { action: "previous" }), button("Pause", { action: "pause" }), button("Resume", { action: "resume" }),
      button("Stop", { action: "stop" }), button("Next", { action: "next" }));

    const cardSelect = h("select", {}, h("option", { value: "" }, cards.length ? "Choose a card…" : "No cards yet"), cards.map((c) => h("option", { value: c.yoto_card_id }, c.title)));
    const playCard = h("button", { type: "button" }, "Play card");
    playCard.addEventListener("click", () => {
      if (!cardSelect.value) { status.error("Choose a card to play first."); return; }
      command({ action: "play", card_id: cardSelect.value }, `Play “${cardSelect.selectedOptions[0].textContent}”`);
    });

    const volume = h("input", { type: "range", min: 0, max: 100, step: 1, value: 0 });
    const volValue = h("output", { "aria-hidden": "true" }, "");
    let volTimer = null;
    volume.addEventListener("input", () => {
      lastTouched = Date.now();
      volValue.textContent = `${volume.value}%`;
      window.clearTimeout(volTimer);
      volTimer = window.setTimeout(() => command({ action: "volume", volume: Number(volume.value) }, `Volume ${volume.value}%`), 350);
    });

    const atEnd = SLEEP_AT_END.map(([value, label]) => h("option", { value }, label));
    const sleep = h("select", {}, SLEEP_CHOICES.map((m) => h("option", { value: m }, m ? `${m} minutes` : "Off")), atEnd);
    const sleepField = field("Sleep timer", sleep, "\u00a0");
    const sleepHint = sleepField.wrap.querySelector(".hint");
    const setSleep = h("button", { type: "button", class: "secondary", "aria-label": `Set sleep timer on ${playerName()}` }, "Set sleep timer");
    setSleep.addEventListener("click", () => {
      const end = SLEEP_AT_END.find(([value]) => value === sleep.value);
      if (end) command({ action: "sleep_timer", at_end_of: end[0] }, `Sleep ${end[1].toLowerCase()}`, `set: it pauses when the ${end[0]} ends`);
      else command({ action: "sleep_timer", minutes: Number(sleep.value) }, Number(sleep.value) ? `Sleep in ${sleep.value} minutes` : "Sleep timer off");
    });

    const colour = h("input", { type: "color", value: "#ffb347" });
    const setColour = h("button", { type: "button", class: "secondary", "aria-label": `Set night-light colour on ${playerName()}` }, "Set night light");
    setColour.addEventListener("click", () => command({ action: "ambient", hex: colour.value }, `Night light ${colour.value}`));
    const ask = h("button", { type: "button", class: "quiet", "aria-label": `Ask ${playerName()} for its status` }, "Ask for status");
    ask.addEventListener("click", () => command({ action: "status" }, "Status asked for"));

    const whose = h("p", { class: "meta small" }, "");
    const keep = ctx.me.is_admin ? checkbox("Mine only: just its owner and admins see and use it", first.private === true) : null;
    if (keep) {
      keep.input.setAttribute("role", "switch");
      keep.input.addEventListener("change", async () => {
        const on = keep.input.checked;
        status.info(on ? "Keeping it for its owner…" : "Sharing it with the family…");
        try {
          update(await api(`api/players/${encodeURIComponent(id)}/private`, { method: "PUT", json: { private: on } }));
          status.ok(on ? `Only ${state.owner} and admins see ${playerName()} now.` : `The whole family sees ${playerName()} again.`);
        } catch (err) {
          keep.input.checked = !on;
          status.error(`Could not change who sees it: ${err.message}`);
        }
      });
    }

    const chart = h("div", { class: "chart-wrap" });
    const history = h("details", {}, h("summary", {}, "Listening in the last 7 days"), chart);
    history.addEventListener("toggle", () => { if (history.open) loadHistory(id, chart, (cardId) => cardTitles.get(cardId)); });

    // Absent from the features list (a server older than the list's entry) still means "try it".
    const sections = SECTIONS.filter(([, feature]) => ctx.features[feature] !== false)
      .map(([title, , make]) => closedSection(title, playerName, (mod) => mod[make](id, playerName, () => cards)));

    const el = h("section", { class: "panel player", "aria-label": `Player ${playerName()}` },
      h("div", { class: "row" }, name, online),
      whose,
      h("div", { class: "now" }, what, chapter, position, posText),
      h("dl", { class: "facts" }, volBox, batBox, sleepBox, seenBox, wifiBox),
      transport,
      h("div", { class: "grid2" },
        h("div", {}, field("Card to play", cardSelect).wrap, playCard),
        h("div", {}, h("div", { class: "field" }, h("label", { for: volume.id = `vol-${id}` }, "Volume ", volValue), volume))),
      h("div", { class: "grid2" },
        h("div", {}, sleepField.wrap, setSleep),
        h("div", {}, field("Night-light colour", colour).wrap, setColour)),
      h("div", { class: "row" }, ask), keep ? keep.wrap : null, status.el,
      ctx.features.history ? history : null,
      sections);

    function update(patch) {
      state = { ...state, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) };
      name.textContent = playerName();
      whose.textContent = state.owner ? `On ${state.owner}'s Yoto account${state.private ? " · mine only" : ""}` : "\u00a0";
      if (keep && typeof state.private === "boolean") keep.input.checked = state.private;
      // stale: nothing heard for longer than a player's events last; what shows is how it was then
      const stale = state.online !== false && state.stale === true;
      online.textContent = state.online === false ? "Offline" : stale ? "Not live" : "Online";
      online.className = state.online === false ? "badge off" : stale ? "badge stale" : "badge on";
      online.title = stale ? "Nothing has arrived from this player for a while: its state below may be old." : "";
      const playing = { playing: "Playing", paused: "Paused", stopped: "Stopped" }[state.playback_status] || "Idle";
      const card = state.card_id ? cardTitles.get(state.card_id) || state.card_title || `card ${state.card_id}` : null;
      const said = card ? `${playing}: ${card}` : playing;
      what.textContent = stale && state.heard_at ? `Last known: ${said}` : stale ? "No live state yet" : said;
      chapter.textContent = [state.chapter_title, state.track_title && state.track_title !== state.chapter_title ? state.track_title : null].filter(Boolean).join(" · ") || "\u00a0";
      const length = Number(state.track_length_s) || 0;
      const pos = Number(state.position_s) || 0;
      posBar.style.width = length ? `${Math.min(100, (pos / length) * 100)}%` : "0";
      posText.textContent = length ? `${formatDuration(pos)} of ${formatDuration(length)}` : "\u00a0";
      volFact.textContent = Number.isFinite(state.volume) ? `${state.volume}%` : "–";
      batFact.textContent = Number.isFinite(state.battery_percent) ? `${state.battery_percent}%${state.charging ? " ⚡" : ""}` : "–";
      batFact.setAttribute("aria-label", Number.isFinite(state.battery_percent) ? `${state.battery_percent}%${state.charging ? ", charging" : ""}` : "unknown");
      sleepFact.textContent = state.sleep_timer_s ? `${Math.ceil(state.sleep_timer_s / 60)} min` : "Off";
      for (const option of atEnd) option.disabled = !sleepAtEnd.available;
      if (!sleepAtEnd.available && atEnd.some((o) => o.selected)) sleep.value = "0";
      sleepHint.textContent = sleepAtEnd.available ? "" : `At the end of a track or chapter: not here now (${sleepAtEnd.reason || "no listener runs"}).`;
      seenFact.textContent = state.heard_at ? agoText(state.heard_at) : "Never";
      wifiFact.textContent = state.ssid || Number.isFinite(state.wifi_strength_dbm)
        ? [state.ssid, Number.isFinite(state.wifi_strength_dbm) ? `${state.wifi_strength_dbm} dBm` : null].filter(Boolean).join(", ")
        : "–";
      const busy = document.activeElement === volume && Date.now() - lastTouched < TYPING_GRACE_MS;
      if (Number.isFinite(state.volume) && !busy && Date.now() - lastTouched > TYPING_GRACE_MS) {
        volume.value = String(state.volume);
        volValue.textContent = `${state.volume}%`;
      }
      volume.setAttribute("aria-label", `Volume of ${playerName()}`);
      el.dataset.playback = state.playback_status || "";
      el.dataset.volume = Number.isFinite(state.volume) ? String(state.volume) : "";
    }
    return { el, update };
  }

  clear(root,
    h("div", { class: "page-head" }, h("h1", {}, "Players"), live),
    pageStatus.el, announcer ? announcer.el : null, grid);
  await loadCards();
  await loadAll();
  connect();
  return () => {
    stopped = true;
    if (announcer) announcer.stop();
    window.clearTimeout(timer);
    if (source) source.close();
  };
}

/**
 * A section of a player's panel as it shows closed; opened by the user the first time (a click
 * or Enter on its summary; a script setting `open` only shows "Opening…"), it fetches
 * player-settings.js (kept off the page's first load) and puts the real section in its place.
 */
function closedSection(title, playerName, make) {
  const summary = h("summary", { "aria-label": `${title} of ${playerName()}` }, title);
  const el = h("details", { class: "ps" }, summary, h("div", { class: "ps-body" }, h("p", { class: "muted small" }, "Opening…")));
  summary.addEventListener("click", async () => {
    try {
      const section = make(await import("./player-settings.js"));
      const hadFocus = document.activeElement === summary;
      el.replaceWith(section.el);
      section.el.open = true;
      if (hadFocus) section.el.querySelector("summary").focus();
    } catch (err) {
      el.lastElementChild.replaceChildren(h("p", { class: "error small" }, `${title} could not be opened: ${err.message}`));
    }
  }, { once: true });
  return el;
}

function agoText(iso) {
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

async function loadHistory(id, chart, cardTitle) {
  chart.replaceChildren(h("p", { class: "muted small" }, "Loading…"));
  try {
    const data = await api(`api/players/${encodeURIComponent(id)}/history`, { query: { days: 7 } });
    const rows = listOf(data, "cards", "plays", "history").map((e) => ({
      label: cardTitle(e.card_id) || e.card_title || e.title || (e.card_id ? `card ${e.card_id}` : "unknown"),
      minutes: Number(e.minutes ?? e.minutes_listened ?? (e.seconds ?? e.seconds_listened ?? 0) / 60) || 0,
    })).sort((a, b) => b.minutes - a.minutes).slice(0, 10);
    if (!rows.length) { chart.replaceChildren(h("p", { class: "muted small" }, "Nothing played in the last 7 days.")); return; }
    const total = Number(data.total_minutes);
    const most = Math.max(...rows.map((r) => r.minutes), 1);
    chart.replaceChildren(Number.isFinite(total) ? h("p", { class: "small" }, `${Math.round(total)} minutes in ${data.plays} plays`) : "", h("ul", { class: "chart", "aria-label": "Minutes listened per card, last 7 days" }, rows.map((r) => {
      const fill = h("span", { class: "fill" });
      fill.style.width = `${(r.minutes / most) * 100}%`;
      return h("li", {}, h("span", { class: "label" }, r.label), h("span", { class: "track", "aria-hidden": "true" }, fill), h("span", { class: "val" }, `${Math.round(r.minutes)} min`));
    })));
  } catch (err) {
    chart.replaceChildren(h("p", { class: "error small" }, `No history: ${err.message}`));
  }
}

// The Players page's announcement box: a short text spoken on every player or
// the chosen ones, each then put back where it was (POST /api/announcements).
// A long one, or one whose card goes to Yoto's storage first, is queued: the
// box follows its run and shows each player's outcome the same way.

import { api } from "../api.js";
import { announce, checkbox, field, h, statusLine } from "../dom.js";
import { runFollower } from "./runs.js";

const OUTCOMES = {
  resumed: "back where it was",
  stayed_idle: "was not playing, so it stays stopped",
  played: "played it; where it was is not known, so it stays stopped",
  left_alone: "someone started another card meanwhile, so it was left as it was",
  failed: "did not work",
};

/** The box; `sync(players)` keeps its player choices in step with the page's list of players. */
export function announcementBox() {
  const follower = runFollower();
  const text = h("textarea", { rows: 2, maxlength: 1000 });
  const textField = field("What to say", text, "Spoken on the players, which then go back to what they were playing.");
  const every = checkbox("On every player", true);
  const choices = h("fieldset", { class: "an-players", hidden: true }, h("legend", {}, "On these players"));
  const boxes = new Map();
  const status = statusLine();
  const results = h("ul", { class: "an-results", "aria-label": "How the announcement went", hidden: true });
  const go = h("button", { type: "submit" }, "Announce");
  const form = h("form", { novalidate: true, "aria-label": "Make an announcement" },
    textField.wrap, every.wrap, choices, h("div", { class: "row" }, go), status.el, results);
  const el = h("details", { class: "panel announce" }, h("summary", {}, "Make an announcement"), form);
  every.input.addEventListener("change", () => { choices.hidden = every.input.checked; });

  function sync(players) {
    const ids = new Set(players.map((p) => p.id));
    for (const [id, box] of boxes) if (!ids.has(id)) { box.wrap.remove(); boxes.delete(id); }
    for (const p of players) {
      if (boxes.has(p.id)) { boxes.get(p.id).label.textContent = p.name || p.id; continue; }
      const box = checkbox("", false);
      box.label = h("span", {}, p.name || p.id);
      box.wrap.append(box.label);
      box.input.value = p.id;
      boxes.set(p.id, box);
      choices.append(box.wrap);
    }
  }

  function show(outcomes) {
    results.hidden = false;
    results.replaceChildren(...outcomes.map((o) => h("li", {}, `${o.name || o.player_id}: ${OUTCOMES[o.outcome] || o.outcome}${o.detail ? ` (${o.detail})` : ""}`)));
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const words = text.value.trim();
    if (!words) { status.error("Type what to say first."); text.focus(); return; }
    const ids = every.input.checked ? null : [...boxes.values()].filter((b) => b.input.checked).map((b) => b.input.value);
    if (ids && !ids.length) { status.error("Choose at least one player, or every player."); every.input.focus(); return; }
    status.info("Speaking…");
    results.hidden = true;
    go.disabled = true;
    try {
      const answer = await api("api/announcements", { method: "POST", json: ids ? { text: words, player_ids: ids } : { text: words } });
      let outcomes = answer.players;
      if (!outcomes) {
        status.info("Getting it ready first (it is long, or goes to Yoto's storage)…");
        const run = await follower.wait(answer.run.id);
        if (!run) return;
        if (run.status === "failed" && !run.results.length) throw new Error(run.detail || "it did not work");
        outcomes = run.results;
      }
      show(outcomes);
      const failed = outcomes.filter((o) => o.outcome === "failed").length;
      const said = `Announced on ${outcomes.length - failed} of ${outcomes.length} player${outcomes.length === 1 ? "" : "s"}.`;
      if (failed) status.error(said);
      else status.ok(said);
      announce(said);
    } catch (err) {
      status.error(`Not announced: ${err.message}`);
    } finally {
      go.disabled = false;
    }
  });

  return { el, sync, stop: follower.stop };
}

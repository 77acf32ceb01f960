// Podcasts: a card that follows a feed. Add one (the service's workers read
// the feed and fetch the episodes; the page follows that run), see what each
// card holds, check for new episodes now, change the window, and delete (its
// Yoto card goes too). The same card is rewritten in place.

import { api, listOf } from "../api.js";
import { announce, clear, confirmDialog, dialog, field, h, missing, statusLine, syncRows } from "../dom.js";
import { DONE, runFollower } from "./runs.js";

const EPISODES_MAX = 25;
const EPISODES_DEFAULT = 5;
const ORDERS = [["newest_first", "Newest first"], ["oldest_first", "Oldest first"]];
// The server's own default (PODCAST_REFRESH_HOURS) is 6 hours: the form starts there.
const INTERVALS = [[1, "Every hour"], [6, "Every 6 hours"], [12, "Every 12 hours"], [24, "Every day"], [168, "Every week"]];
const INTERVAL_DEFAULT = 6;

export async function render(root, ctx) {
  if (!ctx.features.podcasts) {
    clear(root, h("h1", {}, "Podcasts"), missing("Podcast cards need the scheduling part of this service."));
    return;
  }
  const placeholder = () => h("li", { class: "placeholder", "aria-hidden": "true" }, h("div", { class: "main" }, h("div", { class: "title" }, "\u00a0"), h("div", { class: "meta" }, "\u00a0")));
  const list = h("ul", { class: "items podcasts", "aria-label": "The family's podcasts" }, placeholder());
  const listStatus = statusLine();
  const more = h("button", { type: "button", class: "secondary more", hidden: true }, "Show more podcasts");
  const linkNote = h("div");
  const rows = new Map();
  const runs = runFollower();
  const waitForRun = runs.wait;
  let cursor = null;

  const mayChange = (p) => p.owner === ctx.me.username || ctx.me.is_admin;
  // Until its first run has read the feed, a podcast has no title of its own.
  const nameOf = (p) => p.title || hostOf(p.feed_url);

  // --- one podcast in the list ----------------------------------------------
  function podcastRow(first) {
    let p = first;
    // While this row's status line says why a check failed, the same reason is not shown twice.
    let toldWhy = false;
    const title = h("span", { class: "title" }, "");
    const meta = h("span", { class: "meta" }, "");
    const checked = h("span", { class: "meta" }, "");
    const episodes = h("ol", { class: "episodes" });
    const problem = h("p", { class: "error small reason", hidden: true });
    const status = statusLine();
    const check = h("button", { type: "button", class: "secondary", onclick: () => refresh() }, "Check now");
    const edit = h("button", { type: "button", class: "secondary", onclick: () => change() }, "Edit");
    const remove = h("button", { type: "button", class: "danger secondary", onclick: () => forget() }, "Delete");
    const actions = h("div", { class: "actions" }, check, edit, remove);
    const el = h("li", {}, h("div", { class: "main" }, title, h("br"), meta, h("br"), checked), episodes, problem, actions, status.el);

    function update(next) {
      p = next;
      const name = nameOf(p);
      title.textContent = name;
      meta.textContent = [
        `Keeps ${p.episodes} ${p.episodes === 1 ? "episode" : "episodes"}, ${orderName(p.order).toLowerCase()}`,
        intervalName(p.refresh_hours).toLowerCase(),
        p.storage === "yoto" ? "in Yoto's storage" : "streamed",
        p.yoto_card_id ? `Yoto card ${p.yoto_card_id}` : "no card yet",
        p.owner !== ctx.me.username ? `added by ${p.owner}` : null,
      ].filter(Boolean).join(" · ");
      checked.textContent = p.checked_at ? `Last checked ${when(p.checked_at)}` : "Not checked yet";
      const held = listOf(p.held);
      episodes.setAttribute("aria-label", `Episodes on the card of ${name}`);
      episodes.replaceChildren(...(held.length ? held.map((e) => h("li", {}, e.title)) : [h("li", { class: "muted" }, "No episodes on the card yet.")]));
      const run = p.last_run;
      const reason = p.status === "failed" ? p.last_error || (run && run.detail) : null;
      problem.hidden = !reason || toldWhy;
      problem.textContent = reason ? `The last check did not work: ${sentence(reason)} The card kept its episodes.` : "";
      const allowed = mayChange(p);
      actions.hidden = !allowed;
      check.setAttribute("aria-label", `Check ${name} now`);
      edit.setAttribute("aria-label", `Edit ${name}`);
      remove.setAttribute("aria-label", `Delete ${name}`);
    }

    async function refresh() {
      const before = new Set(listOf(p.held).map((e) => e.guid));
      const beforeOrder = listOf(p.held).map((e) => e.guid).join("\n");
      check.disabled = true;
      toldWhy = false;
      status.info("Checking the feed for new episodes…");
      try {
        let answer = await api(`api/podcasts/${p.id}/refresh`, { method: "POST" });
        let run = answer.last_run;
        if (run && !DONE.has(run.status)) {
          run = await waitForRun(run.id);
          if (!run) return;
          answer = await api(`api/podcasts/${p.id}`);
        }
        if (run && run.status === "failed") {
          toldWhy = true;
          update(answer);
          status.error(`The check did not work: ${sentence(run.detail || answer.last_error || "the feed could not be read")} The card kept its episodes.`);
          return;
        }
        update(answer);
        const held = listOf(answer.held);
        const added = held.filter((e) => !before.has(e.guid)).length;
        const reshaped = held.map((e) => e.guid).join("\n") !== beforeOrder;
        const said = added ? `${added} new ${added === 1 ? "episode" : "episodes"} on the card.`
          : reshaped ? `The card now holds ${held.length} ${held.length === 1 ? "episode" : "episodes"}.`
            : "No new episodes: the card is up to date.";
        status.ok(said);
      } catch (err) {
        status.error(`Not checked: ${sentence(err.message)}`);
        if (err.status === 404) load();
      } finally {
        check.disabled = false;
      }
    }

    async function change() {
      const name = h("input", { type: "text", maxlength: 100, value: p.title, required: true });
      const count = h("input", { type: "number", min: 1, max: EPISODES_MAX, step: 1, inputmode: "numeric", value: p.episodes, required: true });
      const order = orderSelect(p.order);
      const every = intervalSelect(p.refresh_hours);
      const storage = storageSelect(p.storage);
      const formStatus = statusLine();
      const save = h("button", { type: "submit" }, "Save changes");
      const saved = await dialog(`Edit “${nameOf(p)}”`, (finish) => {
        const form = h("form", { class: "stack", novalidate: true },
          field("Name on the card", name).wrap,
          field("Episodes on the card", count, `1 to ${EPISODES_MAX}.`).wrap,
          field("Order", order).wrap,
          field("Check for new episodes", every).wrap,
          field("Where the audio lives", storage).wrap,
          formStatus.el,
          h("div", { class: "row end" }, h("button", { type: "button", class: "secondary", onclick: () => finish(null) }, "Cancel"), save));
        form.addEventListener("submit", async (e) => {
          e.preventDefault();
          const n = episodeCount(count.value);
          if (!name.value.trim()) { formStatus.error("Give the card a name."); name.focus(); return; }
          if (n === null) { formStatus.error(`Choose between 1 and ${EPISODES_MAX} episodes.`); count.focus(); return; }
          const body = {};
          if (name.value.trim() !== p.title) body.title = name.value.trim();
          if (n !== p.episodes) body.episodes = n;
          if (order.value !== p.order) body.order = order.value;
          if (Number(every.value) !== p.refresh_hours) body.refresh_hours = Number(every.value);
          if (storage.value && storage.value !== p.storage) body.storage = storage.value;
          if (!Object.keys(body).length) { finish(false); return; }
          save.disabled = true;
          formStatus.info("Saving…");
          try {
            finish(await api(`api/podcasts/${p.id}`, { method: "PATCH", json: body }));
          } catch (err) {
            save.disabled = false;
            formStatus.error(err.status === 409 ? `${sentence(err.message)} Close this and try again with what is there now.` : `Not saved: ${sentence(err.message)}`);
            if (err.status === 409) load();
          }
        });
        return form;
      }, []);
      edit.focus();
      if (saved === null) return;
      toldWhy = false;
      if (saved === false) { status.info("Nothing changed."); return; }
      update(saved);
      const said = "Saved. The card follows at the next check; press Check now to change it now.";
      status.ok(said);
    }

    async function forget() {
      const gone = p.yoto_card_id ? `Its Yoto card (${p.yoto_card_id}) is deleted too: a physical card linked to it stops playing.` : "It has no Yoto card yet.";
      if (!(await confirmDialog(`Delete “${nameOf(p)}”?`, `${gone} Its episodes leave the library unless another card or playlist uses them. This cannot be undone.`, "Delete podcast"))) {
        remove.focus();
        return;
      }
      remove.disabled = true;
      status.info("Deleting…");
      try {
        await api(`api/podcasts/${p.id}`, { method: "DELETE" });
        announce(`Deleted ${nameOf(p)}`);
        listStatus.ok(p.yoto_card_id ? `Deleted “${nameOf(p)}” and its card.` : `Deleted “${nameOf(p)}”.`);
        rows.delete(p.id);
        el.remove();
        if (!rows.size) list.replaceChildren(emptyLine());
      } catch (err) {
        remove.disabled = false;
        status.error(`Not deleted: ${sentence(err.message)}`);
      }
    }

    update(first);
    return { el, update };
  }

  function emptyLine() {
    return h("li", { class: "empty" }, "No podcasts yet. Add one above: its card keeps the newest episodes by itself.");
  }

  /** The list, in place: rows that stay keep their buttons (and focus). */
  async function load(append = false) {
    try {
      const page = await api("api/podcasts", { query: { cursor: append ? cursor : null } });
      const items = listOf(page, "podcasts");
      cursor = page && page.next_cursor ? page.next_cursor : null;
      more.hidden = !cursor;
      syncRows(list, rows, items, podcastRow, { append, empty: emptyLine() });
      if (!append) listStatus.clear();
    } catch (err) {
      if (err.status === 401) return;
      if (!rows.size) list.replaceChildren();
      listStatus.error(`The podcasts could not be listed: ${sentence(err.message)}`);
    }
  }
  more.addEventListener("click", () => load(true));

  // --- adding one ---------------------------------------------------------------
  const url = h("input", { type: "url", name: "feed_url", required: true, inputmode: "url", autocomplete: "url", autocapitalize: "none", spellcheck: "false", placeholder: "https://…", maxlength: 2000 });
  const count = h("input", { type: "number", min: 1, max: EPISODES_MAX, step: 1, inputmode: "numeric", value: EPISODES_DEFAULT, required: true });
  const order = orderSelect("newest_first");
  const every = intervalSelect(INTERVAL_DEFAULT);
  const storage = storageSelect("");
  const name = h("input", { type: "text", maxlength: 100 });
  const add = h("button", { type: "submit" }, "Add podcast");
  const addStatus = statusLine();
  const form = h("form", { class: "stack", novalidate: true },
    field("Feed address", url, "The podcast's RSS or Atom address, as podcast apps use it.").wrap,
    h("div", { class: "grid2" },
      field("Episodes on the card", count, `1 to ${EPISODES_MAX}.`).wrap,
      field("Order", order, "Oldest first suits a story told in parts.").wrap),
    h("div", { class: "grid2" },
      field("Check for new episodes", every).wrap,
      field("Name on the card (optional)", name, "Leave it empty to use the podcast's own name.").wrap),
    field("Where the audio lives", storage, "Yoto's storage: uploaded once, plays offline. Streaming: fetched from this service each time.").wrap,
    h("div", { class: "row" }, add), addStatus.el);

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const address = url.value.trim();
    const n = episodeCount(count.value);
    if (!address) { addStatus.error("Type the podcast's feed address."); url.focus(); return; }
    if (!/^https?:\/\/\S+$/i.test(address)) { addStatus.error("A feed address starts with https:// (or http://)."); url.focus(); return; }
    if (n === null) { addStatus.error(`Choose between 1 and ${EPISODES_MAX} episodes.`); count.focus(); return; }
    const body = { feed_url: address, episodes: n, order: order.value, refresh_hours: Number(every.value) };
    if (name.value.trim()) body.title = name.value.trim();
    if (storage.value) body.storage = storage.value;
    add.disabled = true;
    addStatus.info("Reading the feed and fetching the episodes… this can take a little while.");
    let queued = null;
    const notAdded = (why) => addStatus.error(/link/i.test(why) ? `Not added: ${sentence(why)} Link it on the Yoto account page.` : `Not added: ${sentence(why)}`);
    try {
      let made = await api("api/podcasts", { method: "POST", json: body });
      const run = made.last_run;
      if (run && !DONE.has(run.status)) {
        // The workers read the feed and fill the card. A first run that fails leaves the
        // podcast failed: one just typed in is deleted again, so a mistyped address leaves nothing.
        queued = made;
        const done = await waitForRun(run.id);
        if (!done) return;
        if (done.status === "failed") {
          try { await api(`api/podcasts/${made.id}`, { method: "DELETE" }); } catch (err) { if (err.status !== 404) throw err; }
          notAdded(done.detail || "the feed could not be read");
          if (rows.has(made.id)) await load();
          return;
        }
        made = await api(`api/podcasts/${made.id}`);
      }
      clearForm();
      await load();
      const held = listOf(made.held).length;
      addStatus.ok(`Added “${nameOf(made)}”: ${made.yoto_card_id ? `Yoto card ${made.yoto_card_id}` : "its card"} holds ${held} ${held === 1 ? "episode" : "episodes"}. Put it on a player from the Players page.`);
    } catch (err) {
      if (err.status === 401) return;
      if (queued) addStatus.error(`“${nameOf(queued)}” is being added, but how its episodes are coming along could not be seen: ${sentence(err.message)} Look again in a moment.`);
      else notAdded(err.message);
    } finally {
      add.disabled = false;
    }
  });

  function clearForm() {
    url.value = "";
    name.value = "";
    count.value = String(EPISODES_DEFAULT);
    order.value = "newest_first";
    every.value = String(INTERVAL_DEFAULT);
  }

  async function checkLink() {
    if (!ctx.features.yoto) return;
    try {
      const s = await api("api/yoto/status");
      if (!s.linked) linkNote.replaceChildren(h("p", { class: "notice" }, "Podcast cards live in your Yoto account: ", h("a", { href: "#/yoto" }, "link the Yoto account"), " first."));
    } catch { /* adding says so itself when it fails */ }
  }

  clear(root,
    h("div", { class: "page-head" }, h("h1", {}, "Podcasts"), h("p", {}, "One card keeps a feed's newest episodes, refreshed by itself: nobody makes a new card")),
    linkNote,
    h("section", { class: "panel", "aria-labelledby": "pod-add-h" }, h("h2", { id: "pod-add-h" }, "Add a podcast"), form),
    h("section", { class: "panel", "aria-labelledby": "pod-list-h" }, h("h2", { id: "pod-list-h" }, "The family's podcasts"), list, more, listStatus.el));
  await Promise.all([load(), checkLink()]);
  return () => runs.stop();
}

/** "feeds.example.com" for a feed's address (what a podcast is called before its feed is read). */
function hostOf(url) {
  try {
    return new URL(url).host || url;
  } catch {
    return url;
  }
}

function storageSelect(value) {
  const select = h("select", {},
    ...(value ? [] : [h("option", { value: "" }, "This install's default")]),
    h("option", { value: "yoto" }, "Keep it in Yoto's storage (plays offline)"),
    h("option", { value: "stream" }, "Stream it from this service"));
  select.value = value || "";
  return select;
}

function orderSelect(value) {
  const select = h("select", {}, ORDERS.map(([v, label]) => h("option", { value: v }, label)));
  select.value = value;
  return select;
}

/** The intervals offered, plus the podcast's own when it is another one (set through the API). */
function intervalSelect(hours) {
  const choices = INTERVALS.some(([v]) => v === hours) ? INTERVALS : [...INTERVALS, [hours, intervalName(hours)]].sort((a, b) => a[0] - b[0]);
  const select = h("select", {}, choices.map(([v, label]) => h("option", { value: String(v) }, label)));
  select.value = String(hours);
  return select;
}

function orderName(order) {
  return (ORDERS.find(([v]) => v === order) || [null, "Newest first"])[1];
}

function intervalName(hours) {
  const known = INTERVALS.find(([v]) => v === hours);
  if (known) return known[1];
  if (hours < 1) return `Every ${Math.round(hours * 60)} minutes`;
  if (hours % 24 === 0) return `Every ${hours / 24} days`;
  return `Every ${Number(hours.toFixed(2))} hours`;
}

/** A whole number of episodes in range, or null. */
function episodeCount(text) {
  const n = Number(String(text).trim());
  return Number.isInteger(n) && n >= 1 && n <= EPISODES_MAX ? n : null;
}

/** The service's reasons are lower-case fragments: a sentence reads better next to ours. */
function sentence(text) {
  const s = String(text || "").trim();
  if (!s) return "";
  const first = s[0].toUpperCase() + s.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

/** "5 minutes ago" for today, the local date and time before that. */
function when(iso) {
  const date = new Date(iso);
  const seconds = (date.getTime() - Date.now()) / 1000;
  if (!Number.isFinite(seconds)) return "";
  if (Math.abs(seconds) < 45) return "just now";
  const rtf = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  if (Math.abs(seconds) < 3600) return rtf.format(Math.round(seconds / 60), "minute");
  if (Math.abs(seconds) < 86400) return rtf.format(Math.round(seconds / 3600), "hour");
  return `on ${date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" })}`;
}

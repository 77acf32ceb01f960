// Account: who you are, changing your own password, and personal access tokens
// for scripts and assistants (made, shown once, listed, revoked).

import { api } from "../api.js";
import { checkbox, clear, confirmDialog, field, h, statusLine } from "../dom.js";

const SCOPES = [
  ["read", "Read the library, cards, playlists and players"],
  ["cards", "Change the library, cards and playlists"],
  ["players", "Send commands to players"],
];

export async function render(root, ctx) {
  const current = h("input", { type: "password", autocomplete: "current-password" });
  const next = h("input", { type: "password", autocomplete: "new-password", minlength: 12 });
  const status = statusLine();
  const form = h("form", { class: "stack", novalidate: true },
    h("input", { type: "text", name: "username", autocomplete: "username", value: ctx.me.username, hidden: true, "aria-hidden": "true", tabindex: "-1" }),
    field("Current password", current).wrap,
    field("New password", next, "At least 12 characters. Your other devices are signed out.").wrap,
    h("button", { type: "submit" }, "Change password"), status.el);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (next.value.length < 12) { status.error("The new password needs at least 12 characters."); return; }
    try {
      await api("api/auth/password", { method: "POST", json: { current_password: current.value, new_password: next.value } });
      form.reset();
      status.ok("Password changed. Other devices will ask you to sign in again.");
    } catch (err) {
      status.error(err.status === 401 ? "Your session ended; sign in and try again." : err.message);
    }
  });
  clear(root,
    h("div", { class: "page-head" }, h("h1", {}, "Account"), h("p", {}, `Signed in as ${ctx.me.username}${ctx.me.is_admin ? " (admin)" : ""}`)),
    h("section", { class: "panel", "aria-labelledby": "pw-h" }, h("h2", { id: "pw-h" }, "Change your password"), form),
    tokensPanel());
}

// --- personal access tokens ---------------------------------------------------

function tokensPanel() {
  const list = h("ul", { class: "items", "aria-label": "Your tokens" });
  const listStatus = statusLine();
  const name = h("input", { type: "text", autocomplete: "off", maxlength: 100 });
  const scopes = SCOPES.map(([scope, label]) => ({ scope, box: checkbox(label, scope === "read") }));
  const days = h("select", {}, ...[[7, "7 days"], [30, "30 days"], [90, "90 days"], [365, "A year"]].map(([v, t]) => h("option", { value: String(v), selected: v === 90 }, t)));
  const makeStatus = statusLine();
  const secret = h("div", { class: "stack", hidden: true });
  const form = h("form", { class: "stack", novalidate: true },
    field("Token name", name, "What will use it, e.g. \u201cbedtime assistant\u201d.").wrap,
    h("fieldset", { class: "stack" }, h("legend", {}, "It may"), ...scopes.map((s) => s.box.wrap)),
    field("Expires after", days).wrap,
    h("button", { type: "submit" }, "Make token"), makeStatus.el, secret);

  function showSecret(made) {
    const value = h("input", { type: "text", readonly: true, value: made.token, spellcheck: "false" });
    const copy = h("button", { type: "button", class: "secondary", onclick: async () => {
      try { await navigator.clipboard.writeText(made.token); copy.textContent = "Copied"; } catch { value.select(); }
    } }, "Copy");
    secret.replaceChildren(
      field(`The token \u201c${made.name}\u201d`, value, "Shown this once: copy it now. Send it as Authorization: Bearer \u2026 (or YSS_TOKEN for python -m app mcp).").wrap,
      h("div", { class: "row" }, copy));
    secret.hidden = false;
    value.focus();
    value.select();
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    secret.hidden = true;
    secret.replaceChildren();
    const chosen = scopes.filter((s) => s.box.input.checked).map((s) => s.scope);
    if (!name.value.trim()) { makeStatus.error("Give the token a name."); return; }
    if (!chosen.length) { makeStatus.error("Choose at least one thing it may do."); return; }
    try {
      const made = await api("api/tokens", { method: "POST", json: { name: name.value.trim(), scopes: chosen, expires_days: Number(days.value) } });
      makeStatus.ok(`Made \u201c${made.name}\u201d.`);
      name.value = "";
      showSecret(made);
      await load(made);
    } catch (err) {
      makeStatus.error(err.message);
    }
  });

  function row(token) {
    const status = h("span", { class: "meta", role: "status" });
    const expired = new Date(token.expires_at) <= new Date();
    return h("li", {},
      h("div", { class: "main" },
        h("span", { class: "title" }, token.name), h("br"),
        h("span", { class: "meta" }, ...token.scopes.flatMap((s) => [h("span", { class: "badge on" }, s), " "]),
          expired ? h("span", { class: "badge off" }, "Expired") : `expires ${new Date(token.expires_at).toLocaleDateString()}`,
          ` \u00b7 made ${new Date(token.created_at).toLocaleDateString()}`),
        h("br"), status),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "danger secondary", "aria-label": `Revoke ${token.name}`, onclick: () => revoke(token, status) }, "Revoke")));
  }

  async function revoke(token, status) {
    const ok = await confirmDialog(`Revoke \u201c${token.name}\u201d?`, "Whatever uses it is refused from its next request.", "Revoke token");
    if (!ok) return;
    try {
      await api(`api/tokens/${encodeURIComponent(token.id)}`, { method: "DELETE" });
      await load();
      listStatus.ok(`Revoked \u201c${token.name}\u201d.`);
    } catch (err) {
      status.textContent = err.message;
    }
  }

  async function load(made) {
    try {
      const tokens = await api("api/tokens");
      // A token made a moment ago may not be listed yet where the list is eventually consistent.
      if (made && !tokens.some((t) => t.id === made.id)) tokens.unshift(made);
      list.replaceChildren(...tokens.map(row));
      if (!tokens.length) list.append(h("li", { class: "empty" }, "No tokens yet."));
      listStatus.clear();
    } catch (err) {
      listStatus.error(`Your tokens could not be listed: ${err.message}`);
    }
  }

  load();
  return h("section", { class: "panel", "aria-labelledby": "tok-h" },
    h("h2", { id: "tok-h" }, "Personal access tokens"),
    h("p", {}, "For scripts and assistants (the MCP server at /mcp): a token acts as you, limited to what you tick here."),
    form, h("h3", {}, "Your tokens"), list, listStatus.el);
}

// Family (admins): add members, disable or enable them, reset a password,
// make or unmake an admin, delete (their audio passed to you or deleted).

import { api } from "../api.js";
import { checkbox, clear, dialog, field, h, nextId, statusLine } from "../dom.js";

const MIN_PASSWORD = 12;

export async function render(root, ctx) {
  const list = h("ul", { class: "items", "aria-label": "Family members" }, h("li", { class: "placeholder", "aria-hidden": "true" }, h("div", { class: "main" }, h("div", { class: "title" }, "\u00a0"), h("div", { class: "meta" }, "\u00a0"))));
  const listStatus = statusLine();

  async function load() {
    try {
      const people = await api("api/users");
      list.replaceChildren(...people.map(row));
      listStatus.clear();
    } catch (err) {
      listStatus.error(`The family could not be listed: ${err.message}`);
    }
  }

  function row(user) {
    const self = user.username === ctx.me.username;
    const status = h("span", { class: "meta", role: "status" });
    const act = (label, aria, fn, cls = "secondary") => h("button", { type: "button", class: cls, "aria-label": `${aria} ${user.username}`, onclick: () => fn(user, status) }, label);
    return h("li", {},
      h("div", { class: "main" },
        h("span", { class: "title" }, user.username, self ? " (you)" : ""), h("br"),
        h("span", { class: "meta" },
          h("span", { class: user.is_admin ? "badge on" : "badge" }, user.is_admin ? "Admin" : "Member"), " ",
          h("span", { class: user.disabled ? "badge off" : "badge on" }, user.disabled ? "Disabled" : "Active"),
          ` · since ${new Date(user.created_at).toLocaleDateString()}`),
        h("br"), status),
      h("div", { class: "actions" },
        self ? null : act(user.disabled ? "Enable" : "Disable", user.disabled ? "Enable" : "Disable", toggleDisabled),
        act("Reset password", "Reset password of", resetPassword),
        self ? null : act(user.is_admin ? "Remove admin" : "Make admin", user.is_admin ? "Remove admin rights of" : "Make admin", toggleAdmin),
        self ? null : act("Delete", "Delete", remove, "danger secondary")));
  }

  async function patch(user, status, body, done) {
    try {
      await api(`api/users/${encodeURIComponent(user.username)}`, { method: "PATCH", json: body });
      await load();
      const again = [...list.querySelectorAll("li")].find((li) => li.textContent.startsWith(user.username));
      const msg = again && again.querySelector("[role=status]");
      if (msg) msg.textContent = done;
    } catch (err) {
      status.textContent = err.message;
    }
  }

  const toggleDisabled = (user, status) => patch(user, status, { disabled: !user.disabled }, user.disabled ? "Enabled: can sign in again." : "Disabled: signed out and cannot sign in.");
  const toggleAdmin = (user, status) => patch(user, status, { is_admin: !user.is_admin }, user.is_admin ? "Now a member." : "Now an admin.");

  async function resetPassword(user, status) {
    const input = h("input", { type: "password", autocomplete: "new-password", minlength: MIN_PASSWORD });
    const body = h("div", {}, field(`New password for ${user.username}`, input, `At least ${MIN_PASSWORD} characters. They are signed out everywhere and use this one next time.`).wrap);
    const value = await dialogWithFocus(`Reset ${user.username}'s password`, body, input, "Set password");
    if (!value) return;
    if (input.value.length < MIN_PASSWORD) { status.textContent = `Not changed: the password needs at least ${MIN_PASSWORD} characters.`; return; }
    await patch(user, status, { password: input.value }, "Password changed; signed out everywhere.");
  }

  async function remove(user, status) {
    const name = nextId("items");
    const reassign = h("input", { type: "radio", name, value: "reassign", checked: true });
    const del = h("input", { type: "radio", name, value: "delete" });
    const body = h("fieldset", { class: "stack" },
      h("legend", {}, `What happens to ${user.username}'s audio?`),
      h("label", { class: "check" }, reassign, "Keep it: it becomes mine"),
      h("label", { class: "check" }, del, "Delete it too"));
    const ok = await dialogWithFocus(`Delete ${user.username}?`, body, reassign, "Delete member", "danger");
    if (!ok) return;
    try {
      await api(`api/users/${encodeURIComponent(user.username)}`, { method: "DELETE", query: { items: del.checked ? "delete" : "reassign" } });
      await load();
      form.querySelector("input").focus();
    } catch (err) {
      status.textContent = err.message;
    }
  }

  // --- add a member --------------------------------------------------------
  const username = h("input", { type: "text", autocomplete: "off", autocapitalize: "none", spellcheck: "false", maxlength: 64, pattern: "[A-Za-z0-9][A-Za-z0-9._-]*" });
  const password = h("input", { type: "password", autocomplete: "new-password", minlength: MIN_PASSWORD });
  const admin = checkbox("Can manage the family (admin)");
  const addStatus = statusLine();
  const form = h("form", { class: "stack", novalidate: true },
    h("div", { class: "grid2" },
      field("New member's username", username, "Letters, digits, dot, dash or underscore.").wrap,
      field("Their password", password, `At least ${MIN_PASSWORD} characters; tell it to them in person.`).wrap),
    admin.wrap,
    h("button", { type: "submit" }, "Add member"), addStatus.el);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!username.value.trim()) { addStatus.error("Give the new member a username."); return; }
    if (password.value.length < MIN_PASSWORD) { addStatus.error(`The password needs at least ${MIN_PASSWORD} characters.`); return; }
    try {
      const made = await api("api/users", { method: "POST", json: { username: username.value.trim(), password: password.value, is_admin: admin.input.checked } });
      addStatus.ok(`Added ${made.username}. They can sign in now.`);
      form.reset();
      await load();
    } catch (err) {
      addStatus.error(err.message);
    }
  });

  clear(root,
    h("div", { class: "page-head" }, h("h1", {}, "Family"), h("p", {}, "Who can sign in and what they may do")),
    h("section", { class: "panel", "aria-labelledby": "add-m" }, h("h2", { id: "add-m" }, "Add a family member"), form),
    h("section", { class: "panel family", "aria-labelledby": "mem-h" }, h("h2", { id: "mem-h" }, "Members"), list, listStatus.el),
    h("section", { class: "panel", "aria-labelledby": "set-h" }, h("h2", { id: "set-h" }, "Settings"),
      h("p", {}, "Storage quota, text-to-speech allowance and Yoto settings are set where the service runs (see the README). Your own password is under ",
        h("a", { href: "#/account" }, "Account"), ".")));
  await load();
}

async function dialogWithFocus(title, body, focusEl, confirmLabel, cls = "") {
  const promise = dialog(title, body, [{ label: "Cancel", value: false, class: "secondary" }, { label: confirmLabel, value: true, class: cls }]);
  focusEl.focus();
  return (await promise) === true;
}

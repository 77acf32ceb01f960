// Account: who you are, and changing your own password.

import { api } from "../api.js";
import { clear, field, h, statusLine } from "../dom.js";

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
    h("section", { class: "panel", "aria-labelledby": "pw-h" }, h("h2", { id: "pw-h" }, "Change your password"), form));
}

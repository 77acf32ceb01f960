// Yoto account: link (the PKCE redirect, or a code typed on another device
// as the fallback), status, unlink.

import { api, apiUrl } from "../api.js";
import { clear, confirmDialog, h, missing, statusLine } from "../dom.js";

// What `/?yoto=error&reason=CODE` may say (app/routers/yoto.py REASONS). The
// address bar is anyone's to write, so any other text is never shown.
const REASONS = {
  access_denied: "the Yoto login was cancelled or not approved",
  invalid_request: "Yoto refused the login request",
  invalid_scope: "Yoto refused the permissions this service asks for",
  unauthorized_client: "Yoto does not let this service log in that way (check its app settings)",
  unsupported_response_type: "Yoto does not let this service log in that way (check its app settings)",
  server_error: "Yoto had a problem",
  temporarily_unavailable: "Yoto is busy or down for a moment",
  login_required: "you were not logged in to Yoto",
  consent_required: "the permissions were not approved",
  interaction_required: "Yoto needed more from you than the login page allowed",
  no_code: "Yoto sent no login code",
  failed: "Yoto did not say why",
};

/** The words for a callback reason code; unknown text gets the generic words. */
export function reasonText(code) {
  return Object.hasOwn(REASONS, code) ? REASONS[code] : REASONS.failed;
}

export async function render(root, ctx) {
  if (!ctx.features.yoto) {
    clear(root, h("h1", {}, "Yoto account"), missing("Linking a Yoto account needs the Yoto part of this service."));
    return;
  }
  const body = h("div", { class: "panel", "aria-live": "polite" }, h("p", { class: "muted" }, "Checking the link…"));
  const status = statusLine();
  let polling = null;

  function stopPolling() {
    if (polling) window.clearTimeout(polling);
    polling = null;
  }

  async function show() {
    stopPolling();
    let state;
    try {
      state = await api("api/yoto/status");
    } catch (err) {
      clear(body, h("p", { class: "error" }, `The link could not be checked: ${err.message}`));
      return;
    }
    if (state.linked) {
      const facts = [];
      for (const [key, label] of [["linked_at", "Linked"], ["access_expires_at", "Access renews by itself after"]]) {
        if (state[key]) facts.push(h("li", {}, `${label}: ${key.endsWith("_at") ? new Date(state[key]).toLocaleString() : state[key]}`));
      }
      const unlink = h("button", { type: "button", class: "danger secondary" }, "Unlink Yoto account");
      unlink.addEventListener("click", async () => {
        if (!(await confirmDialog("Unlink the Yoto account?", "This service forgets its access to your Yoto account. Cards already made keep working on the players; to change them or see the players, link again.", "Unlink"))) return;
        try {
          await api("api/yoto/link", { method: "DELETE" });
          status.ok("Unlinked. The service no longer has access to your Yoto account.");
          await show();
        } catch (err) {
          status.error(err.message);
        }
      });
      clear(body, h("h2", {}, "Linked"), h("p", { class: "ok" }, "Your Yoto account is linked: cards and players work."), facts.length ? h("ul", {}, facts) : null, unlink);
      return;
    }
    const link = h("a", { class: "button", href: apiUrl("api/yoto/login") }, "Link Yoto account");
    const codeButton = h("button", { type: "button", class: "secondary" }, "Use a code instead");
    const codeArea = h("div", { class: "stack" });
    codeButton.addEventListener("click", () => deviceLogin(codeArea, codeButton));
    clear(body,
      h("h2", {}, "Not linked yet"),
      h("p", {}, "Link the family's Yoto account so this service can make cards and see and control the players. You sign in on Yoto's own page and come straight back here."),
      h("div", { class: "row" }, link, ctx.features.yoto_device_login ? codeButton : null),
      codeArea);
  }

  async function deviceLogin(area, button) {
    button.disabled = true;
    let start;
    try {
      start = await api("api/yoto/device-login", { method: "POST" });
    } catch (err) {
      button.disabled = false;
      clear(area, h("p", { class: "error" }, `No code could be had: ${err.message}`));
      return;
    }
    const deadline = Date.now() + (start.expires_in || 900) * 1000;
    const wait = h("p", { class: "muted", role: "status" }, "Waiting for you to approve it on Yoto's page…");
    clear(area,
      h("p", {}, "On your phone or another computer, open this link and enter the code:"),
      h("p", {}, h("a", { href: start.verification_uri_complete || start.verification_uri, target: "_blank", rel: "noopener noreferrer" }, start.verification_uri)),
      h("p", {}, h("span", { class: "user-code", "aria-label": `Code ${start.user_code.split("").join(" ")}` }, start.user_code)),
      h("p", { class: "small muted" }, `The code works for ${Math.round((start.expires_in || 900) / 60)} minutes.`),
      wait);
    let interval = Math.max(1, start.interval || 5);
    const poll = async () => {
      try {
        const r = await api("api/yoto/device-login/poll", { method: "POST" });
        if (r.status === "linked") { status.ok("Linked. Welcome!"); await show(); return; }
        if (r.status === "expired" || Date.now() > deadline) {
          clear(area, h("p", { class: "error" }, `The code expired before it was approved${r.detail ? ` (${r.detail})` : ""}. Ask for a new one.`));
          button.disabled = false;
          return;
        }
        if (r.interval) interval = Math.max(1, r.interval);
      } catch (err) {
        if (err.status === 401) return;
        wait.textContent = `Still waiting (the last check failed: ${err.message})`;
      }
      polling = window.setTimeout(poll, interval * 1000);
    };
    polling = window.setTimeout(poll, interval * 1000);
  }

  const back = ctx.yotoResult;
  ctx.yotoResult = null;
  if (back && back.result === "linked") status.ok("Your Yoto account is linked.");
  else if (back) status.error(`Linking did not work: ${reasonText(back.reason)}. Try again, or use a code instead.`);

  clear(root, h("div", { class: "page-head" }, h("h1", {}, "Yoto account"), h("p", {}, "The link between this service and Yoto")), status.el, body);
  await show();
  return stopPolling;
}

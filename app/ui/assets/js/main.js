// The shell: who is signed in, the main navigation, hash routes (#/library …),
// and the sign-in form that any 401 brings back, returning to the same page.

import { api, ApiError, setUnauthorizedHandler } from "./api.js";
import { announce, clear, field, h, statusLine } from "./dom.js";

const PAGES = [
  { route: "library", label: "Library", load: () => import("./pages/library.js") },
  { route: "cards", label: "Cards", load: () => import("./pages/cards.js") },
  { route: "playlists", label: "Playlists", load: () => import("./pages/playlists.js") },
  { route: "players", label: "Players", load: () => import("./pages/players.js") },
  { route: "podcasts", label: "Podcasts", feature: "podcasts", load: () => import("./pages/podcasts.js") },
  { route: "routines", label: "Routines", feature: "routines", load: () => import("./pages/routines.js") },
  { route: "stories", label: "Stories", feature: "stories", load: () => import("./pages/stories.js") },
  { route: "yoto", label: "Yoto account", load: () => import("./pages/yoto.js") },
  { route: "family", label: "Family", admin: true, load: () => import("./pages/family.js") },
];
const HIDDEN = [{ route: "account", label: "Account", load: () => import("./pages/account.js") }];

const main = document.getElementById("main");
const ctx = { me: null, features: {} };
let cleanup = null;
let signingIn = null;
let rendered = false;

function currentRoute() {
  const name = (location.hash.replace(/^#\/?/, "").split(/[/?]/)[0] || "library").toLowerCase();
  return [...visiblePages(), ...HIDDEN].find((p) => p.route === name) || null;
}

function visiblePages() {
  return PAGES.filter((p) => (!p.admin || (ctx.me && ctx.me.is_admin)) && (!p.feature || ctx.features[p.feature]));
}

function renderNav() {
  const list = document.getElementById("nav-list");
  const current = currentRoute();
  clear(list, visiblePages().map((p) => h("li", {}, h("a", {
    href: `#/${p.route}`,
    "aria-current": current && current.route === p.route ? "page" : false,
  }, p.label))));
  document.getElementById("nav").hidden = false;
  const who = document.getElementById("who");
  who.hidden = false;
  const name = document.getElementById("who-name");
  name.textContent = ctx.me.username;
  name.setAttribute("aria-label", `Account of ${ctx.me.username}`);
}

async function route() {
  if (signingIn) return;
  if (cleanup) { try { cleanup(); } catch { /* a page's own tidy-up never blocks the next */ } cleanup = null; }
  let page = currentRoute();
  if (!page) {
    location.replace("#/library");
    return;
  }
  renderNav();
  document.title = `${page.label} · Smart Stream`;
  const root = h("div", { class: `page page-${page.route}` });
  clear(main, root);
  main.setAttribute("aria-busy", "true");
  try {
    const mod = await page.load();
    if (currentRoute() !== page) return;
    // A page draws its frame at once and fills it in as data arrives; the
    // heading gets focus when the frame is there, before anyone could have
    // started typing somewhere else on the page.
    const pending = mod.render(root, ctx, page);
    focusHeading(root);
    cleanup = (await pending) || null;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    clear(root, h("h1", {}, page.label), h("p", { class: "notice error", role: "alert" }, `This page could not be shown: ${err.message || err}`));
  } finally {
    if (root.isConnected) main.setAttribute("aria-busy", "false");
  }
  rendered = true;
}

/** After a move to another page (not on the first load), focus goes to its heading, for screen readers. */
function focusHeading(root) {
  if (!rendered) return;
  const heading = root.querySelector("h1");
  if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); }
  window.scrollTo(0, 0);
}

/** Show the sign-in form in place of the page; resolves once signed in. */
function signIn(reason) {
  if (signingIn) return signingIn;
  if (cleanup) { try { cleanup(); } catch { /* ignore */ } cleanup = null; }
  document.getElementById("nav").hidden = true;
  document.getElementById("who").hidden = true;
  document.title = "Sign in · Smart Stream";
  signingIn = new Promise((resolve) => {
    const username = field("Username", h("input", { type: "text", name: "username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" }));
    const password = field("Password", h("input", { type: "password", name: "password", autocomplete: "current-password", required: true }));
    const status = statusLine();
    const hint = h("div", { class: "first-run" });
    const button = h("button", { type: "submit" }, "Sign in");
    const form = h("form", { class: "panel signin", novalidate: true },
      h("h1", {}, "Sign in"),
      reason ? h("p", { class: "notice" }, reason) : null,
      username.wrap, password.wrap, button, status.el, hint);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!username.input.value.trim() || !password.input.value) {
        status.error("Type your username and password.");
        return;
      }
      button.disabled = true;
      status.info("Signing in…");
      try {
        ctx.me = await api("api/auth/login", { method: "POST", json: { username: username.input.value.trim(), password: password.input.value }, skipAuth: true });
        status.clear();
        signingIn = null;
        resolve(ctx.me);
        announce(`Signed in as ${ctx.me.username}`);
        rendered = false;
        route();
      } catch (err) {
        button.disabled = false;
        status.error(err.status === 401 ? "That username and password do not match. Check them and try again." : err.message);
        password.input.select();
      }
    });
    clear(main, form);
    username.input.focus();
    api("api/ui/first-run", { skipAuth: true }).then((r) => {
      if (r && !r.admin_exists) {
        hint.replaceChildren(h("div", { class: "notice" },
          h("p", {}, h("strong", {}, "First time here? "), "Nobody can sign in yet: the first grown-up account has to be made on the computer that runs this service. Whoever set it up types this there:"),
          h("p", {}, h("code", {}, "python -m app create-user NAME --admin --password-stdin")),
          h("p", { class: "small" }, "It asks for a password of at least 12 characters. Then sign in here with that name and password, and add the rest of the family under Family.")));
      }
    }).catch(() => { /* the hint is a nicety; the form works without it */ });
  });
  return signingIn;
}

setUnauthorizedHandler(() => {
  ctx.me = null;
  signIn("Your session has ended. Sign in again to carry on where you were.");
});

document.getElementById("sign-out").addEventListener("click", async () => {
  try { await api("api/auth/logout", { method: "POST", skipAuth: true }); } catch { /* signing out locally anyway */ }
  ctx.me = null;
  signIn("You have signed out.");
});

window.addEventListener("hashchange", () => route());

async function boot() {
  const features = api("api/ui/features", { skipAuth: true }).then((r) => r.features).catch(() => ({}));
  let session;
  try {
    session = await api("api/ui/session", { skipAuth: true });
  } catch (err) {
    clear(main, h("p", { class: "notice error", role: "alert" }, `The service cannot be reached right now: ${err.message}`));
    return;
  }
  ctx.features = await features;
  ctx.me = session.user;
  // Yoto's login sends the browser back to /?yoto=linked (or =error&reason=…): show that on the Yoto page.
  const back = new URLSearchParams(location.search);
  if (back.has("yoto")) {
    ctx.yotoResult = { result: back.get("yoto"), reason: back.get("reason") };
    history.replaceState(null, "", `${location.pathname}#/yoto`);
  }
  if (ctx.me) route();
  else signIn();
}

boot();

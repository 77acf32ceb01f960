// Podcasts and Routines: the navigation shows them once the server has their
// API; until their own pages exist this says so instead of a blank page.

import { clear, h } from "../dom.js";

export async function render(root, _ctx, page) {
  clear(root, h("h1", {}, page.label),
    h("p", { class: "notice" }, `The server has ${page.label.toLowerCase()} now, but this page for them is still being built. Use the API at /api/docs meanwhile.`));
}

// Page-side checks for tests/ui/test_quality.py, evaluated by Playwright
// (through the DevTools protocol, so the page's CSP does not apply).
window.__qa = {
  // Everything Tab can reach, in document order, as ids the test compares.
  tabbable() {
    const sel = "a[href], button, input, select, textarea, summary, [tabindex]";
    return [...document.querySelectorAll(sel)].filter((el) => {
      if (el.tabIndex < 0 || el.disabled || el.closest("[hidden], [inert]")) return false;
      if (el.tagName === "INPUT" && el.type === "hidden") return false;
      const r = el.getBoundingClientRect();
      const shown = (r.width > 0 && r.height > 0) || el.closest(".drop");
      if (!shown || getComputedStyle(el).visibility === "hidden") return false;
      if (el.tagName !== "SUMMARY" && el.closest("details:not([open])") && !el.closest("summary")) return false;
      return true;
    }).map((el) => el.dataset.qa || (el.dataset.qa = String(Math.random()).slice(2)));
  },

  // What has focus now, and whether a focus ring shows on it (or its label).
  focused() {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const s = getComputedStyle(el);
    const ring = (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2) || s.boxShadow !== "none";
    const label = el.closest("label");
    const ringOnLabel = Boolean(label) && getComputedStyle(label).outlineStyle !== "none";
    const text = (el.textContent || el.getAttribute("aria-label") || "").trim().slice(0, 40);
    return { qa: el.dataset.qa || null, ring: ring || ringOnLabel, tag: el.tagName, text };
  },

  // Controls smaller than 44 × 44 CSS px (a checkbox or file input counts its label; links inside prose are exempt).
  smallTargets() {
    const out = [];
    for (const el of document.querySelectorAll("a[href], button, input, select, textarea, summary")) {
      if (el.closest("[hidden]") || (el.tagName === "A" && el.closest("p"))) continue;
      let box = el.getBoundingClientRect();
      if (["checkbox", "radio", "file"].includes(el.type) && el.closest("label")) box = el.closest("label").getBoundingClientRect();
      if (!box.width || !box.height) continue;
      if (box.height < 43.5 || box.width < 43.5) {
        const name = (el.textContent || el.getAttribute("aria-label") || el.id).trim().slice(0, 30);
        out.push(`${el.tagName} "${name}" ${Math.round(box.width)}x${Math.round(box.height)}`);
      }
    }
    return out;
  },

  // Text below WCAG AA contrast against the background it sits on.
  lowContrast() {
    const parse = (c) => { const m = c.match(/[\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 0]; };
    const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    const lum = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    const background = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c.length < 4 || c[3] > 0.5) return c;
      }
      return parse(getComputedStyle(document.documentElement).backgroundColor);
    };
    const bad = [];
    const seen = new Set();
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!n.textContent.trim() || seen.has(el)) continue;
      seen.add(el);
      if (el.closest("[hidden], [aria-hidden='true'], .visually-hidden, button:disabled, option, noscript")) continue;
      const r = el.getBoundingClientRect();
      const s = getComputedStyle(el);
      if (!r.width || !r.height || s.visibility === "hidden" || parseFloat(s.opacity) === 0) continue;
      const fg = lum(parse(s.color));
      const bg = lum(background(el));
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      const size = parseFloat(s.fontSize);
      const need = size >= 24 || (Number(s.fontWeight) >= 700 && size >= 18.66) ? 3 : 4.5;
      if (ratio < need) bad.push(`"${n.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)} < ${need}`);
    }
    return bad;
  },

  // Layout shift since the page started (no recent input), once `watchShifts` ran first.
  watchShifts() {
    window.__cls = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (!e.hadRecentInput) window.__cls += e.value;
    }).observe({ type: "layout-shift", buffered: true });
  },

  // Bytes transferred for the page's HTML and its JS/CSS files, and the layout shift so far.
  firstLoad() {
    const nav = performance.getEntriesByType("navigation")[0];
    const files = performance.getEntriesByType("resource").filter((r) => /\.(js|css)(\?|$)/.test(r.name));
    const named = files.map((r) => [new URL(r.name).pathname, r.transferSize]);
    return { html: nav.transferSize, files: named, cls: window.__cls };
  },
};

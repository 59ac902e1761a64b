/* Bands as DAIDALUS displays them: a compass rose of track bands, vertical bars for
 * ground speed, vertical speed and altitude; each range coloured by its alert level, the
 * current value as a white needle or tick, the preferred resolution as a marked triangle.
 * render(advisory, colours) returns SVG markup for GET /advisories/{id}. */
"use strict";

window.skyBands = (function () {
  const NAMES = { track: "Track", gs: "Ground speed", vs: "Vertical speed", alt: "Altitude" };
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;",
    ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const colour = (cols, lv) => cols[lv] || (lv === "NONE" ? cols.none : "#9aa7b8");

  function polar(cx, cy, r, deg) {
    const a = (deg - 90) * Math.PI / 180;
    return [cx + r * Math.cos(a), cy + r * Math.sin(a)];
  }
  function arc(cx, cy, r, lo, hi) {
    const span = ((hi - lo) % 360 + 360) % 360 || (hi > lo ? 360 : 0);
    if (span >= 359.99) {
      return `M ${cx} ${cy - r} A ${r} ${r} 0 1 1 ${cx - 0.01} ${cy - r}`;
    }
    const [x1, y1] = polar(cx, cy, r, lo), [x2, y2] = polar(cx, cy, r, lo + span);
    return `M ${x1.toFixed(2)} ${y1.toFixed(2)} A ${r} ${r} 0 ${span > 180 ? 1 : 0} 1 ${x2.toFixed(2)} ${y2.toFixed(2)}`;
  }

  function rose(b, res, cols) {
    const cx = 110, cy = 110, r = 80;
    let s = `<svg role="img" aria-label="Track bands: current ${Math.round(b.current)} degrees` +
      (res && res.value != null ? `, preferred ${Math.round(res.value)} degrees` : "") +
      `" width="220" height="230" viewBox="0 0 220 230" class="rose">`;
    s += `<circle cx="${cx}" cy="${cy}" r="${r}" fill="none" stroke="#34475f" stroke-width="14"/>`;
    for (const g of b.ranges) {
      s += `<path d="${arc(cx, cy, r, g.lo, g.hi)}" fill="none" stroke="${colour(cols, g.level)}" ` +
        `stroke-width="14"${g.level === "NONE" ? ' stroke-opacity="0.55"' : ""}><title>${esc(g.level)} ` +
        `${Math.round(g.lo)}–${Math.round(g.hi)}°</title></path>`;
    }
    for (let d = 0; d < 360; d += 30) {
      const [x1, y1] = polar(cx, cy, r - 10, d), [x2, y2] = polar(cx, cy, r - 16, d);
      s += `<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="#b4c0cf"/>`;
      const [tx, ty] = polar(cx, cy, r - 27, d);
      const lab = { 0: "N", 90: "E", 180: "S", 270: "W" }[d] || String(d / 10);
      s += `<text x="${tx}" y="${ty + 4}" text-anchor="middle">${lab}</text>`;
    }
    const [nx, ny] = polar(cx, cy, r + 4, b.current);
    s += `<line x1="${cx}" y1="${cy}" x2="${nx}" y2="${ny}" stroke="#ffffff" stroke-width="2.5"/>`;
    if (res && res.value != null) {
      const [p1x, p1y] = polar(cx, cy, r + 9, res.value);
      const [p2x, p2y] = polar(cx, cy, r + 20, res.value - 5);
      const [p3x, p3y] = polar(cx, cy, r + 20, res.value + 5);
      s += `<polygon class="resolution" points="${p1x},${p1y} ${p2x},${p2y} ${p3x},${p3y}" fill="#6fdc8c" stroke="#0c1118"/>`;
    }
    s += `<text x="${cx}" y="222" text-anchor="middle">${NAMES.track}: ${Math.round(b.current)}° ` +
      `(${esc(b.current_level)})${res && res.value != null ? ` → ${Math.round(res.value)}°` : ""}</text></svg>`;
    return s;
  }

  function bar(dim, b, res, cols) {
    const x = 30, w = 26, top = 12, h = 180;
    let lo = Math.min(...b.ranges.map((g) => g.lo), b.current);
    let hi = Math.max(...b.ranges.map((g) => g.hi), b.current);
    if (!(hi > lo)) { lo -= 1; hi += 1; }
    const y = (v) => top + h - ((v - lo) / (hi - lo)) * h;
    let s = `<svg role="img" aria-label="${NAMES[dim] || dim} bands: current ${Math.round(b.current)} ${esc(b.unit)}` +
      (res && res.value != null ? `, preferred ${Math.round(res.value)}` : "") +
      `" width="92" height="230" viewBox="0 0 92 230" class="bar">`;
    for (const g of b.ranges) {
      const y1 = y(g.hi), y2 = y(g.lo);
      s += `<rect x="${x}" y="${y1.toFixed(1)}" width="${w}" height="${Math.max(1, y2 - y1).toFixed(1)}" ` +
        `fill="${colour(cols, g.level)}"${g.level === "NONE" ? ' fill-opacity="0.55"' : ""}><title>${esc(g.level)} ` +
        `${Math.round(g.lo)}–${Math.round(g.hi)} ${esc(b.unit)}</title></rect>`;
    }
    s += `<text x="${x + w / 2}" y="${top - 2}" text-anchor="middle">${Math.round(hi)}</text>`;
    s += `<text x="${x + w / 2}" y="${top + h + 12}" text-anchor="middle">${Math.round(lo)}</text>`;
    const yc = y(b.current);
    s += `<line x1="${x - 6}" y1="${yc}" x2="${x + w + 6}" y2="${yc}" stroke="#ffffff" stroke-width="2.5"/>`;
    if (res && res.value != null && isFinite(res.value)) {
      const yr = y(res.value);
      s += `<polygon class="resolution" points="${x + w + 2},${yr} ${x + w + 12},${yr - 5} ${x + w + 12},${yr + 5}" fill="#6fdc8c" stroke="#0c1118"/>`;
    }
    s += `<text x="46" y="214" text-anchor="middle">${esc(NAMES[dim] || dim)}</text>`;
    s += `<text x="46" y="226" text-anchor="middle">${Math.round(b.current)} ${esc(b.unit)}</text></svg>`;
    return s;
  }

  function render(adv, cols) {
    const bands = adv.bands || {}, res = adv.resolutions || {};
    let s = `<p>Alert level <span class="lvl ${esc(adv.level)}">${esc(adv.level)}</span>. ` +
      `The white needle is now; the green triangle the preferred resolution.</p><div class="bands">`;
    if (bands.track) s += `<div>${rose(bands.track, res.track, cols)}</div>`;
    s += '<div class="bars">';
    for (const d of ["gs", "vs", "alt"]) if (bands[d]) s += bar(d, bands[d], res[d], cols);
    return s + "</div></div>";
  }
  return { render };
})();

/* skyaccord — the common operating picture.
 *
 * A static page: every datum comes from the node's token-protected API (fetch with
 * "Authorization: Bearer") and its /live WebSocket (the token in the query string, as
 * browsers cannot set headers there). Tracks, alerts, zones and intents are MapLibre
 * layers fed from GeoJSON sources, never one DOM element per aircraft; labels are drawn
 * on one 2D canvas above the map (no glyph server offline). */
"use strict";

(function () {
  const TOKEN_KEY = "skyaccord.token";
  const LEVEL_RANK = { none: 0, preventive: 1, predicted: 1.5, corrective: 2, warning: 3,
    incursion: 3.5 };
  const LEVEL_COLOUR = { none: "#6fdc8c", NONE: "#6fdc8c", conflict: "#9aa7b8",
    preventive: "#ffe066", corrective: "#ffa94d", warning: "#ff5c5c",
    predicted: "#d0a2ff", incursion: "#ff66c4" };
  const PARTY_COLOUR = { us: "#5aa9ff", ru: "#ff7a7a", tr: "#ffd23f", sy: "#7ee081",
    il: "#c792ea", iq: "#f78c6c", jo: "#89ddff", lb: "#e6b673", unknown: "#b0b8c4" };
  const EXTRA = ["#4dd0e1", "#f06292", "#aed581", "#ffb74d", "#ba68c8", "#90a4ae"];
  const TRAIL_POINTS = 8;
  const LEADER_S = 60;
  const LABEL_MAX = 400;
  const KT_MS = 1852 / 3600;
  const R_EARTH = 6371008.8;

  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

  function partyColour(p) {
    if (!(p in PARTY_COLOUR)) {
      let h = 0;
      for (const ch of String(p)) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
      PARTY_COLOUR[p] = EXTRA[h % EXTRA.length];
    }
    return PARTY_COLOUR[p];
  }
  function fmtTime(t) {
    if (t == null) return "—";
    return new Date(t * 1000).toISOString().slice(11, 19) + "Z";
  }
  function ahead(lat, lon, trk, gsKt, dt) {
    const d = (gsKt * KT_MS * dt) / R_EARTH;
    const p1 = lat * Math.PI / 180, l1 = lon * Math.PI / 180, th = trk * Math.PI / 180;
    const p2 = Math.asin(Math.sin(p1) * Math.cos(d) + Math.cos(p1) * Math.sin(d) * Math.cos(th));
    const l2 = l1 + Math.atan2(Math.sin(th) * Math.sin(d) * Math.cos(p1),
      Math.cos(d) - Math.sin(p1) * Math.sin(p2));
    return [((l2 * 180 / Math.PI) + 540) % 360 - 180, p2 * 180 / Math.PI];
  }

  // ---- state -----------------------------------------------------------------------
  const S = {
    token: sessionStorage.getItem(TOKEN_KEY),
    party: null, accord: null, parties: [],
    tracks: new Map(),      // id -> {id, party, cls, lat, lon, alt, gs, trk, vs, trail}
    alerts: new Map(),      // key -> alert
    t: null,
    selected: null,
    ws: null, wsRetry: 0, wsTimer: null, connected: false,
    frames: [], frameRows: 0, replayAt: null, playing: false, playTimer: null,
    perf: { applied: [], lastApplyMs: 0, lastDrawMs: 0 },
    dirty: false, map: null, mapReady: false,
    show: { labels: true, leaders: true, trails: true, zones: true, intents: true },
    flMin: 0, flMax: 700, intentOffsetMin: 0,
    intents: { own: [], others: [] },
    lineAlerts: [], overdue: [],
  };
  window.sky = S;  // for the end-to-end tests and the benchmark

  // ---- the API ------------------------------------------------------------------------
  async function api(path, opts = {}) {
    const headers = Object.assign({ Authorization: "Bearer " + S.token }, opts.headers || {});
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(path, { method: opts.method || "GET", headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (r.status === 401) { logout("Token refused: " + ((body && body.detail) || "unknown or revoked token")); }
    if (!r.ok) {
      const err = new Error((body && (body.detail || body.title)) || ("HTTP " + r.status));
      err.status = r.status; err.body = body;
      throw err;
    }
    return body;
  }

  // ---- login -----------------------------------------------------------------------------
  async function login(token) {
    S.token = token;
    const r = await fetch("/accord", { headers: { Authorization: "Bearer " + token } });
    if (!r.ok) {
      let detail = "HTTP " + r.status;
      try { detail = (await r.json()).detail || detail; } catch (e) { /* not JSON */ }
      throw new Error(r.status === 401 ? "Token refused: " + detail : detail);
    }
    S.accord = await r.json();
    sessionStorage.setItem(TOKEN_KEY, token);
    $("login").hidden = true;
    start();
  }

  function logout(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    S.token = null;
    if (S.ws) { S.ws.onclose = null; S.ws.close(); S.ws = null; }
    clearTimeout(S.wsTimer);
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("token").value = "";
    $("token").focus();
  }

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("login-error").textContent = "";
    try { await login($("token").value.trim()); } catch (e) {
      S.token = null;
      $("login-error").textContent = e.message;
    }
  });
  $("logout").addEventListener("click", () => logout("Signed out."));

  // ---- the map -----------------------------------------------------------------------------
  function emptyFC() { return { type: "FeatureCollection", features: [] }; }

  function initMap() {
    const style = {
      version: 8,
      sources: {
        basemap: { type: "geojson", data: "/static/basemap.geojson" },
        zones: { type: "geojson", data: emptyFC() },
        intents: { type: "geojson", data: emptyFC() },
        lines: { type: "geojson", data: emptyFC() },
        alerts: { type: "geojson", data: emptyFC() },
      },
      layers: [
        { id: "sea", type: "background", paint: { "background-color": "#0b1a2a" } },
        { id: "land", type: "fill", source: "basemap", filter: ["==", ["get", "layer"], "country"],
          paint: { "fill-color": "#1d2630", "fill-outline-color": "#3d4d60" } },
        { id: "borders", type: "line", source: "basemap", filter: ["==", ["get", "layer"], "country"],
          paint: { "line-color": "#6b7f96", "line-width": 1.2 } },
        { id: "places", type: "circle", source: "basemap", filter: ["!=", ["get", "layer"], "country"],
          paint: { "circle-radius": 3, "circle-color": ["match", ["get", "layer"], "airfield", "#9fb3c8", "#dfe6ee"],
            "circle-stroke-width": ["match", ["get", "layer"], "airfield", 1.5, 0], "circle-stroke-color": "#0b1a2a" } },
        { id: "zones-fill", type: "fill", source: "zones",
          paint: { "fill-color": ["case", ["==", ["get", "owner"], ["literal", "?"]], "#888", "#ff66c4"], "fill-opacity": 0.06 } },
        { id: "zones-line", type: "line", source: "zones",
          paint: { "line-color": "#ff9ad5", "line-width": 1.5, "line-dasharray": [3, 2] } },
        { id: "intents-fill", type: "fill", source: "intents",
          paint: { "fill-color": ["get", "colour"], "fill-opacity": 0.18 } },
        { id: "intents-line", type: "line", source: "intents",
          paint: { "line-color": ["get", "colour"], "line-width": 1.5 } },
        { id: "trails", type: "line", source: "lines", filter: ["==", ["get", "k"], "t"],
          paint: { "line-color": ["get", "c"], "line-width": 1.2, "line-opacity": 0.45 } },
        { id: "leaders", type: "line", source: "lines", filter: ["==", ["get", "k"], "l"],
          paint: { "line-color": ["get", "c"], "line-width": 1.5 } },
        { id: "alert-links", type: "line", source: "alerts", filter: ["==", ["get", "k"], "link"],
          paint: { "line-color": ["get", "c"], "line-width": 3, "line-opacity": 0.9 } },
        { id: "alert-paths", type: "line", source: "alerts", filter: ["==", ["get", "k"], "path"],
          paint: { "line-color": ["get", "c"], "line-width": 1.5, "line-dasharray": [2, 2] } },
        { id: "alert-points", type: "circle", source: "alerts", filter: ["==", ["get", "k"], "cpa"],
          paint: { "circle-radius": 6, "circle-color": "rgba(0,0,0,0)", "circle-stroke-width": 2.5,
            "circle-stroke-color": ["get", "c"] } },
      ],
    };
    const map = new maplibregl.Map({ container: "map", style, center: [37.5, 35.0], zoom: 5.5,
      attributionControl: false, fadeDuration: 0, maxPitch: 0, dragRotate: false });
    map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-left");
    map.addControl(new maplibregl.ScaleControl({ unit: "nautical" }), "bottom-left");
    S.map = map;
    S.trackLayer = window.skyTrackLayer(trackDrawn);
    map.on("load", async () => {
      map.addLayer(S.trackLayer.layer);
      // optional raster tiles (the node's `tiles` setting) under the borders
      try {
        const cfg = await (await fetch("/static/config.json")).json();
        if (cfg.tiles) {
          map.addSource("tiles", { type: "raster", tiles: [cfg.tiles], tileSize: 256 });
          map.addLayer({ id: "tiles", type: "raster", source: "tiles" }, "borders");
          map.setPaintProperty("land", "fill-opacity", 0);
          S.tiles = cfg.tiles;
        }
      } catch (e) { console.warn("config:", e.message); }
      S.mapReady = true; S.dirty = true; schedule();
    });
    map.on("render", drawLabels);
    map.on("zoomend", () => {
      const detail = S.map.getZoom() >= DETAIL_ZOOM;
      if (detail !== S.detailZoom) { S.detailZoom = detail; S.dirty = true; schedule(); }
    });
    map.on("click", (ev) => {
      const id = pick(ev.point);
      if (id) select(id, true);
    });
    map.on("mousemove", (ev) => { map.getCanvas().style.cursor = pick(ev.point) ? "pointer" : ""; });
    map.on("error", (e) => console.warn("map:", e && e.error && e.error.message));
  }

  function inAlt(altFt) { return altFt >= S.flMin * 100 && altFt <= S.flMax * 100; }

  // The picture now, or the frame being replayed.
  let unpacked = { at: -1, frame: null, tracks: null, alerts: null };
  function unpack() {
    const f = frames()[S.replayAt];
    if (unpacked.frame !== f) {
      const tracks = new Map();
      for (let k = 0; k < f.n; k++) {
        const m = f.num;
        tracks.set(f.ids[k], { id: f.ids[k], party: f.party[k], callsign: f.cs[k], lat: m[k * 6],
          lon: m[k * 6 + 1], alt: m[k * 6 + 2], gs: m[k * 6 + 3], trk: m[k * 6 + 4], vs: m[k * 6 + 5], trail: null });
      }
      unpacked = { frame: f, tracks, alerts: new Map(f.alerts.map((a) => [a.key, a])) };
    }
    return unpacked;
  }
  function currentTracks() {
    if (S.replayAt == null) return S.tracks;
    return unpack().tracks;
  }
  function currentAlerts() {
    if (S.replayAt == null) return S.alerts;
    return unpack().alerts;
  }

  // Leaders and trails declutter: drawn when zoomed in or when the picture is small.
  const DETAIL_TRACKS = 3000, DETAIL_ZOOM = 7;
  // The aircraft nearest a point of the screen, within 8 px.
  function pick(pt) {
    let best = null, bestD = 64;
    const b = S.map.getBounds();
    for (const a of currentTracks().values()) {
      if (a.lon < b.getWest() || a.lon > b.getEast() || a.lat < b.getSouth() || a.lat > b.getNorth()) continue;
      if (!inAlt(a.alt)) continue;
      const xy = S.map.project([a.lon, a.lat]);
      const d = (xy.x - pt.x) ** 2 + (xy.y - pt.y) ** 2;
      if (d < bestD) { bestD = d; best = a.id; }
    }
    return best;
  }

  const RGB = {};
  function rgb(hex) {
    if (!RGB[hex]) RGB[hex] = [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16) / 255);
    return RGB[hex];
  }
  let vertices = new Float32Array(6 * 1024);
  function buildTracks(tracks) {
    const lines = [];
    if (vertices.length < tracks.size * 6) vertices = new Float32Array(tracks.size * 12);
    const v = vertices;
    let n = 0;
    const sel = S.selected;
    const detail = tracks.size <= DETAIL_TRACKS || S.map.getZoom() >= DETAIL_ZOOM;
    const leaders = S.show.leaders && detail, trails = S.show.trails && detail;
    for (const a of tracks.values()) {
      if (!inAlt(a.alt)) continue;
      const c = partyColour(a.party), col = rgb(c), o = n * 6;
      v[o] = (a.lon + 180) / 360;
      v[o + 1] = 0.5 - Math.log(Math.tan(Math.PI / 4 + a.lat * Math.PI / 360)) / (2 * Math.PI);
      v[o + 2] = col[0]; v[o + 3] = col[1]; v[o + 4] = col[2];
      v[o + 5] = a.id === sel ? 17 : 11;
      n++;
      if (leaders && a.gs > 0) {
        lines.push({ type: "Feature", geometry: { type: "LineString",
          coordinates: [[a.lon, a.lat], ahead(a.lat, a.lon, a.trk, a.gs, LEADER_S)] },
        properties: { k: "l", c } });
      }
      if (trails && a.trail && a.trail.length > 1) {
        lines.push({ type: "Feature", geometry: { type: "LineString", coordinates: a.trail },
          properties: { k: "t", c } });
      }
    }
    // the selected aircraft last: drawn on top
    if (sel && tracks.has(sel)) {
      for (let k = 0; k < n - 1; k++) {
        if (v[k * 6 + 5] > 12) {
          const tmp = v.slice(k * 6, k * 6 + 6);
          v.copyWithin(k * 6, (n - 1) * 6, n * 6); v.set(tmp, (n - 1) * 6);
          break;
        }
      }
    }
    return [n, lines];
  }

  // The most severe, soonest ALERT_DRAW_MAX alerts are drawn (all are listed).
  const ALERT_DRAW_MAX = 2000;
  function sortedAlerts(alerts) {
    if (S.sortedFor !== alerts || S.sortedVersion !== S.alertVersion) {
      S.sortedList = [...alerts.values()].sort(alertOrder);
      S.sortedFor = alerts; S.sortedVersion = S.alertVersion;
    }
    return S.sortedList;
  }
  function buildAlerts(alerts, tracks) {
    const feats = [];
    for (const al of sortedAlerts(alerts).slice(0, ALERT_DRAW_MAX)) {
      const c = LEVEL_COLOUR[al.level] || "#fff";
      if (al.type === "conflict") {
        const a = tracks.get(al.id1), b = tracks.get(al.id2);
        if (a && b) feats.push(line([[a.lon, a.lat], [b.lon, b.lat]], "link", c));
        if (a) feats.push(line([[a.lon, a.lat], [al.cpa1[1], al.cpa1[0]]], "path", c));
        if (b) feats.push(line([[b.lon, b.lat], [al.cpa2[1], al.cpa2[0]]], "path", c));
        feats.push(point([al.cpa1[1], al.cpa1[0]], "cpa", c), point([al.cpa2[1], al.cpa2[0]], "cpa", c));
      } else if (al.type === "incursion") {
        const a = tracks.get(al.id);
        if (a) feats.push(line([[a.lon, a.lat], [al.entry[1], al.entry[0]]], "path", c));
        feats.push(point([al.entry[1], al.entry[0]], "cpa", c));
      }
    }
    return feats;
    function line(coords, k, col) {
      return { type: "Feature", geometry: { type: "LineString", coordinates: coords }, properties: { k, c: col } };
    }
    function point(coords, k, col) {
      return { type: "Feature", geometry: { type: "Point", coordinates: coords }, properties: { k, c: col } };
    }
  }

  function schedule() {
    if (S.rafPending) return;
    S.rafPending = true;
    requestAnimationFrame(() => { S.rafPending = false; if (S.dirty) draw(); });
  }

  function draw() {
    if (!S.mapReady) return;
    const t0 = performance.now();
    S.dirty = false;
    const tracks = currentTracks();
    const [n, lines] = buildTracks(tracks);
    S.trackLayer.set(vertices, n);
    S.map.getSource("lines").setData({ type: "FeatureCollection", features: lines });
    S.map.getSource("alerts").setData({ type: "FeatureCollection",
      features: buildAlerts(currentAlerts(), tracks) });
    const t2 = performance.now();
    S.perf.lastDrawMs = t2 - t0;
    const p = S.perf.pending;
    if (p) { S.perf.pending = null; p.build_ms = t2 - t0; S.perf.drawing = p; }
    S.map.triggerRepaint();
    renderCounts();
  }

  // A frame has drawn a new buffer of tracks: the update is applied and drawn.
  function trackDrawn(t, n) {
    S.perf.drawnPoints = n;
    const p = S.perf.drawing;
    if (!p) return;
    S.perf.drawing = null;
    S.perf.applied.push({ n: p.n, parse_apply_ms: p.t1 - p.t0, build_ms: p.build_ms,
      drawn_ms: t - p.t0 });
    if (S.perf.applied.length > 5000) S.perf.applied.splice(0, 1000);
  }

  // Labels: id or callsign, flight level, ground speed; on a canvas over the map.
  function drawLabels() {
    const map = S.map, cv = $("labels");
    const w = cv.clientWidth, h = cv.clientHeight, dpr = window.devicePixelRatio || 1;
    if (cv.width !== Math.round(w * dpr) || cv.height !== Math.round(h * dpr)) {
      cv.width = Math.round(w * dpr); cv.height = Math.round(h * dpr);
    }
    const ctx = cv.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    if (!S.mapReady) return;
    ctx.font = "12px system-ui, 'DejaVu Sans', sans-serif";
    ctx.textBaseline = "middle";
    ctx.lineWidth = 3; ctx.strokeStyle = "rgba(8,12,18,0.9)";
    // place names
    ctx.fillStyle = "#c9d4e0";
    for (const p of PLACES) {
      const xy = map.project(p[1]);
      if (xy.x < 0 || xy.y < 0 || xy.x > w || xy.y > h) continue;
      ctx.strokeText(p[0], xy.x + 6, xy.y); ctx.fillText(p[0], xy.x + 6, xy.y);
    }
    if (!S.show.labels) return;
    // time to loss of separation (or to entry) at the closest-approach / entry points
    const age = (al) => (S.t != null && al.t != null ? S.t - al.t : 0);
    for (const al of sortedAlerts(currentAlerts()).slice(0, 50)) {
      const at = al.type === "conflict" ? al.cpa1 : al.entry;
      const xy = map.project([at[1], at[0]]);
      if (xy.x < 0 || xy.y < 0 || xy.x > w || xy.y > h) continue;
      const secs = Math.max(0, (al.type === "conflict" ? al.t_in_s : al.t_entry_s) - age(al));
      const text = (al.type === "conflict" ? "LoS " : "entry ") + (secs > 0 ? `${secs.toFixed(0)} s` : "now");
      ctx.fillStyle = LEVEL_COLOUR[al.level] || "#fff";
      ctx.textAlign = "right";  // left of the point: the aircraft's labels are on the right
      ctx.strokeText(text, xy.x - 10, xy.y); ctx.fillText(text, xy.x - 10, xy.y);
      ctx.textAlign = "left";
    }
    const b = map.getBounds();
    const tracks = currentTracks();
    const alerting = new Set();
    for (const al of sortedAlerts(currentAlerts()).slice(0, LABEL_MAX)) {
      alerting.add(al.id1); alerting.add(al.id2); alerting.add(al.id);
    }
    const shown = [];
    for (const a of tracks.values()) {
      if (a.lon < b.getWest() || a.lon > b.getEast() || a.lat < b.getSouth() || a.lat > b.getNorth()) continue;
      if (!inAlt(a.alt)) continue;
      shown.push(a);
      if (shown.length > LABEL_MAX) break;
    }
    const all = shown.length <= LABEL_MAX;
    let drawn = 0;
    for (const a of all ? shown : tracks.values()) {
      if (!all) {
        if (!alerting.has(a.id) && a.id !== S.selected) continue;
        if (a.lon < b.getWest() || a.lon > b.getEast() || a.lat < b.getSouth() || a.lat > b.getNorth()) continue;
        if (++drawn > LABEL_MAX) break;
      }
      const xy = map.project([a.lon, a.lat]);
      const fl = "FL" + String(Math.round(a.alt / 100)).padStart(3, "0");
      const l1 = a.callsign || a.id, l2 = fl + " " + Math.round(a.gs) + "kt";
      ctx.fillStyle = partyColour(a.party);
      ctx.strokeText(l1, xy.x + 8, xy.y - 7); ctx.fillText(l1, xy.x + 8, xy.y - 7);
      ctx.fillStyle = "#e8eef5";
      ctx.strokeText(l2, xy.x + 8, xy.y + 7); ctx.fillText(l2, xy.x + 8, xy.y + 7);
    }
  }
  let PLACES = [];

  // ---- the live stream -------------------------------------------------------------------
  function setConn(text, ok) {
    const el = $("conn");
    el.textContent = text;
    el.className = ok ? "ok" : "bad";
    S.connected = ok;
  }

  function connect() {
    if (!S.token) return;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/live?token=${encodeURIComponent(S.token)}`);
    S.ws = ws;
    setConn(S.wsRetry ? "reconnecting…" : "connecting…", false);
    ws.onmessage = (ev) => receive(ev.data);
    ws.onclose = (ev) => {
      S.ws = null;
      if (ev.code === 1008) { logout("Token refused: " + (ev.reason || "unknown or revoked token")); return; }
      const delay = Math.min(5000, 500 * Math.pow(2, S.wsRetry++));
      setConn(`disconnected — retrying in ${(delay / 1000).toFixed(1)} s`, false);
      S.wsTimer = setTimeout(connect, delay);
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  // One text frame of the live stream: parsed, applied, timed (S.perf, for the benchmark).
  function receive(text) {
    const t0 = performance.now();
    let msg;
    try { msg = JSON.parse(text); } catch (e) { return; }
    applyEvent(msg);
    const t1 = performance.now();
    S.perf.lastApplyMs = t1 - t0;
    const n = msg.type === "tick" && msg.updated && msg.updated.id ? msg.updated.id.length : 0;
    if (n) S.perf.pending = { t0, t1, n };
  }
  S.receive = receive;

  // Tracks are updated in place (no garbage per track per tick).
  function setTrack(cols, k) {
    const id = cols.id[k];
    const lat = cols.lat[k], lon = cols.lon[k];
    let a = S.tracks.get(id);
    if (!a) { a = { id, trail: [] }; S.tracks.set(id, a); }
    a.party = cols.party[k]; a.cls = cols.class[k]; a.lat = lat; a.lon = lon;
    a.alt = cols.alt_ft[k]; a.gs = cols.gs_kt[k]; a.trk = cols.trk_deg[k]; a.vs = cols.vs_fpm[k];
    a.callsign = cols.callsign ? cols.callsign[k] : null;
    const tr = a.trail, last = tr.length ? tr[tr.length - 1] : null;
    if (!last || last[0] !== lon || last[1] !== lat) {
      if (tr.length >= TRAIL_POINTS) tr.shift();
      tr.push([lon, lat]);
    }
  }

  function applyEvent(msg) {
    if (msg.type === "hello") {
      S.wsRetry = 0;
      setConn("live", true);
      S.party = msg.party;
      const cols = msg.tracks, seen = new Set(cols.id);
      for (const id of [...S.tracks.keys()]) if (!seen.has(id)) S.tracks.delete(id);
      for (let k = 0; k < cols.id.length; k++) setTrack(cols, k);
      S.alerts = new Map(msg.alerts.map((a) => [a.key, a]));
      S.alertVersion = (S.alertVersion || 0) + 1;
      S.t = msg.t;
      renderHeader(); renderAlerts(); refreshLine(); refreshStatic();
    } else if (msg.type === "tick") {
      const cols = msg.updated || {};
      if (cols.id) for (let k = 0; k < cols.id.length; k++) setTrack(cols, k);
      for (const id of msg.removed || []) S.tracks.delete(id);
      const al = msg.alerts || {};
      S.alertVersion = (S.alertVersion || 0) + 1;
      for (const a of al.new || []) S.alerts.set(a.key, a);
      for (const a of al.changed || []) S.alerts.set(a.key, a);
      for (const k of al.cleared || []) S.alerts.delete(k);
      S.t = msg.t;
      record();
      const changed = (cols.id && cols.id.length) || (msg.removed || []).length ||
        (al.new || []).length || (al.changed || []).length || (al.cleared || []).length;
      if (!changed) { renderHeader(); return; }
      renderHeader();
      if ((al.new || []).length || (al.changed || []).length || (al.cleared || []).length || S.alerts.size) renderAlerts();
      if (S.selected) renderAircraft(false);
    } else if (msg.type === "line") {
      refreshLine();
    } else if (msg.type === "distress") {
      showDistress(msg.message, msg.received_at);
      refreshLine();
    } else if (msg.type === "accord") {
      refreshStatic();
    }
    S.dirty = true;
    schedule();
  }

  // ---- replay: the frames seen this session --------------------------------------------------
  // Each tick's picture as compact columns (Float32Array), the alerts as references.
  const FRAME_ROWS_MAX = 300000;
  function record() {
    const n = S.tracks.size;
    const ids = new Array(n), party = new Array(n), cs = new Array(n);
    const num = new Float32Array(n * 6);
    let k = 0;
    for (const a of S.tracks.values()) {
      ids[k] = a.id; party[k] = a.party; cs[k] = a.callsign;
      num[k * 6] = a.lat; num[k * 6 + 1] = a.lon; num[k * 6 + 2] = a.alt;
      num[k * 6 + 3] = a.gs; num[k * 6 + 4] = a.trk; num[k * 6 + 5] = a.vs; k++;
    }
    S.frames.push({ t: S.t, n, ids, party, cs, num, alerts: [...S.alerts.values()] });
    S.frameRows += n;
    while (S.frames.length > 1 && (S.frameRows > FRAME_ROWS_MAX || S.frames.length > 3600)) {
      S.frameRows -= S.frames.shift().n;
      if (S.replayAt != null) S.replayAt = Math.max(0, S.replayAt - 1);
    }
    if (S.fileFrames) return;
    const sl = $("replay-slider");
    sl.max = String(S.frames.length - 1);
    if (S.replayAt == null) sl.value = sl.max;
  }
  // The frames replayed: a recording opened from a file, else the ticks seen.
  function frames() { return S.fileFrames || S.frames; }
  function seek(k) {
    const fr = frames();
    if (!fr.length) return;
    S.replayAt = Math.max(0, Math.min(fr.length - 1, k));
    $("replay-slider").max = String(fr.length - 1);
    $("replay-slider").value = String(S.replayAt);
    $("replay-live").setAttribute("aria-pressed", "false");
    $("replay-label").textContent = (S.fileFrames ? S.fileName + ": " : "replay ") +
      fmtTime(fr[S.replayAt].t) + ` (${S.replayAt + 1}/${fr.length})`;
    S.dirty = true; schedule(); renderAlerts();
  }
  function goLive() {
    S.replayAt = null; stopPlay();
    S.fileFrames = null; unpacked = { frame: null };
    $("replay-slider").max = String(Math.max(0, S.frames.length - 1));
    $("replay-live").setAttribute("aria-pressed", "true");
    $("replay-label").textContent = "live";
    $("replay-slider").value = $("replay-slider").max;
    S.dirty = true; schedule(); renderAlerts();
  }
  function stopPlay() {
    S.playing = false; clearInterval(S.playTimer);
    $("replay-play").textContent = "Play"; $("replay-play").setAttribute("aria-pressed", "false");
  }
  $("replay-slider").addEventListener("input", (e) => seek(Number(e.target.value)));
  $("replay-live").addEventListener("click", goLive);
  $("replay-play").addEventListener("click", () => {
    if (S.playing) { stopPlay(); return; }
    if (S.replayAt == null || S.replayAt >= frames().length - 1) seek(0);
    S.playing = true;
    $("replay-play").textContent = "Pause"; $("replay-play").setAttribute("aria-pressed", "true");
    const speed = Number($("replay-speed").value) || 1;
    S.playTimer = setInterval(() => {
      if (S.replayAt >= frames().length - 1) { stopPlay(); return; }
      seek(S.replayAt + 1);
    }, 1000 / speed);
  });

  // A recorded feed from a file (`skyaccord decode`'s states CSV: t, icao24 or id,
  // callsign, lat, lon, alt_ft, gs_kt, trk_deg, vs_fpm; party if present), read in the
  // browser: one frame per second of feed time, each aircraft at its last report (dropped
  // after 60 s unseen). No alerts: those come from a node.
  function framesFromCsv(text) {
    const lines = text.split(/\r?\n/).filter((l) => l.trim());
    const head = lines.shift().split(",").map((h) => h.trim());
    const col = (name) => head.indexOf(name);
    const ci = { t: col("t"), id: col("icao24") >= 0 ? col("icao24") : col("id"), cs: col("callsign"),
      party: col("party"), lat: col("lat"), lon: col("lon"), alt: col("alt_ft"), gs: col("gs_kt"),
      trk: col("trk_deg"), vs: col("vs_fpm") };
    if (ci.t < 0 || ci.id < 0 || ci.lat < 0 || ci.lon < 0) throw new Error("needs columns t, icao24 (or id), lat, lon");
    const out = [], last = new Map();
    let second = null;
    const flush = (t) => {
      for (const [id, a] of last) if (t - a.t > 60) last.delete(id);
      const n = last.size, ids = [], party = [], cs = [], num = new Float32Array(n * 6);
      let k = 0;
      for (const a of last.values()) {
        ids.push(a.id); party.push(a.party); cs.push(a.cs);
        num.set([a.lat, a.lon, a.alt, a.gs, a.trk, a.vs], k * 6); k++;
      }
      out.push({ t, n, ids, party, cs, num, alerts: [] });
    };
    for (const line of lines) {
      const c = line.split(",");
      const t = Number(c[ci.t]), lat = Number(c[ci.lat]), lon = Number(c[ci.lon]);
      if (!isFinite(t) || c[ci.lat] === "" || !isFinite(lat) || !isFinite(lon)) continue;
      const s = Math.floor(t);
      if (second !== null && s > second) flush(second);
      second = s;
      const num = (i) => (i >= 0 && c[i] !== "" && isFinite(Number(c[i])) ? Number(c[i]) : 0);
      last.set(c[ci.id], { id: c[ci.id], t, lat, lon, alt: num(ci.alt), gs: num(ci.gs),
        trk: num(ci.trk), vs: num(ci.vs), cs: ci.cs >= 0 ? c[ci.cs] || null : null,
        party: ci.party >= 0 && c[ci.party] ? c[ci.party] : "unknown" });
    }
    if (second !== null) flush(second);
    return out;
  }
  $("replay-file").addEventListener("change", async (ev) => {
    const file = ev.target.files[0];
    if (!file) return;
    try {
      const fr = framesFromCsv(await file.text());
      if (!fr.length) throw new Error("no positions in it");
      stopPlay();
      S.fileFrames = fr; S.fileName = file.name; unpacked = { frame: null };
      seek(0);
    } catch (e) {
      $("replay-label").textContent = `${file.name}: not read (${e.message})`;
    }
  });

  // ---- panels -----------------------------------------------------------------------------------
  function renderHeader() {
    $("party").textContent = S.party ? `party ${S.party}` : "—";
    $("clock").textContent = fmtTime(S.t);
  }
  function renderCounts() {
    const tr = currentTracks();
    $("counts").textContent = `${tr.size} tracks · ${currentAlerts().size} alerts`;
  }
  function renderLegend() {
    const ps = (S.accord && S.accord.accord && S.accord.accord.parties || []).map((p) => p.id);
    S.parties = ps;
    $("legend").innerHTML = [...ps, "unknown"].map((p) =>
      `<span><i style="background:${partyColour(p)}"></i>${esc(p)}</span>`).join("");
  }

  function alertOrder(a, b) {
    const ra = LEVEL_RANK[a.level] || 0, rb = LEVEL_RANK[b.level] || 0;
    if (ra !== rb) return rb - ra;
    const ta = a.type === "conflict" ? a.t_in_s : a.t_entry_s;
    const tb = b.type === "conflict" ? b.t_in_s : b.t_entry_s;
    return ta - tb;
  }

  function alertText(a) {
    const age = S.t != null && a.t != null ? S.t - a.t : 0;
    if (a.type === "conflict") {
      const tin = Math.max(0, a.t_in_s - age);
      const los = tin <= 0 ? "separation lost" : `loses separation in ${tin.toFixed(0)} s`;
      return `${esc(a.id1)} (${esc(a.party1)}) × ${esc(a.id2)} (${esc(a.party2)}) — ${los}; ` +
        `closest ${a.dcpa_nm.toFixed(2)} NM / ${Math.abs(a.dz_ft).toFixed(0)} ft in ${Math.max(0, a.tcpa_s - age).toFixed(0)} s`;
    }
    const te = Math.max(0, a.t_entry_s - age);
    return `${esc(a.id)} (${esc(a.party)}) ${te <= 0 ? "inside" : `enters in ${te.toFixed(0)} s`} ` +
      `${esc(a.zone)} (${esc(a.owner)})`;
  }

  function renderAlerts() {
    const list = sortedAlerts(currentAlerts());
    $("alert-count").textContent = String(list.length);
    const ol = $("alert-list");
    const focusedKey = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.key : null;
    ol.innerHTML = list.slice(0, 300).map((a) =>
      `<li><button type="button" data-key="${esc(a.key)}" data-level="${esc(a.level)}" ` +
      `aria-current="${S.focusKey === a.key}">` +
      `<span class="lvl ${esc(a.level)}">${esc(a.level)}</span> ${alertText(a)}</button></li>`).join("") +
      (list.length ? "" : `<li class="hint">No alerts.</li>`);
    if (focusedKey) {
      const el = ol.querySelector(`button[data-key="${CSS.escape(focusedKey)}"]`);
      if (el) el.focus();
    }
    const la = $("line-alert-list");
    la.innerHTML = S.lineAlerts.slice(0, 50).map((a) =>
      `<li class="item" data-level="corrective"><span class="lvl corrective">${esc(a.kind)}</span> from ` +
      `${esc(a.from)} at ${fmtTime(a.received_at)}: ${esc(messageText(a.message))}</li>`).join("") ||
      `<li class="hint">Nothing from the other parties.</li>`;
  }

  $("alert-list").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-key]");
    if (b) centreOn(b.dataset.key);
  });

  function centreOn(key) {
    const a = currentAlerts().get(key);
    if (!a) return;
    S.focusKey = key;
    const tr = currentTracks();
    const pts = [];
    if (a.type === "conflict") {
      for (const id of [a.id1, a.id2]) { const t = tr.get(id); if (t) pts.push([t.lon, t.lat]); }
      pts.push([a.cpa1[1], a.cpa1[0]], [a.cpa2[1], a.cpa2[0]]);
    } else {
      const t = tr.get(a.id); if (t) pts.push([t.lon, t.lat]);
      pts.push([a.entry[1], a.entry[0]]);
    }
    const lons = pts.map((p) => p[0]), lats = pts.map((p) => p[1]);
    S.map.fitBounds([[Math.min(...lons), Math.min(...lats)], [Math.max(...lons), Math.max(...lats)]],
      { padding: 120, maxZoom: 9, duration: 0 });
    const own = a.type === "conflict" ? ([a.id1, a.id2].find((id) => tr.get(id) && tr.get(id).party === S.party) || a.id1) : a.id;
    select(own, true);
    renderAlerts();
  }

  // aircraft details
  function select(id, openTab) {
    S.selected = id;
    S.advisory = null; S.advisoryAt = 0;
    S.dirty = true; schedule();
    renderAircraft(true);
    if (openTab) showTab("aircraft");
  }

  async function renderAircraft(fetchNow) {
    const id = S.selected;
    if (!id) return;
    const a = currentTracks().get(id);
    $("ac-title").textContent = "Aircraft " + id;
    $("ac-hint").textContent = a ? "" : "Not in the picture now.";
    if (a) {
      $("ac-state").innerHTML = [
        ["party", a.party], ["class", a.cls], ["position", `${a.lat.toFixed(4)}, ${a.lon.toFixed(4)}`],
        ["flight level", "FL" + String(Math.round(a.alt / 100)).padStart(3, "0") + ` (${Math.round(a.alt)} ft)`],
        ["ground speed", `${Math.round(a.gs)} kt`], ["track", `${Math.round(a.trk)}°`],
        ["vertical speed", `${Math.round(a.vs)} fpm`]].map(([k, v]) =>
        `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("");
    }
    if (!a || a.party !== S.party) {
      $("ac-bands").innerHTML = a ? `<p class="hint">Bands are computed for our own aircraft (party ${esc(S.party)}).</p>` : "";
      return;
    }
    const now = performance.now();
    if (!fetchNow && now - (S.advisoryAt || 0) < 2000) return;
    S.advisoryAt = now;
    try {
      const adv = await api("/advisories/" + encodeURIComponent(id));
      if (S.selected !== id) return;
      S.advisory = adv;
      $("ac-bands").innerHTML = window.skyBands.render(adv, LEVEL_COLOUR);
    } catch (e) {
      $("ac-bands").innerHTML = `<p class="hint">No bands: ${esc(e.message)}</p>`;
    }
  }

  // the line
  function messageText(m) {
    const b = m.body || {};
    return b.text || b.reason || (b.source ? `${b.source} ${b.id1} ${b.id2} ${b.level || ""}` : JSON.stringify(b)).slice(0, 300);
  }
  let lineBusy = false;
  async function refreshLine() {
    if (lineBusy || !S.token) return;
    lineBusy = true;
    try {
      const [inbox, sent, overdue, alerts] = await Promise.all([
        api("/line/inbox"), api("/line/sent"), api("/line/overdue"), api("/alerts")]);
      S.lineAlerts = alerts.line; S.overdue = overdue;
      $("line-count").textContent = String(overdue.filter((d) => d.level !== "pending").length);
      $("inbox-list").innerHTML = inbox.slice(-100).reverse().map((m) =>
        `<li class="item" data-msg="${esc(m.id)}"><strong>${esc(m.kind)}</strong> from ${esc(m.from)} ` +
        `#${m.seq} at ${fmtTime(m.received_at)}${m.due_at ? ` · answer due ${fmtTime(m.due_at)}` : ""}<br>${esc(messageText(m))}` +
        `<br><button type="button" class="answer" data-id="${esc(m.id)}" data-from="${esc(m.from)}">Answer</button></li>`).join("") ||
        `<li class="hint">Nothing received.</li>`;
      $("sent-list").innerHTML = sent.slice(-100).reverse().map((m) =>
        `<li class="item" data-msg="${esc(m.id)}"><strong>${esc(m.kind)}</strong> to ${esc(m.to)} #${m.seq} at ${fmtTime(m.sent_at)} · ` +
        (m.acked_at ? `<span class="acked">acknowledged ${fmtTime(m.acked_at)}</span>` : `<span class="waiting">awaiting acknowledgement</span>`) +
        `<br>${esc(messageText(m))}</li>`).join("") || `<li class="hint">Nothing sent.</li>`;
      $("overdue-list").innerHTML = overdue.map((d) =>
        `<li class="item" data-level="${d.level === "pending" ? "preventive" : "warning"}">` +
        `<strong>${esc(d.debtor)}</strong> owes ${esc(d.creditor)} a ${esc(d.what)} for ${esc(d.subject)}: ` +
        `${d.late_s < 0 ? `due in ${(-d.late_s).toFixed(0)} s` : `${d.late_s.toFixed(0)} s late`} — <span class="lvl warning">${esc(d.level)}</span></li>`).join("") ||
        `<li class="hint">Nobody owes anything.</li>`;
      renderAlerts();
    } catch (e) {
      console.warn("line:", e.message);
    } finally { lineBusy = false; }
  }
  $("inbox-list").addEventListener("click", (ev) => {
    const b = ev.target.closest("button.answer");
    if (!b) return;
    $("send-to").value = b.dataset.from; $("send-kind").value = "response";
    $("send-reply").value = b.dataset.id; $("send-text").focus();
  });
  $("send-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const kind = $("send-kind").value;
    const body = { text: $("send-text").value };
    if (kind === "response" && $("send-decision").value) body.decision = $("send-decision").value;
    const req = { to: $("send-to").value, kind, body };
    if ($("send-reply").value.trim()) req.in_reply_to = $("send-reply").value.trim();
    const out = $("send-result");
    try {
      const m = await api("/line/send", { method: "POST", body: req });
      out.className = ""; out.textContent = `Sent ${m.kind} #${m.seq} to ${m.to} (${m.id.slice(0, 8)}…); awaiting acknowledgement.`;
      $("send-text").value = ""; $("send-reply").value = "";
      refreshLine();
    } catch (e) {
      out.className = "bad"; out.textContent = "Not sent: " + e.message;
    }
  });

  // accord, zones, intents: read on connect and now and then
  async function refreshStatic() {
    try {
      S.accord = await api("/accord");
      const a = S.accord;
      renderLegend();
      $("accord-info").innerHTML = [["title", a.title], ["id", a.id], ["version", a.version],
        ["effective", a.effective], ["SHA-256", a.sha256],
        ["parties", (a.accord.parties || []).map((p) => p.id).join(", ")]].map(([k, v]) =>
        `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("");
      $("accord-json").textContent = JSON.stringify(a.accord, null, 1);
      const susp = a.suspended || [], open = a.undecided || [];
      $("accord-suspended").hidden = !susp.length;
      $("accord-state").hidden = !susp.length && !open.length;
      $("accord-state").textContent = susp.length ? `ACCORD v${a.version} SUSPENDED by ${susp.map((x) => x.party).join(", ")}`
        : open.length ? `ACCORD UNDECIDED: no word from ${[...new Set(open.flatMap((u) => u.awaiting))].join(", ")}` : "";
      $("accord-suspended").textContent = susp.map((x) =>
        `SUSPENDED by ${x.party}: ${x.reason} — automatic messages stopped until a new version takes effect`).join("\n");
      // a version whose time has passed without every answer here: which version is in
      // force is not known yet; ordinary messages wait, safety ones go in the priority lane
      $("accord-undecided").hidden = !open.length;
      $("accord-undecided").textContent = open.map((u) =>
        `UNDECIDED: v${u.version} by ${u.proposer} was to take effect ` +
        `${new Date(u.effective_at * 1000).toISOString().replace(".000", "")}; no word from ` +
        `${u.awaiting.join(", ")} since then — ordinary messages wait, conflict messages and ` +
        `distress calls go in the priority lane`).join("\n");
      // the word that decides it (any message of theirs) pushes no accord event: look again
      clearTimeout(S.undecidedTimer);
      if (open.length) S.undecidedTimer = setTimeout(refreshStatic, 3000);
      refreshProposals();
      refreshDistress();
      const sel = $("send-to"), cur = sel.value;
      sel.innerHTML = S.parties.filter((p) => p !== S.party).map((p) => `<option>${esc(p)}</option>`).join("");
      if (cur) sel.value = cur;
    } catch (e) { console.warn("accord:", e.message); }
    try {
      const z = await api("/zones");
      if (S.mapReady) S.map.getSource("zones").setData(z);
      else S.map.once("load", () => S.map.getSource("zones").setData(z));
    } catch (e) { console.warn("zones:", e.message); }
    refreshIntents();
  }

  // ---- the accord's proposals: difference, answers, accept or reject ------------------------
  async function refreshProposals() {
    let ps;
    try { ps = await api("/accord/proposals"); } catch (e) { console.warn("proposals:", e.message); return; }
    S.proposals = ps;
    // nothing is pushed when an effective time passes: read the accord again just after
    // each one still to come (a switch, or a version left undecided here)
    clearTimeout(S.effectiveTimer);
    const next = Math.min(...ps.map((p) => p.effective_at).filter((t) => t * 1000 > Date.now()));
    if (Number.isFinite(next)) {
      S.effectiveTimer = setTimeout(refreshStatic, Math.min(next * 1000 - Date.now() + 1500, 2 ** 31 - 1));
    }
    $("proposal-list").innerHTML = ps.map((p) => {
      const answers = Object.entries(p.answers).map(([who, a]) =>
        `${esc(who)} ${esc(a.decision)}: ${esc(a.text)}`).join("; ") || "none yet";
      const mine = p.proposer !== S.party && p.status === "pending" && !(S.party in p.answers);
      const form = mine ? `<div class="answer"><label>Reason <input class="reason"
        aria-label="Reason for proposal v${esc(p.version)}" value=""></label>
        <button type="button" class="accept" data-sha="${esc(p.sha256)}">Accept</button>
        <button type="button" class="reject" data-sha="${esc(p.sha256)}">Reject</button></div>` : "";
      return `<li class="proposal" data-sha="${esc(p.sha256)}">
        <div><strong>v${esc(p.version)}</strong> by ${esc(p.proposer)} —
          <span class="status">${esc(p.status)}</span>, takes effect
          ${esc(new Date(p.effective_at * 1000).toISOString().replace(".000", ""))}</div>
        <div>${esc(p.text)}</div>
        <pre class="diff">${esc(p.diff_text)}</pre>
        <div>answers: ${answers}; awaited: ${esc(p.awaited.join(", ") || "-")}</div>${form}</li>`;
    }).join("") || "<li>none</li>";
  }
  $("proposal-list").addEventListener("click", async (ev) => {
    const b = ev.target.closest("button");
    if (!b) return;
    const li = b.closest("li");
    const reason = li.querySelector(".reason").value.trim();
    if (!reason) { li.querySelector(".reason").focus(); return; }
    try {
      await api(`/accord/proposals/${b.dataset.sha}/answer`, { method: "POST",
        body: { decision: b.classList.contains("accept") ? "accept" : "reject", text: reason } });
    } catch (e) { alert("Not sent: " + e.message); }
    refreshProposals();
  });

  // ---- distress: shown at once, over the map, until acknowledged -----------------------------
  S.distress = new Map();
  function showDistress(m, receivedAt) {
    S.distress.set(m.id, { m, receivedAt, ours: m.from === S.party });
    renderDistress();
  }
  function renderDistress() {
    const open = [...S.distress.values()].filter((d) => !d.acked);
    $("distress").hidden = !open.length;
    $("distress").innerHTML = open.map(({ m, ours }) => {
      const b = m.body;
      const what = `${esc(b.callsign || "aircraft")} ${esc(b.nature || "")} at ${Number(b.lat).toFixed(4)},
        ${Number(b.lon).toFixed(4)}${b.alt_ft != null ? `, ${Math.round(b.alt_ft)} ft` : ""} on
        ${esc(b.frequency_mhz)} MHz`;
      const head = ours ? `DISTRESS sent to ${esc(m.to)}:` : `DISTRESS from ${esc(m.from)}:`;
      const ack = ours ? "" : `<button type="button" data-id="${esc(m.id)}">Acknowledge</button>`;
      return `<div class="call" data-id="${esc(m.id)}"><span>${head} ${what}</span>${ack}</div>`;
    }).join("");
  }
  $("distress").addEventListener("click", async (ev) => {
    const b = ev.target.closest("button");
    if (!b) return;
    try {
      await api(`/distress/${b.dataset.id}/ack`, { method: "POST", body: { text: "received, acting" } });
      const d = S.distress.get(b.dataset.id);
      if (d) d.acked = true;
      renderDistress();
    } catch (e) { alert("Not sent: " + e.message); }
  });
  async function refreshDistress() {
    let calls;
    try { calls = await api("/distress"); } catch (e) { return; }
    for (const c of calls) {
      if (c.direction !== "received") continue;
      const answered = c.answers.some((a) => a.direction === "sent");
      if (!S.distress.has(c.message.id)) S.distress.set(c.message.id, { m: c.message, receivedAt: c.logged_at, ours: false });
      S.distress.get(c.message.id).acked = answered;
    }
    renderDistress();
  }

  function circlePoly(lat, lon, r) {
    const out = [];
    for (let k = 0; k <= 48; k++) {
      const th = (k / 48) * 2 * Math.PI;
      const dLat = (r * Math.cos(th)) / R_EARTH * 180 / Math.PI;
      const dLon = (r * Math.sin(th)) / (R_EARTH * Math.cos(lat * Math.PI / 180)) * 180 / Math.PI;
      out.push([lon + dLon, lat + dLat]);
    }
    return out;
  }
  async function refreshIntents() {
    try { S.intents = await api("/intents"); } catch (e) { S.intents = { own: [], others: [] }; }
    drawIntents();
  }
  function drawIntents() {
    const at = (S.t || Date.now() / 1000) + S.intentOffsetMin * 60;
    const feats = [];
    const add = (i, own) => {
      for (const v of i.volumes) {
        if (at < v.time[0] || at > v.time[1]) continue;
        if (v.alt[1] < S.flMin * 100 || v.alt[0] > S.flMax * 100) continue;
        const ring = v.circle ? circlePoly(v.circle[0], v.circle[1], v.circle[2]) : v.polygon;
        feats.push({ type: "Feature", geometry: { type: "Polygon", coordinates: [ring] },
          properties: { colour: partyColour(i.party), own } });
      }
    };
    for (const i of S.intents.own || []) add(i, true);
    for (const i of S.intents.others || []) add(i, false);
    if (S.mapReady) S.map.getSource("intents").setData({ type: "FeatureCollection", features: feats });
    $("intent-list").innerHTML = (S.intents.own || []).map((i) =>
      `<li class="item"><strong>${esc(i.id)}</strong> v${i.version} · ${esc(i.state)} · ${esc(i.class)} · ` +
      `priority ${i.priority} · ${i.volumes.length} volume(s)</li>`).join("") || `<li class="hint">No intents of ours.</li>`;
  }

  // layers and filters
  for (const k of ["labels", "leaders", "trails", "zones", "intents"]) {
    $("show-" + k).addEventListener("change", (e) => {
      S.show[k] = e.target.checked;
      const vis = e.target.checked ? "visible" : "none";
      if (k === "zones") for (const l of ["zones-fill", "zones-line"]) S.map.setLayoutProperty(l, "visibility", vis);
      if (k === "intents") for (const l of ["intents-fill", "intents-line"]) S.map.setLayoutProperty(l, "visibility", vis);
      S.dirty = true; schedule(); S.map.triggerRepaint();
    });
  }
  for (const id of ["fl-min", "fl-max"]) {
    $(id).addEventListener("change", () => {
      S.flMin = Number($("fl-min").value) || 0; S.flMax = Number($("fl-max").value) || 0;
      S.dirty = true; schedule(); drawIntents();
    });
  }
  $("intent-time").addEventListener("input", (e) => {
    S.intentOffsetMin = Number(e.target.value);
    $("intent-time-out").textContent = `${S.intentOffsetMin} min`;
    drawIntents();
  });

  // tabs: arrow keys move between them (WAI-ARIA tabs pattern)
  const TABS = ["alerts", "aircraft", "line", "accord", "layers"];
  function showTab(name) {
    for (const t of TABS) {
      const on = t === name;
      $("tab-" + t).setAttribute("aria-selected", String(on));
      $("tab-" + t).tabIndex = on ? 0 : -1;
      $("panel-" + t).hidden = !on;
    }
    if (name === "line") refreshLine();
    if (name === "layers") refreshIntents();
  }
  for (const t of TABS) {
    $("tab-" + t).addEventListener("click", () => showTab(t));
    $("tab-" + t).addEventListener("keydown", (ev) => {
      const k = TABS.indexOf(t);
      let n = null;
      if (ev.key === "ArrowRight") n = TABS[(k + 1) % TABS.length];
      if (ev.key === "ArrowLeft") n = TABS[(k + TABS.length - 1) % TABS.length];
      if (n) { ev.preventDefault(); showTab(n); $("tab-" + n).focus(); }
    });
  }

  // ---- start ----------------------------------------------------------------------------------------
  let started = false;
  function start() {
    renderLegend();
    if (!started) {
      started = true;
      initMap();
      fetch("/static/basemap.geojson").then((r) => r.json()).then((fc) => {
        PLACES = fc.features.filter((f) => f.properties.layer !== "country")
          .map((f) => [f.properties.name, f.geometry.coordinates]);
      });
      setInterval(() => { if (S.token) refreshLine(); }, 5000);
      setInterval(() => { if (S.token) refreshIntents(); }, 15000);
    }
    connect();
  }

  if (S.token) {
    login(S.token).catch((e) => logout(e.message));
  } else {
    $("token").focus();
  }
})();

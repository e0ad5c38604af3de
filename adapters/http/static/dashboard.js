// The wearstream dashboard: sign in, watch a developer's users over the streaming protocol.
//
// The API key is read from the form for the one request that mints a dashboard token and is
// then cleared; nothing is written to localStorage or cookies. The token is redeemed by
// IDENTIFY type 2 (a read-only dashboard session, see docs/protocol.md). Charts are drawn with
// the Canvas API; no third-party code. At sign-in the key also buys a *link minter*, the only
// credential the "Stream a phone" form sends; it is held in this script's memory while the
// dashboard is live and can mint producer links only (docs/dashboard.md).
"use strict";

const OP = { HEARTBEAT: 0, HELLO: 2, IDENTIFY: 3, READY: 4, DISPATCH: 5, PRESENCE: 10 };
const DASHBOARD = 2;
const WINDOW_MS = 5 * 60 * 1000; // the charts show the last five minutes…
const MIN_SPAN_MS = 60 * 1000; // …or, until there is that much, the first minute
const MAX_POINTS = 3000; // per chart: bounds memory at high sample rates
const REDRAW_MS = 250;
const STATS_MS = 2000;
const COLOURS = ["#ff5d6c", "#58a6ff", "#3fb950"];
const UNITS = {
  HEART_RATE: "bpm", RR_INTERVAL: "ms", HRV: "ms", ECG: "mV", STEPS: "steps",
  STEPS_CADENCE: "steps/s", DISTANCE: "m", SPEED: "m/s", FLOORS_CLIMBED: "floors",
  POWER: "W", BIKE_CADENCE: "rpm", ACCELERATION: "m/s²", GYROSCOPE: "rad/s", CALORIES: "kcal",
  MET: "MET", LOCATION: "°", CORE_TEMPERATURE: "°C", SKIN_TEMPERATURE: "°C",
  OXYGEN_SATURATION: "%", BATTERY: "%",
};

const $ = (id) => document.getElementById(id);
const users = new Map(); // uid -> { tile, series: Map(type -> series) }
let socket = null;
let timers = [];
let minter = null; // the link minter of this sign-in: mints producer links, nothing else

// Signing in --------------------------------------------------------------------------------

$("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  const devId = $("dev-id").value.trim();
  const key = $("api-key").value;
  $("api-key").value = "";
  $("sign-in-error").textContent = "";
  try {
    const { token } = await signInPost("/auth/dashboard", devId, key);
    ({ minter } = await signInPost("/dashboard/producer-link-minter", devId, key));
    const config = await fetchJson("/dashboard/config");
    connect(config.ws_url, token);
  } catch (error) {
    $("sign-in-error").textContent = error.message;
  }
});

$("sign-out").addEventListener("click", () => socket && socket.close(1000, "signed out"));

// Sign-in's two mints with the developer's credentials: the dashboard token and the minter of
// producer links (the key is forgotten right after).
async function signInPost(path, devId, key) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "dev-id": devId, "x-api-key": key },
    cache: "no-store",
    credentials: "omit",
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`sign-in refused (${response.status}): ${text}`);
  return JSON.parse(text);
}

async function fetchJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

// The session -------------------------------------------------------------------------------

function connect(url, token) {
  setState("connecting…");
  socket = new WebSocket(url);
  socket.onmessage = (message) => handle(JSON.parse(message.data), token);
  socket.onclose = (event) => {
    timers.forEach(clearInterval);
    timers = [];
    socket = null;
    minter = null;
    hideLink();
    setState(`disconnected (${event.code}${event.reason ? ": " + event.reason : ""})`);
    $("sign-in").hidden = false;
    $("sign-out").hidden = true;
  };
}

function handle(frame, token) {
  if (frame.op === OP.HELLO) {
    socket.send(JSON.stringify({ op: OP.IDENTIFY, d: { token, type: DASHBOARD } }));
    startHeartbeat(frame.d.heartbeat_interval);
  } else if (frame.op === OP.READY) {
    setState("live");
    $("sign-in").hidden = true;
    $("sign-out").hidden = false;
    $("live").hidden = false;
    timers.push(setInterval(redraw, REDRAW_MS));
    pollStats();
    timers.push(setInterval(pollStats, STATS_MS));
  } else if (frame.op === OP.DISPATCH) {
    addReading(frame.uid, frame.t, frame.d);
  } else if (frame.op === OP.PRESENCE) {
    showPresence(frame.d);
  }
}

function startHeartbeat(intervalMs) {
  const beat = () => socket && socket.send(JSON.stringify({ op: OP.HEARTBEAT }));
  const first = setTimeout(() => {
    beat();
    timers.push(setInterval(beat, intervalMs));
  }, intervalMs * Math.random());
  timers.push(first);
}

function setState(text) {
  $("state").textContent = text;
}

// Producer links: a phone streams as a user ------------------------------------------------

$("producer-link").addEventListener("submit", async (event) => {
  event.preventDefault();
  const uid = $("link-user").value.trim();
  hideLink();
  try {
    showLink(await mintLink(uid));
  } catch (error) {
    $("link-error").textContent = error.message;
  }
});

$("link-copy").addEventListener("click", async () => {
  $("link-url").select();
  try {
    await navigator.clipboard.writeText($("link-url").value);
    $("link-copy").textContent = "Copied";
  } catch {
    $("link-copy").textContent = "Press Ctrl+C"; // selected: the clipboard API was refused
  }
});

async function mintLink(uid) {
  if (!minter) throw new Error("sign in again to make producer links");
  const response = await fetch(`/dashboard/producer-link?id=${encodeURIComponent(uid)}`, {
    method: "POST",
    headers: { authorization: `Bearer ${minter}` },
    cache: "no-store",
    credentials: "omit",
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`no link for ${JSON.stringify(uid)} (${response.status}): ${text.split("\n")[0]}`);
  return JSON.parse(text);
}

function showLink(answer) {
  const until = new Date(Date.now() + answer.expires_in * 1000);
  $("link-qr").src = answer.qr_svg;
  $("link-url").value = answer.url;
  $("link-for").textContent = answer.user_id;
  $("link-expiry").textContent = `${until.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })} (${Math.round(answer.expires_in / 60)} min)`;
  $("link-hint").textContent = hint(new URL(answer.url));
  $("link-copy").textContent = "Copy";
  $("link").hidden = false;
}

// What the phone needs to open this link: browsers give Bluetooth to https:// pages and to
// loopback hosts only, and a loopback host is the phone itself.
function hint(url) {
  if (["localhost", "127.0.0.1", "[::1]"].includes(url.hostname)) {
    return `${url.host} is this computer: open the link here, or on an Android phone on USB after ` +
      `"adb reverse tcp:${url.port || 80} tcp:${url.port || 80}"; for a phone on the network, give the broker ` +
      "--public-url (docs/web-producer.md).";
  }
  if (url.protocol !== "https:") {
    return "A phone gives an http:// page on another host no Bluetooth: serve the broker over HTTPS " +
      "and give it --public-url https://… (docs/web-producer.md).";
  }
  return "The phone needs Chrome or Edge (Android, ChromeOS, Windows, macOS, Linux) for Web Bluetooth.";
}

function hideLink() {
  $("link").hidden = true;
  $("link-qr").removeAttribute("src");
  $("link-url").value = "";
  $("link-error").textContent = "";
}

// Users and their series --------------------------------------------------------------------

function user(uid) {
  let entry = users.get(uid);
  if (!entry) {
    const tile = $("tile-template").content.firstElementChild.cloneNode(true);
    tile.dataset.uid = uid;
    tile.querySelector(".uid").textContent = uid;
    entry = { tile, series: new Map() };
    users.set(uid, entry);
    const sorted = [...users.keys()].sort();
    const next = users.get(sorted[sorted.indexOf(uid) + 1]);
    $("users").insertBefore(tile, next ? next.tile : null);
    $("no-users").hidden = true;
  }
  return entry;
}

function series(entry, type) {
  let s = entry.series.get(type);
  if (!s) {
    const figure = $("series-template").content.firstElementChild.cloneNode(true);
    figure.dataset.type = type;
    figure.querySelector(".type").textContent = type;
    s = { figure, canvas: figure.querySelector("canvas"), latest: figure.querySelector(".latest"), points: [] };
    entry.series.set(type, s);
    const box = entry.tile.querySelector(".series");
    const after = [...box.children].find((f) => f.dataset.type > type);
    box.insertBefore(figure, type === "HEART_RATE" ? box.firstChild : after || null);
  }
  return s;
}

// A reading's numbers: its value, the components of a short vector, or a chunk's mean.
function values(d) {
  if (typeof d.val === "number") return [d.val];
  if (!Array.isArray(d.d) || d.d.length === 0) return null;
  if (d.d.length <= 3) return d.d;
  return [d.d.reduce((a, b) => a + b, 0) / d.d.length];
}

function timeOf(ts) {
  // ISO-8601 with microseconds: keep milliseconds, which every browser parses.
  const ms = Date.parse(String(ts).replace(/(\.\d{3})\d+/, "$1"));
  return Number.isFinite(ms) ? ms : Date.now();
}

function addReading(uid, type, d) {
  const v = values(d);
  if (v === null) return;
  const entry = user(uid);
  const s = series(entry, type);
  s.points.push([timeOf(d.ts), v]);
  if (s.points.length > MAX_POINTS) s.points.splice(0, s.points.length - MAX_POINTS);
  const shown = v.map((x) => format(x)).join(" / ");
  s.latest.textContent = `${shown} ${unitOf(type)}`;
  if (type === "HEART_RATE") {
    entry.tile.querySelector(".hr").hidden = false;
    entry.tile.querySelector(".hr-value").textContent = Math.round(v[0]);
  }
}

// A known type's unit, also behind an exercise prefix (RUNNING_HEART_RATE).
function unitOf(type) {
  const known = Object.keys(UNITS).find((k) => type === k || type.endsWith("_" + k));
  return known ? UNITS[known] : "";
}

function format(x) {
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function showPresence(p) {
  const entry = user(p.uid);
  const link = entry.tile.querySelector(".link");
  link.textContent = p.online ? "producer online" : "producer offline";
  link.classList.toggle("online", p.online);
  const list = entry.tile.querySelector(".devices");
  list.replaceChildren(
    ...p.devices.map((device) => {
      const item = document.createElement("li");
      item.className = device.connected ? "connected" : "disconnected";
      const name = device.device_id || "device";
      const detail = device.connected ? "connected" : `disconnected${device.reason ? ": " + device.reason : ""}`;
      item.textContent = `${name} ${detail}`;
      return item;
    }),
  );
}

// Charts ------------------------------------------------------------------------------------

function redraw() {
  const now = Date.now();
  for (const entry of users.values()) {
    for (const s of entry.series.values()) {
      while (s.points.length && s.points[0][0] < now - WINDOW_MS) s.points.shift();
      draw(s.canvas, s.points, now);
    }
  }
}

function draw(canvas, points, now) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth * ratio;
  const height = canvas.clientHeight * ratio;
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, width, height);
  if (!points.length) return;
  let lo = Infinity;
  let hi = -Infinity;
  for (const [, v] of points) for (const x of v) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
  if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
  const pad = 4 * ratio;
  const right = Math.max(now, points[points.length - 1][0]);
  const span = Math.min(WINDOW_MS, Math.max(MIN_SPAN_MS, right - points[0][0]));
  const xOf = (t) => width - ((right - t) / span) * width;
  const yOf = (x) => pad + (1 - (x - lo) / (hi - lo)) * (height - 2 * pad);
  g.lineWidth = 1.5 * ratio;
  points[0][1].forEach((_, i) => {
    g.strokeStyle = COLOURS[i % COLOURS.length];
    g.beginPath();
    points.forEach(([t, v], n) => (n ? g.lineTo(xOf(t), yOf(v[i])) : g.moveTo(xOf(t), yOf(v[i]))));
    g.stroke();
  });
  g.fillStyle = "#8b98a5";
  g.font = `${10 * ratio}px system-ui, sans-serif`;
  g.fillText(format(hi), 2 * ratio, 10 * ratio);
  g.fillText(format(lo), 2 * ratio, height - 2 * ratio);
}

// The broker panel --------------------------------------------------------------------------

let lastStats = null;

async function pollStats() {
  try {
    const stats = await fetchJson("/healthz");
    const at = performance.now();
    $("stat-connections").textContent = stats.connections;
    $("stat-consumers").textContent = stats.consumers;
    $("stat-dashboards").textContent = stats.dashboards;
    $("stat-stored").textContent = stats.payloads_in;
    if (lastStats) {
      const seconds = (at - lastStats.at) / 1000;
      $("stat-rate-in").textContent = ((stats.payloads_in - lastStats.in) / seconds).toFixed(1);
      $("stat-rate-out").textContent = ((stats.payloads_out - lastStats.out) / seconds).toFixed(1);
    }
    lastStats = { at, in: stats.payloads_in, out: stats.payloads_out };
  } catch (error) {
    setState(`live (broker stats unavailable: ${error.message})`);
  }
}

// The OBS overlay: polls /overlay/<user>/latest (same query as the page) and shows the value.
// The query was validated by the broker before it served this page, so it is applied as it is.
"use strict";

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
const type = (query.get("type") || "").toUpperCase();
const latestUrl = location.pathname.replace(/\/+$/, "") + "/latest" + location.search;
let pollMs = 1000;
let shown = false; // a value is on screen
const RETRY_MS = 5000;

function theme() {
  const style = document.body.style;
  if (query.get("color")) style.setProperty("--color", query.get("color"));
  if (query.get("size")) style.setProperty("--size", `${parseInt(query.get("size"), 10)}px`);
  $("heart").hidden = !type.endsWith("HEART_RATE");
}

function show(answer) {
  const box = $("overlay");
  $("problem").hidden = true;
  box.hidden = false;
  $("unit").textContent = answer.unit;
  if (answer.value === null) {
    box.className = "overlay waiting";
    return;
  }
  const value = answer.value;
  shown = true;
  $("value").textContent = Math.abs(value) >= 100 || Number.isInteger(value)
    ? String(Math.round(value)) : value.toFixed(1);
  const stale = answer.age_s > answer.stale_after_s;
  box.className = stale ? "overlay stale" : "overlay live";
  if (type.endsWith("HEART_RATE") && value >= 20 && value <= 300) {
    // One beat of the animation per heartbeat at the current rate.
    document.body.style.setProperty("--beat", `${(60 / value).toFixed(3)}s`);
    $("heart").classList.add("beating");
  } else {
    $("heart").classList.remove("beating");
  }
}

// A passing trouble (broker restarting, busy) on a live stream: keep the last value, dimmed,
// rather than put an error box on screen; with nothing shown yet, say what is wrong.
function trouble(text) {
  if (shown) {
    $("overlay").className = "overlay stale";
  } else {
    problem(text);
  }
}

function problem(text) {
  $("overlay").hidden = true;
  $("problem").textContent = text;
  $("problem").hidden = false;
}

async function poll() {
  let next = pollMs;
  try {
    const response = await fetch(latestUrl, { cache: "no-store", credentials: "omit" });
    const answer = await response.json();
    if (response.ok) {
      pollMs = answer.poll_ms || pollMs;
      next = pollMs;
      show(answer);
    } else if (response.status === 403 || response.status === 400) {
      problem(answer.error);
      return; // the token or the URL is wrong: asking again will not change that
    } else {
      trouble(answer.error || `broker answered ${response.status}`);
      next = RETRY_MS;
    }
  } catch (error) {
    trouble("cannot reach the broker; retrying");
    next = RETRY_MS;
  }
  setTimeout(poll, next);
}

theme();
poll();

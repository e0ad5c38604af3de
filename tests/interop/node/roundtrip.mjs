// A producer -> consumer round trip against a wearstream broker, written the way Node clients
// of Terra's Streaming API are: `ws` for the socket, global fetch for the tokens.
// Usage: node roundtrip.mjs WS_URL HTTP_URL DEV_ID API_KEY < SENT
// (SENT on stdin: JSON {"user", "readings": [{"t", "d"}, ...]}, what the producer submits for user).
// Prints one JSON line: what each step of the round trip (../roundtrip_scenario.js) saw.
import { readFileSync } from "node:fs";
import WebSocket from "ws";
import "../roundtrip_scenario.js"; // defines globalThis.roundTripScenario, shared with the browser client

const [wsUrl, httpUrl, devId, apiKey] = process.argv.slice(2);
const sent = JSON.parse(readFileSync(0, "utf8"));
const TIMEOUT_MS = 5000;
const headers = { "dev-id": devId, "x-api-key": apiKey };

async function mint(path) {
  const response = await fetch(httpUrl + path, { method: "POST", headers });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`);
  return (await response.json()).token;
}

// A socket whose frames are read in order with `next()`, and whose close is a promise.
function open(url) {
  const ws = new WebSocket(url);
  const frames = [];
  const waiting = [];
  ws.on("message", (data, isBinary) => {
    if (isBinary) throw new Error("the broker sent a binary message");
    const frame = JSON.parse(data.toString());
    const waiter = waiting.shift();
    if (waiter) waiter(frame); else frames.push(frame);
  });
  const closed = new Promise((resolve) => ws.on("close", (code, reason) => resolve([code, reason.toString()])));
  ws.on("error", (error) => { console.error(`socket error: ${error.message}`); });
  const next = () => frames.length ? Promise.resolve(frames.shift()) : new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no frame within the timeout")), TIMEOUT_MS);
    waiting.push((frame) => { clearTimeout(timer); resolve(frame); });
  });
  const opened = new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
  return { ws, next, closed, opened, acks: 0 };
}

async function main() {
  const consumerToken = await mint("/auth/developer");
  const producerToken = await mint(`/auth/user?id=${encodeURIComponent(sent.user)}`);
  const result = await globalThis.roundTripScenario({ open, wsUrl, consumerToken, producerToken, sent });
  console.log(JSON.stringify(result));
}

main().catch((error) => { console.error(error.stack || String(error)); process.exit(1); });

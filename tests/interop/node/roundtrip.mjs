// A producer -> consumer round trip against a wearstream broker, written the way Node clients
// of Terra's Streaming API are: `ws` for the socket, global fetch for the tokens.
// Usage: node roundtrip.mjs WS_URL HTTP_URL DEV_ID API_KEY < SENT
// (SENT on stdin: JSON {"user", "readings": [{"t", "d"}, ...]}, what the producer submits for user).
// Prints one JSON line: what each step saw (tests/interop/conftest.py check_round_trip).
import { readFileSync } from "node:fs";
import WebSocket from "ws";

const [wsUrl, httpUrl, devId, apiKey] = process.argv.slice(2);
const sent = JSON.parse(readFileSync(0, "utf8"));
const TIMEOUT_MS = 5000;
const HEARTBEAT = JSON.stringify({ op: 0 });
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

async function until(socket, op, uid) {
  for (;;) {
    const frame = await socket.next();
    if (frame.op === op && (uid === undefined || frame.uid === uid)) return frame;
    if (frame.op === 1) socket.acks += 1;
  }
}

async function identify(socket, token, type) {
  socket.ws.send(JSON.stringify({ op: 3, d: { token, type } }));
  let frame = await socket.next();
  while (frame.op === 1) { socket.acks += 1; frame = await socket.next(); }
  return frame.op;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const consumerToken = await mint("/auth/developer");
  const producerToken = await mint(`/auth/user?id=${encodeURIComponent(sent.user)}`);
  const result = {};

  const consumer = open(wsUrl);
  await consumer.opened;
  result.hello = await consumer.next();
  consumer.ws.send(HEARTBEAT); // at HELLO, before IDENTIFY, as Terra clients do
  const consumerReady = await identify(consumer, consumerToken, 1);

  const producer = open(wsUrl);
  await producer.opened;
  await producer.next();
  result.ready = [consumerReady, await identify(producer, producerToken, 0)];
  for (const reading of sent.readings) producer.ws.send(JSON.stringify({ op: 6, ...reading }));
  result.dispatches = [];
  for (const _ of sent.readings) result.dispatches.push(await until(consumer, 5, sent.user));
  producer.ws.send(HEARTBEAT);
  await until(producer, 1);
  producer.acks += 1;
  producer.ws.close(1000, "done");
  const [producerClose] = await producer.closed;

  for (let i = 0; i < 3; i++) {
    await sleep(300);
    consumer.ws.send(HEARTBEAT);
    await until(consumer, 1);
    consumer.acks += 1;
  }
  consumer.ws.close(1000, "done");
  const [consumerClose] = await consumer.closed;
  result.acks = [consumer.acks, producer.acks];
  result.closes = [producerClose, consumerClose];

  const again = open(wsUrl);
  await again.opened;
  await again.next();
  again.ws.send(JSON.stringify({ op: 3, d: { token: producerToken, type: 0 } }));
  result.spent = await again.closed;
  console.log(JSON.stringify(result));
}

main().catch((error) => { console.error(error.stack || String(error)); process.exit(1); });

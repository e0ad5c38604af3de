// A Terra consumer as Node users write them: the `ws` package and the built-in fetch. It knows
// nothing of wearstream. Habits: heartbeat at HELLO before IDENTIFY, then after interval × jitter
// and every interval; `ts` read only when it ends in a literal Z (else silently dropped); one
// base URL for both endpoints when given one. Prints one JSON summary line after SECONDS.
//   node consumer.mjs '{"apiUrl":…,"wsUrl":…,"baseUrl":…,"devId":…,"apiKey":…,"seconds":3}'
import { createRequire } from "node:module";

// `ws` is installed once for the Node tests (tests/interop/node, by .ci/run); NODE_PATH names it.
const WebSocket = createRequire(import.meta.url)("ws");

const opts = JSON.parse(process.argv[2]);
const apiUrl = opts.baseUrl ?? opts.apiUrl;
const wsUrl = opts.baseUrl ? opts.baseUrl.replace(/^http/, "ws") + "/connect" : opts.wsUrl;
const Z = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

const response = await fetch(`${apiUrl}/auth/developer`, {
  method: "POST",
  headers: { "dev-id": opts.devId, "x-api-key": opts.apiKey },
});
const { token } = await response.json();

const summary = { samples: [], unparsed: [], heartbeats: 0, acks: 0, ready: null, close: null };
const ws = new WebSocket(wsUrl);
let timer = null;
const beat = () => {
  ws.send(JSON.stringify({ op: 0 }));
  summary.heartbeats += 1;
};

ws.on("message", (data) => {
  const frame = JSON.parse(data.toString());
  if (frame.op === 2) {
    const interval = frame.d.heartbeat_interval;
    beat();
    ws.send(JSON.stringify({ op: 3, d: { token, type: 1 } }));
    timer = setTimeout(function again() {
      beat();
      timer = setTimeout(again, interval);
    }, interval * (0.1 + 0.9 * Math.random()));
  } else if (frame.op === 1) {
    summary.acks += 1;
  } else if (frame.op === 4) {
    summary.ready = frame;
  } else if (frame.op === 5) {
    if (!Z.test(frame.d.ts) || Number.isNaN(Date.parse(frame.d.ts))) {
      summary.unparsed.push(frame.d.ts);
      return;
    }
    summary.samples.push({ seq: frame.seq, uid: frame.uid, t: frame.t, at: frame.d.ts });
  }
});
ws.on("close", (code, reason) => {
  summary.close = summary.close ?? [code, reason.toString()];
});
ws.on("error", (error) => {
  summary.close = [null, String(error)];
});

setTimeout(() => {
  clearTimeout(timer);
  console.log(JSON.stringify(summary));
  ws.close(1000);
  setTimeout(() => process.exit(0), 200);
}, opts.seconds * 1000);

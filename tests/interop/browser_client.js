// The round trip (roundtrip_scenario.js, added to the page first) from a web page, with the
// browser's own WebSocket API. The test mints the tokens over HTTP and hands them in (a page on
// another origin could not call the token API without CORS); everything on the socket is done here.
// window.roundTrip({wsUrl, consumerToken, producerToken, sent}) resolves to what each step saw.
(() => {
  const TIMEOUT_MS = 5000;

  function open(url) {
    const ws = new WebSocket(url);
    const frames = [];
    const waiting = [];
    ws.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      const waiter = waiting.shift();
      if (waiter) waiter(frame); else frames.push(frame);
    };
    const closed = new Promise((resolve) => { ws.onclose = (event) => resolve([event.code, event.reason]); });
    const opened = new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error("WebSocket error"));
    });
    const next = () => frames.length ? Promise.resolve(frames.shift()) : new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no frame within the timeout")), TIMEOUT_MS);
      waiting.push((frame) => { clearTimeout(timer); resolve(frame); });
    });
    return { ws, next, closed, opened, acks: 0 };
  }

  window.roundTrip = (arguments_) => globalThis.roundTripScenario({ open, ...arguments_ });
})();

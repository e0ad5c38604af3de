// The round trip every interop client runs: a consumer and a producer of one developer, their
// readings, heartbeats, closes, and a spent token refused. Shared by the browser client
// (browser_client.js, the page's own WebSocket) and the Node client (node/roundtrip.mjs, `ws`),
// which differ only in how a socket is opened: `open(url)` must return
// { ws, next, closed, opened, acks: 0 } with `next()` the next frame as an object, `closed` a
// promise of [code, reason] and `opened` a promise of the open.
// A classic script (not a module), so a page can add it with a script tag and Node can import it;
// it defines globalThis.roundTripScenario (tests/interop/conftest.py check_round_trip reads the result).
(() => {
  const HEARTBEAT = JSON.stringify({ op: 0 });
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

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

  globalThis.roundTripScenario = async ({ open, wsUrl, consumerToken, producerToken, sent }) => {
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
    return result;
  };
})();

// A producer -> consumer round trip from a web page, with the browser's own WebSocket API.
// The test mints the tokens over HTTP and hands them in (a page on another origin could not
// call the token API without CORS); everything on the socket is done here.
// window.roundTrip({wsUrl, consumerToken, producerToken, sent}) resolves to what each step saw
// (tests/interop/conftest.py check_round_trip).
(() => {
  const TIMEOUT_MS = 5000;
  const HEARTBEAT = JSON.stringify({ op: 0 });

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

  window.roundTrip = async ({ wsUrl, consumerToken, producerToken, sent }) => {
    const result = {};
    const consumer = open(wsUrl);
    await consumer.opened;
    result.hello = await consumer.next();
    consumer.ws.send(HEARTBEAT);
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

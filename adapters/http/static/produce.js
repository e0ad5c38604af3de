/* The /produce page: a Bluetooth strap streamed to the broker from a browser tab.
 *
 * 1. Credentials (docs/web-producer.md, "Producer links"): the page is opened at
 *    /produce#link=CODE; it redeems the code once (POST /produce/session), keeps the session
 *    credential in IndexedDB, and removes the code from the address bar. Before every connection
 *    it mints a single-use producer token (POST /produce/token). It never sees an API key.
 * 2. The strap: Web Bluetooth, notifications of Heart Rate (and Cycling Power, RSC, CSC where the
 *    device offers them; Battery Level read and followed), decoded by gatt.js exactly as the
 *    Python producer decodes them.
 * 3. Nothing lost while the page lives: every reading goes into an IndexedDB outbox first; the
 *    link sends SUBMITs with the entry's key as the idempotency id (docs/protocol.md,
 *    "acknowledged submits"), deletes entries only when a SUBMIT_ACK covers them, and after a
 *    reconnect sends everything unacknowledged again, in order, under the same ids.
 */
(function () {
  'use strict';

  const gatt = window.wearstreamGatt;
  const DB_NAME = 'wearstream-produce';
  const WINDOW = 1000; // SUBMITs in flight at most, as the Python producer
  const PEEK = 500; // outbox entries read at a time
  const BACKOFF = { initial: 0.5, maximum: 30, factor: 2 }; // seconds, domain/backoff.py
  const MAX_REFUSED_TOKENS = 3; // fresh tokens refused in a row: not the same broker
  const READY_TIMEOUT_S = 30; // from opening the socket to READY (the Python producer: 10 s a step)
  const SERVICES = ['heart_rate', 'cycling_power', 'running_speed_and_cadence', 'cycling_speed_and_cadence'];
  // Close codes after which reconnecting cannot help (domain/closecodes.py).
  const STOP = {
    1003: 'the broker refused a frame of this page (a bug: please report it)',
    1009: 'a frame was too large for the broker (a bug: please report it)',
    4000: 'no IDENTIFY in time (a bug: please report it)',
    4003: 'a second IDENTIFY (a bug: please report it)',
    4004: 'an operation the broker does not allow here (a bug: please report it)',
    4009: 'the developer was revoked: ask for a new link',
  };
  const UNITS = { HEART_RATE: 'bpm', POWER: 'W', SPEED: 'm/s', BIKE_CADENCE: 'rpm' };

  class Stop extends Error {}

  const $ = (id) => document.getElementById(id);
  const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

  function say(text, error = false) {
    $('message').textContent = text;
    $('message').classList.toggle('error', error);
  }

  function backoffDelay(attempt) {
    const cap = Math.min(BACKOFF.maximum, BACKOFF.initial * BACKOFF.factor ** attempt);
    return attempt === 0 ? cap / 2 + Math.random() * cap / 2 : Math.random() * cap; // full jitter
  }

  function nowMicros() {
    return Math.round((performance.timeOrigin + performance.now()) * 1000);
  }

  // IndexedDB -----------------------------------------------------------------------------------

  function request(req) {
    return new Promise((resolve, reject) => {
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  /* The outbox (key = SUBMIT id, from the store's key generator, which never gives a key twice)
   * and a few settings (the outbox's source name, the session credential). */
  class Store {
    static async open() {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => {
        req.result.createObjectStore('meta');
        req.result.createObjectStore('outbox', { autoIncrement: true });
      };
      const store = new Store(await request(req));
      store.source = await store.get('source');
      if (!store.source) {
        // One source per outbox: the broker drops a SUBMIT whose id is not above the highest it
        // stored for this source, so a new database (ids from 1 again) needs a new name.
        store.source = `web-${crypto.randomUUID()}`;
        await store.put('source', store.source);
      }
      return store;
    }

    constructor(db) {
      this.db = db;
    }

    done(tx) {
      return new Promise((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error || new Error('IndexedDB transaction aborted'));
      });
    }

    async get(key) {
      return request(this.db.transaction('meta').objectStore('meta').get(key));
    }

    async put(key, value) {
      const tx = this.db.transaction('meta', 'readwrite');
      tx.objectStore('meta').put(value, key);
      return this.done(tx);
    }

    async remove(key) {
      const tx = this.db.transaction('meta', 'readwrite');
      tx.objectStore('meta').delete(key);
      return this.done(tx);
    }

    /* Adds readings in one transaction; called synchronously per value, so keys keep arrival order. */
    add(submits, userId) {
      const tx = this.db.transaction('outbox', 'readwrite');
      const outbox = tx.objectStore('outbox');
      for (const submit of submits) outbox.add({ ...submit, user: userId });
      return this.done(tx);
    }

    /* Up to ``limit`` entries with a key above ``after``, in key order: [{id, t, d, user}]. */
    peek(after, limit) {
      const range = IDBKeyRange.lowerBound(after, true);
      const req = this.db.transaction('outbox').objectStore('outbox').openCursor(range);
      const entries = [];
      return new Promise((resolve, reject) => {
        req.onerror = () => reject(req.error);
        req.onsuccess = () => {
          const cursor = req.result;
          if (!cursor || entries.length >= limit) {
            resolve(entries);
            return;
          }
          entries.push({ id: cursor.key, ...cursor.value });
          cursor.continue();
        };
      });
    }

    ack(upto) {
      const tx = this.db.transaction('outbox', 'readwrite');
      tx.objectStore('outbox').delete(IDBKeyRange.upperBound(upto));
      return this.done(tx);
    }

    count() {
      return request(this.db.transaction('outbox').objectStore('outbox').count());
    }

    /* Drops queued readings of another user than ``userId`` (a link for a new user replaced the
     * credential that could send them); returns how many. */
    async dropOthers(userId) {
      const tx = this.db.transaction('outbox', 'readwrite');
      let dropped = 0;
      tx.objectStore('outbox').openCursor().onsuccess = (event) => {
        const cursor = event.target.result;
        if (!cursor) return;
        if (cursor.value.user !== userId) {
          cursor.delete();
          dropped += 1;
        }
        cursor.continue();
      };
      await this.done(tx);
      return dropped;
    }
  }

  // Credentials ---------------------------------------------------------------------------------

  async function redeemLink(store) {
    const match = /(?:^#|&)link=([^&]*)/.exec(window.location.hash);
    if (!match) return null;
    let response;
    try {
      response = await fetch('/produce/session', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ link: decodeURIComponent(match[1]) }),
      });
    } catch (error) {
      // Unanswered: the code is unspent and stays in the address for a reload.
      throw new Stop(`The broker cannot be reached (${error.message}): reload this page to try again.`);
    }
    // Answered: the code leaves the address bar and this history entry, spent or refused.
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
    if (response.status === 403) {
      throw new Stop('This link is unknown, already used or expired: ask for a new one.');
    }
    if (!response.ok) throw new Stop(`The broker could not open this link (HTTP ${response.status}): try it again.`);
    const body = await response.json();
    const credential = {
      session: body.session, user: body.user_id, expires: Date.now() + body.expires_in * 1000,
    };
    await store.put('credential', credential);
    return credential;
  }

  async function mintToken(store, credential) {
    let response;
    try {
      response = await fetch('/produce/token', {
        method: 'POST', headers: { authorization: `Bearer ${credential.session}` },
      });
    } catch (error) {
      throw new Error(`the broker cannot be reached (${error.message})`);
    }
    if (response.status === 403) {
      await store.remove('credential'); // a reload must not try it again
      throw new Stop('This producer session has ended (expired or revoked): open a new link.');
    }
    if (response.status === 408 || response.status === 429 || response.status >= 500) {
      throw new Error(`the broker answered HTTP ${response.status}`);
    }
    if (!response.ok) throw new Stop(`The broker refused a token (HTTP ${response.status}).`);
    return (await response.json()).token;
  }

  /* Where /connect may be: this page's own origin first (one port, or a proxy in front of it),
   * then the address the broker gives for its WebSocket port (the page was loaded from
   * --http-port's own port). */
  async function brokerUrls() {
    const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    const urls = [`${scheme}//${window.location.host}/connect`];
    try {
      const response = await fetch('/dashboard/config');
      if (response.ok) {
        const { ws_url: given } = await response.json();
        if (given && !urls.includes(given)) urls.push(given);
      }
    } catch (error) {
      // the own origin only
    }
    return urls;
  }

  // The broker link -----------------------------------------------------------------------------

  class BrokerLink {
    constructor(store, credential, ui) {
      this.store = store;
      this.credential = credential;
      this.ui = ui;
      this.acked = 0; // highest id the broker acknowledged
      this.inflight = []; // ids sent on this connection and not acknowledged
      this.sent = 0; // highest id sent on this connection
      this.ws = null;
      this.pumping = false;
      this.again = false; // more to send arrived while pump() was busy
      this.refusedTokens = 0;
      this.device = null; // {id, connected, reason} for STATUS
      this.deleting = Promise.resolve();
      this.urls = null; // where /connect may be (brokerUrls), and which one is tried
      this.urlIndex = 0;
    }

    async run() {
      let attempt = 0;
      for (;;) {
        let outcome;
        try {
          outcome = await this.session();
        } catch (error) {
          if (error instanceof Stop) {
            this.ui.link(`stopped: ${error.message}`, 'stopped');
            say(error.message, true);
            return;
          }
          outcome = { worked: false, reason: error.message };
        }
        if (outcome.worked) attempt = 0;
        const delay = backoffDelay(attempt);
        attempt += 1;
        this.ui.link(`reconnecting in ${delay.toFixed(1)} s (${outcome.reason})`, 'down');
        const online = new AbortController();
        await Promise.race([sleep(delay * 1000), new Promise((resolve) => {
          window.addEventListener('online', resolve, { once: true, signal: online.signal });
        })]);
        online.abort();
      }
    }

    async nextUrl() {
      if (!this.urls) this.urls = await brokerUrls();
      return this.urls[this.urlIndex % this.urls.length];
    }

    /* One connection, until it closes: {worked, reason}; throws Stop when retrying cannot help. */
    session() {
      return this.nextUrl().then((url) => new Promise((resolve, reject) => {
        const ws = new WebSocket(url);
        let opened = false;
        ws.onopen = () => { opened = true; };
        let worked = false;
        let beat = null;
        let beatAcked = true;
        let failure = null; // why this page closed the socket itself
        this.ui.link('connecting…', 'down');
        const close = (reason) => {
          failure = reason;
          ws.close(1000);
        };
        // A tunnel can swallow a connection attempt without an answer: give up on it in time.
        const deadline = setTimeout(() => close(`no READY within ${READY_TIMEOUT_S} s`), READY_TIMEOUT_S * 1000);
        ws.onmessage = async (event) => {
          let frame;
          try {
            frame = JSON.parse(event.data);
          } catch (error) {
            return;
          }
          if (frame.op === 2) { // HELLO
            const interval = frame.d.heartbeat_interval;
            const tick = () => {
              if (!beatAcked) {
                close(`no HEARTBEAT_ACK within ${interval / 1000} s`);
                return;
              }
              beatAcked = false;
              ws.send(JSON.stringify({ op: 0 }));
            };
            beat = setTimeout(() => { tick(); beat = setInterval(tick, interval); }, Math.random() * interval);
            let token;
            try {
              token = await mintToken(this.store, this.credential); // only now: IDENTIFY spends it
            } catch (error) {
              failure = error;
              ws.close(1000);
              return;
            }
            ws.send(JSON.stringify({
              op: 3,
              d: { token, type: 0, source: this.store.source, ack: true, extensions: true },
            }));
          } else if (frame.op === 4) { // READY
            clearTimeout(deadline);
            worked = true;
            this.refusedTokens = 0;
            this.ws = ws;
            this.inflight = [];
            this.sent = this.acked; // everything unacknowledged goes again, in order
            this.ui.link('live', 'live');
            this.sendStatus();
            this.pump();
          } else if (frame.op === 1) {
            beatAcked = true;
          } else if (frame.op === 9) {
            this.acknowledged(frame.d.upto);
          } else if (frame.op === 11) {
            console.warn('the broker dropped a frame of this page:', frame.d);
          }
        };
        ws.onclose = (event) => {
          if (!opened) this.urlIndex += 1; // no WebSocket there: the next address next time
          clearTimeout(deadline);
          clearTimeout(beat);
          clearInterval(beat);
          if (this.ws === ws) this.ws = null;
          if (failure instanceof Stop) {
            reject(failure);
            return;
          }
          if (STOP[event.code]) {
            reject(new Stop(`The broker closed the connection (${event.code}): ${STOP[event.code]}.`));
            return;
          }
          if (event.code === 4001 && ++this.refusedTokens >= MAX_REFUSED_TOKENS) {
            reject(new Stop('The broker refused fresh tokens again and again: this page and /connect are not the same broker.'));
            return;
          }
          const why = failure ? (failure.message || failure) : `closed with ${event.code}${event.reason ? `: ${event.reason}` : ''}`;
          resolve({ worked, reason: why });
        };
      }));
    }

    acknowledged(upto) {
      if (!(upto > this.acked)) return;
      this.acked = upto;
      const before = this.inflight.length;
      this.inflight = this.inflight.filter((id) => id > upto);
      this.ui.countDelivered(before - this.inflight.length);
      // Deletes run one after another; a later ack covers an earlier one. A delete that fails
      // leaves entries the broker will take as resends: logged, not fatal.
      this.deleting = this.deleting.then(() => this.store.ack(upto)).then(
        () => this.ui.refreshQueue(this.store),
        (error) => console.warn(`could not forget acknowledged readings: ${error}`),
      );
      this.pump();
    }

    /* Send outbox entries above what was sent, while the in-flight window has room. */
    async pump() {
      if (this.pumping) {
        this.again = true;
        return;
      }
      this.pumping = true;
      try {
        do {
          this.again = false;
          const ws = this.ws;
          while (ws && ws === this.ws && ws.readyState === WebSocket.OPEN) {
            const room = WINDOW - this.inflight.length;
            if (room <= 0) break;
            const entries = await this.store.peek(Math.max(this.sent, this.acked), Math.min(room, PEEK));
            if (!entries.length || ws !== this.ws) break;
            for (const entry of entries) {
              if (entry.user !== this.credential.user) continue; // another user's: dropOthers removes it
              ws.send(JSON.stringify({ op: 6, t: entry.t, d: entry.d, id: entry.id }));
              this.inflight.push(entry.id);
            }
            this.sent = entries[entries.length - 1].id;
          }
        } while (this.again);
      } finally {
        this.pumping = false;
      }
    }

    deviceChanged(device) {
      this.device = device;
      this.sendStatus();
    }

    sendStatus() {
      if (!this.ws || !this.device) return;
      const d = { connected: this.device.connected, device_id: this.device.id, source: 'web-bluetooth' };
      if (this.device.reason) d.reason = this.device.reason.slice(0, 256);
      this.ws.send(JSON.stringify({ op: 8, d }));
    }
  }

  // The strap -----------------------------------------------------------------------------------

  class Strap {
    constructor(store, link, ui) {
      this.store = store;
      this.link = link;
      this.ui = ui;
      this.device = null;
      this.mapper = null;
      this.handlers = {}; // one listener per characteristic, so a reconnect never adds a second
    }

    async choose() {
      const filters = SERVICES.map((service) => ({ services: [service] }));
      this.device = await navigator.bluetooth.requestDevice({
        filters, optionalServices: [...SERVICES, 'battery_service'],
      });
      this.device.addEventListener('gattserverdisconnected', () => this.lost());
      await this.connect();
    }

    name() {
      return this.device.name || this.device.id;
    }

    /* Connect (again) with backoff until the device answers. */
    async connect() {
      for (let attempt = 0; ; attempt += 1) {
        this.ui.device(`${this.name()}: connecting…`);
        try {
          const server = await this.device.gatt.connect();
          this.mapper = new gatt.ReadingMapper(); // revolution counters start again
          const followed = await this.follow(server);
          this.ui.device(`${this.name()} (${followed.join(', ')})`);
          this.link.deviceChanged({ id: this.name(), connected: true });
          this.ui.keepAwake();
          return;
        } catch (error) {
          const delay = backoffDelay(attempt);
          this.ui.device(`${this.name()}: ${error.message}; again in ${delay.toFixed(1)} s`);
          await sleep(delay * 1000);
        }
      }
    }

    async follow(server) {
      const followed = [];
      for (const [name, spec] of Object.entries(gatt.CHARACTERISTICS)) {
        let characteristic;
        try {
          const service = await server.getPrimaryService(spec.service);
          characteristic = await service.getCharacteristic(name);
        } catch (error) {
          continue; // the device does not offer it
        }
        if (!this.handlers[name]) this.handlers[name] = (event) => this.value(name, event.target.value);
        characteristic.addEventListener('characteristicvaluechanged', this.handlers[name]);
        if (characteristic.properties.notify) await characteristic.startNotifications();
        if (name === 'battery_level' && characteristic.properties.read) await characteristic.readValue();
        followed.push(name.replace(/_measurement$/, '').replace(/_/g, ' '));
      }
      if (!followed.some((name) => name !== 'battery level')) {
        throw new Error('no heart rate, power, speed or cadence measurement found');
      }
      return followed;
    }

    lost() {
      this.link.deviceChanged({ id: this.name(), connected: false, reason: 'disconnected' });
      this.connect();
    }

    value(name, view) {
      const at = nowMicros();
      const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
      let decoded;
      try {
        decoded = gatt.decodeValue(name, bytes, this.mapper, at);
      } catch (error) {
        console.warn(`skipped a malformed value: ${error.message}`);
        return;
      }
      if (name === 'battery_level') this.ui.battery(decoded.record);
      if (!decoded.submits.length) return;
      this.ui.reading(decoded.submits[0]);
      this.store.add(decoded.submits, this.link.credential.user).then(() => {
        this.ui.refreshQueue(this.store);
        this.link.pump();
      }, (error) => {
        say(`This browser would not store a reading (${error && error.name}): free some storage; `
          + 'readings are lost until then.', true);
      });
    }
  }

  // What the page shows -------------------------------------------------------------------------

  class Ui {
    constructor() {
      this.delivered = 0;
      this.wake = null;
      this.counting = false;
    }

    link(text, state) {
      $('link').textContent = text;
      $('link').className = state;
    }

    device(text) {
      $('device').textContent = text;
    }

    battery(level) {
      $('battery').textContent = `${level} %`;
    }

    reading(submit) {
      if (!(submit.t in UNITS)) return;
      $('value').textContent = String(Math.round(submit.d.val));
      $('value-unit').textContent = UNITS[submit.t];
    }

    countDelivered(count) {
      this.delivered += count;
      $('delivered').textContent = String(this.delivered);
    }

    refreshQueue(store) {
      if (this.counting) return;
      this.counting = true;
      setTimeout(() => {
        store.count().then((n) => { $('queued').textContent = String(n); }).finally(() => { this.counting = false; });
      }, 200);
    }

    /* A screen wake lock while a device streams; taken again when the tab is shown again. */
    keepAwake() {
      if (!('wakeLock' in navigator)) {
        $('wake').textContent = 'may turn off (no Wake Lock in this browser)';
        return;
      }
      const take = () => navigator.wakeLock.request('screen').then((lock) => {
        this.wake = lock;
        $('wake').textContent = 'kept on';
        lock.addEventListener('release', () => { $('wake').textContent = 'may turn off'; });
      }).catch((error) => { $('wake').textContent = `may turn off (${error.message})`; });
      if (!this.wake) {
        document.addEventListener('visibilitychange', () => {
          if (document.visibilityState === 'visible' && this.wake && this.wake.released) take();
        });
      }
      if (!this.wake || this.wake.released) take();
    }
  }

  // Start ---------------------------------------------------------------------------------------

  async function main() {
    const ui = new Ui();
    if (!window.isSecureContext) {
      say('This page needs HTTPS (or localhost): browsers allow Bluetooth only in a secure context.', true);
      return;
    }
    if (!navigator.bluetooth) {
      // Said before the link is redeemed: the code stays unspent, to be opened in a browser that can.
      say('This browser has no Web Bluetooth: open this link in Chrome or Edge on Android, ChromeOS, '
        + 'Windows or macOS (on Linux, with chrome://flags/#enable-experimental-web-platform-features).', true);
      return;
    }
    const store = await Store.open();
    // Asks the browser not to evict the outbox under storage pressure (granted or not, silently).
    if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => {});
    let credential;
    try {
      credential = (await redeemLink(store)) || (await store.get('credential'));
    } catch (error) {
      say(error.message, true);
      credential = await store.get('credential');
      if (!credential) return;
    }
    if (!credential) {
      say('Open the producer link you were given (it ends in #link=…) to start.', true);
      return;
    }
    $('user').textContent = credential.user;
    const dropped = await store.dropOthers(credential.user);
    if (dropped) say(`${dropped} queued readings of an earlier user were dropped.`);
    ui.refreshQueue(store);
    const link = new BrokerLink(store, credential, ui);
    link.run();
    const strap = new Strap(store, link, ui);
    const choose = $('choose');
    choose.disabled = false;
    choose.addEventListener('click', async () => {
      choose.disabled = true;
      try {
        await strap.choose();
        say('Streaming. Keep this tab open and in front.');
      } catch (error) {
        say(`No device: ${error.message}`, true);
        choose.disabled = false;
      }
    });
    if (!$('message').textContent) say('Press the button and choose your strap.');
  }

  main();
}());

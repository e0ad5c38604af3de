/* GATT characteristic decoders and the reading mapper of the /produce page: the browser's twin of
 * adapters/ble/decoders and adapters/ble/mapping.py.
 *
 * The same rules as the Python side, field for field: the same record names, the same errors
 * (characteristic, byte offset, reason), the same readings with the same timestamps. The two are
 * held together by shared test vectors (tests/web_producer/gatt_vectors.json, generated from the
 * Python decoders and run by pytest and by node), so a change on one side that the other lacks
 * fails a test. A classic script: the page loads it with a <script> tag, node with require().
 */
(function (root) {
  'use strict';

  class DecodeError extends Error {
    constructor(characteristic, offset, reason) {
      super(`${characteristic}: ${reason} at offset ${offset}`);
      this.name = 'DecodeError';
      this.characteristic = characteristic;
      this.offset = offset;
      this.reason = reason;
    }
  }

  /* A little-endian cursor over one value, naming the field and offset where it was cut short. */
  class Reader {
    constructor(characteristic, bytes) {
      this.characteristic = characteristic;
      this.bytes = bytes;
      this.offset = 0;
    }

    take(size, field) {
      const left = this.bytes.length - this.offset;
      if (size > left) {
        throw this.fail(`truncated ${field} (needs ${size} bytes, ${left} left)`);
      }
      const start = this.offset;
      this.offset += size;
      return this.bytes.subarray(start, this.offset);
    }

    uint(size, field) {
      const chunk = this.take(size, field);
      let value = 0;
      for (let i = size - 1; i >= 0; i -= 1) value = value * 256 + chunk[i];
      return value;
    }

    sint(size, field) {
      const value = this.uint(size, field);
      const half = 2 ** (8 * size - 1);
      return value >= half ? value - 2 * half : value;
    }

    remaining() {
      return this.bytes.length - this.offset;
    }

    fail(reason) {
      return new DecodeError(this.characteristic, this.offset, reason);
    }
  }

  const HR = 'Heart Rate Measurement (0x2A37)';
  const BATTERY = 'Battery Level (0x2A19)';
  const RSC = 'RSC Measurement (0x2A53)';
  const CSC = 'CSC Measurement (0x2A5B)';
  const CP = 'Cycling Power Measurement (0x2A63)';
  const RR_RESOLUTION_S = 1 / 1024;

  function revolutionEvent(revolutions, eventTime, counterBits, ticksPerS = 1024) {
    return { revolutions, event_time: eventTime, counter_bits: counterBits, ticks_per_s: ticksPerS };
  }

  function decodeHeartRate(bytes) {
    const r = new Reader(HR, bytes);
    const flags = r.uint(1, 'flags');
    const bpm = r.uint(flags & 0x01 ? 2 : 1, 'heart rate value');
    const contact = flags & 0x04 ? Boolean(flags & 0x02) : null;
    const energy = flags & 0x08 ? r.uint(2, 'energy expended') : null;
    const rr = [];
    if (flags & 0x10) {
      if (!r.remaining()) throw r.fail('the flags announce RR intervals but none follow');
      if (r.remaining() % 2) throw r.fail('RR intervals are uint16 but an odd number of bytes is left');
      while (r.remaining()) rr.push(r.uint(2, 'RR interval') * RR_RESOLUTION_S);
    }
    return { bpm, sensor_contact: contact, energy_expended_kj: energy, rr_intervals_s: rr };
  }

  function decodeBatteryLevel(bytes) {
    const r = new Reader(BATTERY, bytes);
    const level = r.uint(1, 'battery level');
    if (level > 100) throw r.fail(`battery level ${level} is above 100 %`);
    return level;
  }

  function decodeRsc(bytes) {
    const r = new Reader(RSC, bytes);
    const flags = r.uint(1, 'flags');
    const speed = r.uint(2, 'instantaneous speed') / 256;
    const cadence = r.uint(1, 'instantaneous cadence');
    const stride = flags & 0x01 ? r.uint(2, 'stride length') / 100 : null;
    const distance = flags & 0x02 ? r.uint(4, 'total distance') / 10 : null;
    return {
      speed_m_s: speed, cadence_spm: cadence, running: Boolean(flags & 0x04),
      stride_length_m: stride, total_distance_m: distance,
    };
  }

  function decodeCsc(bytes) {
    const r = new Reader(CSC, bytes);
    const flags = r.uint(1, 'flags');
    let wheel = null;
    let crank = null;
    if (flags & 0x01) {
      const revs = r.uint(4, 'cumulative wheel revolutions');
      wheel = revolutionEvent(revs, r.uint(2, 'last wheel event time'), 32);
    }
    if (flags & 0x02) {
      const revs = r.uint(2, 'cumulative crank revolutions');
      crank = revolutionEvent(revs, r.uint(2, 'last crank event time'), 16);
    }
    return { wheel, crank };
  }

  function decodeCyclingPower(bytes) {
    const r = new Reader(CP, bytes);
    const flags = r.uint(2, 'flags');
    const m = {
      power_w: r.sint(2, 'instantaneous power'),
      pedal_power_balance_pct: null, pedal_power_balance_is_left: null,
      accumulated_torque_nm: null, accumulated_torque_from_crank: null,
      wheel: null, crank: null, extreme_force_n: null, extreme_torque_nm: null,
      extreme_angles_deg: null, top_dead_spot_deg: null, bottom_dead_spot_deg: null,
      accumulated_energy_kj: null, offset_compensation: false,
    };
    if (flags & 0x0001) {
      m.pedal_power_balance_pct = r.uint(1, 'pedal power balance') / 2;
      m.pedal_power_balance_is_left = Boolean(flags & 0x0002);
    }
    if (flags & 0x0004) {
      m.accumulated_torque_nm = r.uint(2, 'accumulated torque') / 32;
      m.accumulated_torque_from_crank = Boolean(flags & 0x0008);
    }
    if (flags & 0x0010) {
      const revs = r.uint(4, 'cumulative wheel revolutions');
      m.wheel = revolutionEvent(revs, r.uint(2, 'last wheel event time'), 32, 2048);
    }
    if (flags & 0x0020) {
      const revs = r.uint(2, 'cumulative crank revolutions');
      m.crank = revolutionEvent(revs, r.uint(2, 'last crank event time'), 16);
    }
    if (flags & 0x0040) m.extreme_force_n = [r.sint(2, 'maximum force'), r.sint(2, 'minimum force')];
    if (flags & 0x0080) {
      const high = r.sint(2, 'maximum torque') / 32;
      m.extreme_torque_nm = [high, r.sint(2, 'minimum torque') / 32];
    }
    if (flags & 0x0100) {
      const angles = r.uint(3, 'extreme angles');
      m.extreme_angles_deg = [angles & 0xfff, angles >> 12];
    }
    if (flags & 0x0200) m.top_dead_spot_deg = r.uint(2, 'top dead spot angle');
    if (flags & 0x0400) m.bottom_dead_spot_deg = r.uint(2, 'bottom dead spot angle');
    if (flags & 0x0800) m.accumulated_energy_kj = r.uint(2, 'accumulated energy');
    m.offset_compensation = Boolean(flags & 0x1000);
    return m;
  }

  /* The characteristics the page reads, by the short names Web Bluetooth resolves. */
  const CHARACTERISTICS = {
    heart_rate_measurement: { service: 'heart_rate', decode: decodeHeartRate, kind: 'heart_rate' },
    battery_level: { service: 'battery_service', decode: decodeBatteryLevel, kind: 'battery' },
    rsc_measurement: { service: 'running_speed_and_cadence', decode: decodeRsc, kind: 'rsc' },
    csc_measurement: { service: 'cycling_speed_and_cadence', decode: decodeCsc, kind: 'csc' },
    cycling_power_measurement: { service: 'cycling_power', decode: decodeCyclingPower, kind: 'cycling_power' },
  };

  // Mapping (adapters/ble/mapping.py) -----------------------------------------------------------

  const DEFAULT_WHEEL_CIRCUMFERENCE_M = 2.096;
  const KJ_PER_KCAL = 4.184;
  const EVENT_TIME_RANGE = 65536;

  function modulo(a, n) {
    return ((a % n) + n) % n;
  }

  /* Python's timedelta(seconds=x) in whole microseconds: round half to even. */
  function microseconds(seconds) {
    const us = seconds * 1e6;
    const floor = Math.floor(us);
    const rest = us - floor;
    if (rest > 0.5) return floor + 1;
    if (rest < 0.5) return floor;
    return floor % 2 === 0 ? floor : floor + 1;
  }

  class RevolutionCounter {
    constructor() {
      this.previous = null;
      this.total = 0;
    }

    update(event) {
      const previous = this.previous;
      this.previous = event;
      if (previous === null) return null;
      const revs = modulo(event.revolutions - previous.revolutions, 2 ** event.counter_bits);
      this.total += revs;
      const ticks = modulo(event.event_time - previous.event_time, EVENT_TIME_RANGE);
      if (ticks === 0) return null;
      return (revs * event.ticks_per_s) / ticks;
    }
  }

  /* Per device connection, as SampleMapper: revolution counters need the previous measurement. */
  class ReadingMapper {
    constructor(wheelCircumferenceM = DEFAULT_WHEEL_CIRCUMFERENCE_M) {
      this.wheelCircumferenceM = wheelCircumferenceM;
      this.wheel = new RevolutionCounter();
      this.crank = new RevolutionCounter();
    }

    /* [{t, value, at}] for one decoded record; ``at`` in microseconds since the epoch. */
    readings(kind, record, at) {
      const out = this.raw(kind, record, at);
      return out.filter((reading) => Number.isFinite(reading.value));
    }

    raw(kind, m, at) {
      switch (kind) {
        case 'heart_rate': return heartRate(m, at);
        case 'battery': return [{ t: 'BATTERY', value: m, at }];
        case 'rsc': {
          const out = [
            { t: 'SPEED', value: m.speed_m_s, at },
            { t: 'STEPS_CADENCE', value: m.cadence_spm / 60, at },
          ];
          if (m.total_distance_m !== null) out.push({ t: 'DISTANCE', value: m.total_distance_m, at });
          return out;
        }
        case 'csc': return this.revolutions(m.wheel, m.crank, at);
        case 'cycling_power':
          return [{ t: 'POWER', value: m.power_w, at }, ...this.revolutions(m.wheel, m.crank, at)];
        default: throw new TypeError(`no mapping for ${kind}`);
      }
    }

    revolutions(wheel, crank, at) {
      const out = [];
      if (wheel !== null) {
        const rate = this.wheel.update(wheel);
        if (rate !== null) out.push({ t: 'SPEED', value: rate * this.wheelCircumferenceM, at });
        out.push({ t: 'DISTANCE', value: this.wheel.total * this.wheelCircumferenceM, at });
      }
      if (crank !== null) {
        const rate = this.crank.update(crank);
        if (rate !== null) out.push({ t: 'BIKE_CADENCE', value: rate * 60, at });
      }
      return out;
    }
  }

  function heartRate(m, at) {
    const out = [];
    if (m.bpm > 0) out.push({ t: 'HEART_RATE', value: m.bpm, at });
    // The last RR interval ended about when the notification came: earlier ones ended earlier.
    const ends = [];
    let end = at;
    for (let i = m.rr_intervals_s.length - 1; i >= 0; i -= 1) {
      ends.unshift({ t: 'RR_INTERVAL', value: m.rr_intervals_s[i] * 1000, at: end });
      end -= microseconds(m.rr_intervals_s[i]);
    }
    out.push(...ends);
    if (m.energy_expended_kj !== null) {
      out.push({ t: 'CALORIES', value: m.energy_expended_kj / KJ_PER_KCAL, at });
    }
    return out;
  }

  // The wire ------------------------------------------------------------------------------------

  /* UTC with microseconds and Z, as wearstream's own timestamps (domain/readings.py). */
  function formatTimestamp(us) {
    const seconds = Math.floor(us / 1e6);
    const fraction = String(us - seconds * 1e6).padStart(6, '0');
    return `${new Date(seconds * 1000).toISOString().slice(0, 19)}.${fraction}Z`;
  }

  /* The SUBMIT's {t, d} of one reading. */
  function wireReading(reading) {
    return { t: reading.t, d: { ts: formatTimestamp(reading.at), val: reading.value } };
  }

  /* Decode one value of a named characteristic and map it: {record, submits} or a DecodeError. */
  function decodeValue(name, bytes, mapper, at) {
    const characteristic = CHARACTERISTICS[name];
    const record = characteristic.decode(bytes);
    const submits = mapper.readings(characteristic.kind, record, at).map(wireReading);
    return { record, submits };
  }

  const api = {
    CHARACTERISTICS, DecodeError, ReadingMapper, decodeValue, formatTimestamp, wireReading,
  };
  if (typeof module === 'object' && module.exports) module.exports = api;
  else root.wearstreamGatt = api;
}(typeof globalThis === 'object' ? globalThis : this));

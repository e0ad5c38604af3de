// The shared GATT vectors (gatt_vectors.json, made from the Python decoders) through the page's
// gatt.js: the same records, the same errors, the same SUBMITs. Run by test_gatt_vectors.py as
// `node --test`; needs no npm package.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const gatt = require(path.join(__dirname, '..', '..', 'adapters', 'http', 'static', 'gatt.js'));
const vectors = JSON.parse(fs.readFileSync(path.join(__dirname, 'gatt_vectors.json'), 'utf8'));

function bytesOf(hex) {
  return Uint8Array.from(hex.match(/../g) || [], (pair) => parseInt(pair, 16));
}

for (const vector of vectors.cases) {
  test(vector.name, () => {
    const mapper = new gatt.ReadingMapper();
    vector.steps.forEach((step, index) => {
      const where = `${vector.name} step ${index} (${step.hex})`;
      if (step.error) {
        assert.throws(
          () => gatt.decodeValue(vector.characteristic, bytesOf(step.hex), mapper, vectors.arrival_us),
          (error) => error instanceof gatt.DecodeError && error.offset === step.error.offset
            && error.message === step.error.message,
          where,
        );
        return;
      }
      const got = gatt.decodeValue(vector.characteristic, bytesOf(step.hex), mapper, vectors.arrival_us);
      assert.deepStrictEqual(got.record, step.record, where);
      assert.deepStrictEqual(got.submits, step.submits, where);
    });
  });
}

test('timestamps are UTC with microseconds and Z', () => {
  assert.equal(gatt.formatTimestamp(vectors.arrival_us), vectors.arrival);
  assert.equal(gatt.formatTimestamp(0), '1970-01-01T00:00:00.000000Z');
});

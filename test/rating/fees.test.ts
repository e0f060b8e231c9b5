import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_UNITS, billedSeconds, computeFee, maxAllowedUnits } from '../../src/rating/fees.ts';
import { parseIsoMicros } from '../../src/domain/time.ts';
import type { FrozenRate, PricelistRate } from '../../src/domain/types.ts';

const BEGIN = parseIsoMicros('2019-01-01T10:00:00Z') ?? 0;
const SECOND = 1_000_000;

function rate(cf: number | null, perIncrement: number | null, inc: number | null, is: number | null): FrozenRate {
  return {
    pricelist_tag: 'TESTS',
    carrier_tag: 'TESTS',
    prefix: '39',
    description: null,
    datetime_start: null,
    datetime_end: null,
    connect_fee: cf,
    rate: perIncrement,
    rate_increment: inc,
    interval_start: is,
  };
}

describe('computeFee: §7.1 vectors', () => {
  const vectors: Array<[string, number, [number, number, number | null, number], number, number]> = [
    ['F1', 90 * SECOND, [0, 1, 1, 0], 90, 90],
    ['F2', 90 * SECOND, [0, 1, 1, 30], 60, 90],
    ['F3', 90 * SECOND, [0, 100, 60, 0], 200, 90],
    ['F4', 90 * SECOND, [0, 100, 60, 1], 100, 90],
    ['F5', 90 * SECOND, [100, 100, 60, 0], 300, 90],
    ['F6', 30 * SECOND, [0, 100, 60, 2], 0, 30],
    ['F7', -30 * SECOND, [0, 0, 0, 0], 0, 0],
    ['F8', 38 * SECOND, [0, 20, 60, 0], 20, 38],
    ['F9', 0, [50, 1, 1, 0], 0, 0],
    ['F10 59 s', 59 * SECOND, [0, 10, 60, 0], 10, 59],
    ['F10 60 s', 60 * SECOND, [0, 10, 60, 0], 10, 60],
    ['F10 61 s', 61 * SECOND, [0, 10, 60, 0], 20, 61],
    ['F11', 61 * SECOND, [0, 10, 30, 1], 20, 61],
    ['F12', 10 * SECOND, [5, 2, 0, 0], 25, 10],
    ['F13', SECOND / 2, [0, 1, 1, 0], 1, 1],
    // FIX §8.6: the original drops whole days (fee 90, duration 90).
    ['F14 (fixed)', 86_400 * SECOND + 90 * SECOND, [0, 1, 1, 0], 86_490, 86_490],
    ['F15', 3 * SECOND, [0, 7, null, 0], 21, 3],
  ];
  for (const [name, elapsed, [cf, perIncrement, inc, is], fee, duration] of vectors) {
    test(name, () => {
      assert.deepEqual(computeFee(rate(cf, perIncrement, inc, is), BEGIN, BEGIN + elapsed), { fee, duration });
    });
  }
});

describe('computeFee: edge cases', () => {
  test('no rate costs nothing but still has a duration', () => {
    assert.deepEqual(computeFee(null, BEGIN, BEGIN + 5 * SECOND), { fee: 0, duration: 5 });
  });

  test('null numeric fields count as 0 and a null increment as 1 (FIX §8.9)', () => {
    assert.deepEqual(computeFee(rate(null, 3, null, null), BEGIN, BEGIN + 4 * SECOND), { fee: 12, duration: 4 });
    assert.deepEqual(computeFee(rate(null, null, null, null), BEGIN, BEGIN + 4 * SECOND), { fee: 0, duration: 4 });
  });

  test('one microsecond past a whole second bills the next second', () => {
    assert.equal(billedSeconds(BEGIN, BEGIN + 60 * SECOND + 1), 61);
    assert.equal(billedSeconds(BEGIN, BEGIN + 60 * SECOND), 60);
    assert.equal(billedSeconds(BEGIN, BEGIN + 1), 1);
  });

  test('durations are exact for very long spans (no floating-point division)', () => {
    const years = 200 * 365 * 86_400;
    assert.equal(billedSeconds(0, years * SECOND - 1), years);
    assert.equal(billedSeconds(0, years * SECOND + 1), years + 1);
  });

  test('more free increments than used costs only the connect fee', () => {
    assert.deepEqual(computeFee(rate(7, 100, 60, 10), BEGIN, BEGIN + 90 * SECOND), { fee: 7, duration: 90 });
  });
});

describe('maxAllowedUnits: §7.2 vectors', () => {
  const vectors: Array<[string, [number, number, number, number, number], boolean, number]> = [
    ['U1', [50, 0, 1, 1, 60], true, 110],
    ['U2', [0, 0, 1, 1, 60], false, 0],
    ['U3', [60, 10, 1, 1, 0], true, 50],
    ['U4', [0, 0, 0, 1, 60], true, 14_400],
    ['U6', [100, 0, 20, 60, 0], true, 300],
    ['U7', [20, 0, 1, 1, 0], true, 20],
    ['U8', [1, 0, 100, 60, 0], true, 0],
    ['U9', [5, 10, 1, 1, 60], true, 55],
    ['U10', [5, 10, 1, 1, 0], true, 0],
    ['U11', [-5, 0, 0, 1, 0], true, 14_400],
    ['U12', [1_000_000, 0, 1, 1, 0], true, 14_400],
    ['U13', [99, 0, 20, 60, 0], true, 240],
    ['U14', [19, 0, 20, 60, 0], true, 0],
    ['U15', [10, 0, 3, 1, 0], true, 3],
    ['U16', [-1, 0, 1, 1, 0], false, 0],
  ];
  for (const [name, [balance, cf, perIncrement, inc, is], authorized, units] of vectors) {
    test(name, () => {
      assert.deepEqual(maxAllowedUnits(balance, rate(cf, perIncrement, inc, is)), { authorized, units });
    });
  }

  test('U5: no rate, or an empty one, is never authorized', () => {
    assert.deepEqual(maxAllowedUnits(50, null), { authorized: false, units: 0 });
    assert.deepEqual(maxAllowedUnits(50, {} as FrozenRate), { authorized: false, units: 0 });
  });

  test('accepts a price-list rate as well as a frozen one', () => {
    const listed: PricelistRate = {
      id: 'r1',
      tenant: 'default',
      active: true,
      ...rate(0, 2, 1, 0),
      pricelist_tag: 'P',
      carrier_tag: 'C',
      prefix: '39',
    };
    assert.deepEqual(maxAllowedUnits(9, listed), { authorized: true, units: 4 });
  });

  test('null fields count as 0 (FIX §8.9)', () => {
    assert.deepEqual(maxAllowedUnits(30, rate(null, 3, null, null)), { authorized: true, units: 10 });
    assert.deepEqual(maxAllowedUnits(0, rate(null, null, null, null)), { authorized: true, units: MAX_UNITS });
  });

  test('integer truncation toward zero is exact for large balances', () => {
    // Math.trunc((B - cf) / rate) would round 2^53 - 1 divided by 3 up; integer math does not.
    const balance = Number.MAX_SAFE_INTEGER;
    assert.deepEqual(maxAllowedUnits(balance, rate(0, 3, 1, 0)), { authorized: true, units: MAX_UNITS });
    assert.deepEqual(maxAllowedUnits(-7, rate(0, 2, 1, 10)), { authorized: false, units: 7 });
  });
});

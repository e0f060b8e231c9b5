import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RateIndex } from '../../src/rating/rate-index.ts';
import type { PricelistRate } from '../../src/domain/types.ts';

const AT = 1_546_336_800_000_000; // 2019-01-01T10:00:00Z
const ALL = { pricelist_tags: null, carrier_tags: null };
let nextId = 0;

function rate(prefix: string, fields: Partial<PricelistRate> = {}): PricelistRate {
  return {
    id: `r${nextId++}`,
    tenant: 'default',
    pricelist_tag: 'P1',
    carrier_tag: 'C1',
    prefix,
    datetime_start: null,
    datetime_end: null,
    active: true,
    connect_fee: 0,
    rate: 1,
    rate_increment: 1,
    interval_start: 0,
    description: null,
    ...fields,
  };
}

describe('RateIndex.destinationRate', () => {
  test('longest prefix wins, of any length, including the whole destination (FIX §8.26)', () => {
    const whole = rate('390401234567');
    const ten = rate('3904012345');
    const index = new RateIndex([rate('3'), rate('39'), ten, whole]);
    assert.equal(index.destinationRate(ALL, '390401234567', AT), whole);
    assert.equal(index.destinationRate(ALL, '3904012345678', AT), whole);
    assert.equal(index.destinationRate(ALL, '39040123456', AT), ten);
    assert.equal(index.destinationRate(ALL, '39', AT)?.prefix, '39');
    assert.equal(index.destinationRate(ALL, '3', AT)?.prefix, '3');
    assert.equal(index.destinationRate(ALL, '4', AT), null);
  });

  test('§7.9: text prefixes match the raw destination; empty or null destinations match nothing', () => {
    const sip = rate('sip:39');
    const index = new RateIndex([sip, rate('3')]);
    assert.equal(index.destinationRate(ALL, 'sip:39040123456@x', AT), sip);
    assert.equal(index.destinationRate(ALL, '', AT), null);
    assert.equal(index.destinationRate(ALL, null, AT), null);
  });

  test('any characters, in short and long prefixes', () => {
    const short = rate('\u00fc\u20ac');
    const long = rate('sip:\u00fc\u20ac\uffff\u8000-0123456789');
    const index = new RateIndex([short, long, rate('sip:\u00fc\u20ac\uffff\u8000-0123456788')]);
    assert.equal(index.destinationRate(ALL, '\u00fc\u20acx', AT), short);
    assert.equal(index.destinationRate(ALL, 'sip:\u00fc\u20ac\uffff\u8000-0123456789@host', AT), long);
    assert.equal(index.destinationRate(ALL, 'sip:\u00fc\u20ac\uffff\u8000-012345678', AT), null);
    assert.equal(index.destinationRate(ALL, '\u00fc\u20ab', AT), null);
  });

  test('ties between equal prefixes go to the cheapest rate, then connect fee, then carrier, then pricelist', () => {
    const expensive = rate('39', { carrier_tag: 'A', rate: 5 });
    const cheapButConnect = rate('39', { carrier_tag: 'B', rate: 2, connect_fee: 10 });
    const cheapZ = rate('39', { carrier_tag: 'Z', rate: 2, connect_fee: 1 });
    const cheapY = rate('39', { carrier_tag: 'Y', rate: 2, connect_fee: 1, pricelist_tag: 'P2' });
    const cheapYFirstList = rate('39', { carrier_tag: 'Y', rate: 2, connect_fee: 1, pricelist_tag: 'P1' });
    const index = new RateIndex([expensive, cheapButConnect, cheapZ, cheapY, cheapYFirstList]);
    assert.equal(index.destinationRate(ALL, '3912', AT), cheapYFirstList);
    assert.equal(index.destinationRate({ pricelist_tags: ['P2'], carrier_tags: null }, '3912', AT), cheapY);
    assert.equal(index.destinationRate({ pricelist_tags: null, carrier_tags: ['A', 'B'] }, '3912', AT), cheapButConnect);
  });

  test('inactive rates are ignored', () => {
    const index = new RateIndex([rate('39', { active: false }), rate('39', { active: null }), rate('3', { carrier_tag: 'ON' })]);
    assert.equal(index.destinationRate(ALL, '3912', AT)?.carrier_tag, 'ON');
    assert.equal(index.size, 1);
  });

  test('the validity window is enforced: start <= at < end, null = open', () => {
    const past = rate('39', { carrier_tag: 'PAST', rate: 0, datetime_end: AT });
    const future = rate('39', { carrier_tag: 'FUTURE', rate: 0, datetime_start: AT + 1 });
    const current = rate('39', { carrier_tag: 'NOW', rate: 9, datetime_start: AT, datetime_end: AT + 1 });
    const index = new RateIndex([past, future, current]);
    assert.equal(index.destinationRate(ALL, '3912', AT), current);
    assert.equal(index.destinationRate(ALL, '3912', AT - 1), past);
    assert.equal(index.destinationRate(ALL, '3912', AT + 1), future);
  });

  test('pricelist and carrier filters: null or [] select everything (§3.7)', () => {
    const p1 = rate('39', { pricelist_tag: 'P1', carrier_tag: 'C1', rate: 1 });
    const p2 = rate('39', { pricelist_tag: 'P2', carrier_tag: 'C2', rate: 2 });
    const shortP2 = rate('3', { pricelist_tag: 'P2', carrier_tag: 'C2', rate: 0 });
    const index = new RateIndex([p1, p2, shortP2]);
    assert.equal(index.destinationRate({ pricelist_tags: [], carrier_tags: [] }, '3912', AT), p1);
    assert.equal(index.destinationRate({ pricelist_tags: ['P2'], carrier_tags: null }, '3912', AT), p2);
    assert.equal(index.destinationRate({ pricelist_tags: null, carrier_tags: ['C2'] }, '3912', AT), p2);
    assert.equal(index.destinationRate({ pricelist_tags: ['DOES_NOT_EXIST'], carrier_tags: null }, '3912', AT), null);
    // A longer prefix filtered out falls back to a shorter one.
    assert.equal(index.destinationRate({ pricelist_tags: ['P2'], carrier_tags: null }, '3812', AT), shortP2);
  });

  test('many prefixes sharing hash buckets still resolve exactly', () => {
    const rates: PricelistRate[] = [];
    for (let i = 0; i < 20_000; i++) rates.push(rate(String(i), { rate: i }));
    const index = new RateIndex(rates);
    for (let i = 0; i < 20_000; i += 7) {
      assert.equal(index.destinationRate(ALL, `${i}#`, AT)?.prefix, String(i));
    }
    assert.equal(index.destinationRate(ALL, '#', AT), null);
  });

  test('lookups are fast on a large price list', () => {
    const rates: PricelistRate[] = [];
    for (let i = 0; i < 200_000; i++) rates.push(rate(String(1_000_000 + i * 37).slice(0, 4 + (i % 6)), { rate: i % 50 }));
    const index = new RateIndex(rates);
    const destinations = rates.slice(0, 1024).map((r, i) => `${r.prefix}${100_000 + i}`);
    let found = 0;
    const started = process.hrtime.bigint();
    for (let i = 0; i < 200_000; i++) if (index.destinationRate(ALL, destinations[i & 1023], AT) !== null) found++;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    assert.equal(found, 200_000);
    // Generous bound (shared CI machines); bench/ measures the real rate.
    assert.ok(seconds < 5, `200k lookups took ${seconds} s`);
  });
});

describe('RateIndex.leastCostRouting (§3.8)', () => {
  test('every matching prefix length competes, cheapest rate first, ties by carrier', () => {
    const cheapShort = rate('3', { carrier_tag: 'C3', rate: 1 });
    const expensiveLong = rate('39', { carrier_tag: 'C9', rate: 9 });
    const tieB = rate('390', { carrier_tag: 'B', rate: 5 });
    const tieA = rate('39', { carrier_tag: 'A', rate: 5, pricelist_tag: 'OTHER' });
    const index = new RateIndex([expensiveLong, tieB, cheapShort, tieA]);
    assert.deepEqual(index.leastCostRouting(null, '3901', AT), [cheapShort, tieA, tieB, expensiveLong]);
  });

  test('carrier filter: null = all, [] = none; no pricelist filter; window and activity enforced', () => {
    const c1 = rate('39', { carrier_tag: 'C1', pricelist_tag: 'P1', rate: 2 });
    const c2 = rate('39', { carrier_tag: 'C2', pricelist_tag: 'P2', rate: 1 });
    const expired = rate('39', { carrier_tag: 'C3', rate: 0, datetime_end: AT });
    const inactive = rate('39', { carrier_tag: 'C4', rate: 0, active: false });
    const index = new RateIndex([c1, c2, expired, inactive]);
    assert.deepEqual(index.leastCostRouting(null, '3912', AT), [c2, c1]);
    assert.deepEqual(index.leastCostRouting([], '3912', AT), []);
    assert.deepEqual(index.leastCostRouting(['C1'], '3912', AT), [c1]);
    assert.deepEqual(index.leastCostRouting(null, '3912', AT - 1), [expired, c2, c1]);
    assert.deepEqual(index.leastCostRouting(null, null, AT), []);
    assert.deepEqual(index.leastCostRouting(null, '4', AT), []);
  });

  test('the whole destination is a candidate', () => {
    const exact = rate('3912');
    assert.deepEqual(new RateIndex([exact]).leastCostRouting(null, '3912', AT), [exact]);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TimeOrderedIds } from '../../../src/storage/sqlite/record-ids.ts';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function assertIncreasing(ids: readonly string[]): void {
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1] < ids[i], `id ${i} (${ids[i]}) does not sort after ${ids[i - 1]}`);
}

/** The 48-bit millisecond time at the front of an id. */
function timeOf(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

describe('TimeOrderedIds', () => {
  test('ids have the UUIDv4 format, carry the time, sort in creation order and do not repeat', () => {
    const ids = new TimeOrderedIds();
    const before = Date.now();
    const made = Array.from({ length: 100_000 }, () => ids.next());
    for (const id of made.slice(0, 1000)) assert.match(id, UUID_V4);
    assert.equal(new Set(made).size, made.length);
    assertIncreasing(made);
    assert.ok(timeOf(made[0]) >= before && timeOf(made[0]) <= Date.now() + 1);
  });

  test('ids made in the same millisecond count up', () => {
    const ids = new TimeOrderedIds(() => 1_700_000_000_000);
    const made = Array.from({ length: 1000 }, () => ids.next());
    assertIncreasing(made);
    assert.ok(made.every((id) => timeOf(id) === 1_700_000_000_000));
  });

  test('a clock that goes back does not make ids go back', () => {
    let now = 1_700_000_000_500;
    const ids = new TimeOrderedIds(() => now);
    const first = ids.next();
    now -= 400;
    const second = ids.next();
    now += 1000;
    const third = ids.next();
    assertIncreasing([first, second, third]);
    assert.equal(timeOf(second), 1_700_000_000_500);
    assert.equal(timeOf(third), 1_700_000_001_100);
  });

  test('more than 4096 ids in one millisecond borrow the next millisecond', () => {
    const ids = new TimeOrderedIds(() => 1_700_000_000_000);
    const made = Array.from({ length: 10_000 }, () => ids.next());
    for (const id of made) assert.match(id, UUID_V4);
    assertIncreasing(made);
    assert.ok(timeOf(made.at(-1) ?? '') > 1_700_000_000_000);
  });

  test('two generators in the same millisecond make different ids', () => {
    const a = new TimeOrderedIds(() => 1_700_000_000_000);
    const b = new TimeOrderedIds(() => 1_700_000_000_000);
    const fromA = new Set(Array.from({ length: 1000 }, () => a.next()));
    for (let i = 0; i < 1000; i++) assert.ok(!fromA.has(b.next()));
  });
});

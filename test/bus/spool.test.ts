import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Spool } from '../../src/bus/spool.ts';
import { capturingLogger, silentLogger } from '../transports/support.ts';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'bus-spool-'));
}

async function readAll(spool: Spool): Promise<string[]> {
  const { entries } = await spool.read(spool.confirmed, 1 << 20);
  return entries.map((entry) => entry.line);
}

describe('spool', () => {
  test('lines come back in order across segments; confirmed segments are deleted', async () => {
    const dir = tempDir();
    try {
      const spool = await Spool.open({ dir, maxBytes: 1 << 20, logger: silentLogger(), segmentBytes: 64 });
      const lines = Array.from({ length: 20 }, (_, i) => JSON.stringify({ n: i, pad: 'x'.repeat(20) }));
      for (const line of lines) spool.append([line]);
      assert.deepEqual(await readAll(spool), lines);
      assert.ok(readdirSync(dir).filter((name) => name.endsWith('.jsonl')).length > 5, 'rotated into several segments');
      const { entries } = await spool.read(spool.confirmed, 1 << 20);
      spool.confirm(entries[14]!.end);
      assert.deepEqual(await readAll(spool), lines.slice(15));
      const bytesBefore = spool.bytes;
      spool.confirm(entries[19]!.end);
      assert.equal(spool.backlogBytes(), 0);
      assert.ok(spool.bytes < bytesBefore);
      await spool.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a restart resumes after the confirmed watermark; a torn last line is skipped and logged', async () => {
    const dir = tempDir();
    try {
      const first = await Spool.open({ dir, maxBytes: 1 << 20, logger: silentLogger() });
      first.append(['{"n":1}', '{"n":2}', '{"n":3}']);
      const { entries } = await first.read(first.confirmed, 1 << 20);
      first.confirm(entries[0]!.end);
      await first.close();
      // A write cut short by a crash, at the end of that segment.
      const segment = readdirSync(dir).find((name) => name.endsWith('.jsonl'))!;
      appendFileSync(join(dir, segment), '{"n":4');

      const { logger, records } = capturingLogger();
      const second = await Spool.open({ dir, maxBytes: 1 << 20, logger });
      second.append(['{"n":5}']);
      assert.deepEqual(await readAll(second), ['{"n":2}', '{"n":3}', '{"n":5}']);
      assert.equal(second.torn, 1);
      assert.ok(records.some((r) => r.level === 50 && String(r.msg).includes('incomplete event')));
      const { entries: again, next } = await second.read(second.confirmed, 1 << 20);
      second.confirm(again.at(-1)!.end);
      assert.deepEqual(next, second.end);
      assert.equal(second.backlogBytes(), 0);
      await second.close();
      const third = await Spool.open({ dir, maxBytes: 1 << 20, logger: silentLogger() });
      assert.deepEqual(await readAll(third), []);
      await third.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('fits() says whether more bytes stay under maxBytes', async () => {
    const dir = tempDir();
    try {
      const spool = await Spool.open({ dir, maxBytes: 4096, logger: silentLogger() });
      assert.ok(spool.fits(4096));
      spool.append(['x'.repeat(4000)]);
      assert.equal(spool.bytes, 4001);
      assert.ok(spool.fits(95));
      assert.ok(!spool.fits(96));
      await spool.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('one process per spool: a live owner refuses a second opener, the lock of a dead owner is taken over', async () => {
    const dir = tempDir();
    try {
      const first = await Spool.open({ dir, maxBytes: 1 << 20, logger: silentLogger() });
      writeFileSync(join(dir, 'owner.pid'), String(process.ppid)); // another live process
      await assert.rejects(Spool.open({ dir, maxBytes: 1 << 20, logger: silentLogger() }), /in use by process/);
      await first.close();
      writeFileSync(join(dir, 'owner.pid'), '999999999'); // no such process
      const second = await Spool.open({ dir, maxBytes: 1 << 20, logger: silentLogger() });
      await second.close();
      assert.ok(!readdirSync(dir).includes('owner.pid'), 'close releases the lock');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('property: after any mix of appends, confirms and restarts, the unconfirmed lines come back in order', async () => {
    type Step = { op: 'append'; lengths: number[] } | { op: 'confirm'; fraction: number } | { op: 'restart' };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ op: fc.constant('append' as const), lengths: fc.array(fc.integer({ min: 0, max: 90 }), { minLength: 1, maxLength: 6 }) }),
      fc.record({ op: fc.constant('confirm' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }),
      fc.record({ op: fc.constant('restart' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 25 }), async (steps) => {
        const dir = tempDir();
        const open = () => Spool.open({ dir, maxBytes: 1 << 20, logger: silentLogger(), segmentBytes: 200 });
        let spool = await open();
        let next = 0;
        let expected: string[] = [];
        try {
          for (const s of steps) {
            if (s.op === 'append') {
              const lines = s.lengths.map((length) => JSON.stringify({ n: next++, pad: 'é'.repeat(length) }));
              spool.append(lines);
              expected.push(...lines);
            } else if (s.op === 'confirm') {
              const { entries } = await spool.read(spool.confirmed, 1 << 20);
              const count = Math.floor(entries.length * s.fraction);
              if (count > 0) spool.confirm(entries[count - 1]!.end);
              expected = expected.slice(count);
            } else {
              await spool.close();
              spool = await open();
            }
            assert.deepEqual(await readAll(spool), expected);
          }
        } finally {
          await spool.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 60 },
    );
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimitedLog } from '../../src/transports/rate-limited-log.ts';
import { capturingLogger } from './support.ts';

test('bad-packet warnings are limited per window and the suppressed ones are reported', () => {
  const { logger, records } = capturingLogger();
  const clock = { ms: 1_000 };
  const log = new RateLimitedLog(logger, { maxPerWindow: 3, windowMs: 1_000, clock: () => clock.ms });
  for (let i = 0; i < 10; i++) log.warn({ n: i }, 'bad packet');
  assert.deepEqual(records.map((r) => r['n']), [0, 1, 2]);
  assert.equal(log.suppressed, 7);
  clock.ms += 1_000;
  log.warn({ n: 10 }, 'bad packet');
  assert.equal(records[3]['suppressed'], 7);
  assert.equal(records[4]['n'], 10);
});

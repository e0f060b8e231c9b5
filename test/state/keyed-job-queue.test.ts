import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedJobQueue, MAX_CONFLICTS, RetryLater, type JobEnd, type KeyedJobQueueOptions } from '../../src/state/keyed-job-queue.ts';

interface TestJob {
  name: string;
  run: () => Promise<void>;
}

interface Recorded {
  ends: Array<[string, JobEnd['kind']]>;
  errors: Array<[string, boolean]>;
}

function queue(overrides: Partial<KeyedJobQueueOptions<TestJob>> = {}): { queue: KeyedJobQueue<TestJob>; recorded: Recorded } {
  const recorded: Recorded = { ends: [], errors: [] };
  const q = new KeyedJobQueue<TestJob>({
    run: (job) => job.run(),
    retryForMs: 30_000,
    maxPending: 1_000,
    onError: (job, _error, retrying) => recorded.errors.push([job.name, retrying]),
    onEnd: (job, end) => recorded.ends.push([job.name, end.kind]),
    ...overrides,
  });
  return { queue: q, recorded };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('KeyedJobQueue', () => {
  test('jobs of one key run one at a time, in the order queued', async () => {
    const { queue: q, recorded } = queue();
    const log: string[] = [];
    let running = 0;
    let maxRunning = 0;
    for (const name of ['a1', 'a2', 'a3', 'a4']) {
      q.enqueue('a', {
        name,
        run: async () => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          log.push(`start ${name}`);
          await tick();
          log.push(`end ${name}`);
          running--;
        },
      });
    }
    await q.drain();
    assert.equal(maxRunning, 1);
    assert.deepEqual(log, ['start a1', 'end a1', 'start a2', 'end a2', 'start a3', 'end a3', 'start a4', 'end a4']);
    assert.deepEqual(recorded.ends, [['a1', 'done'], ['a2', 'done'], ['a3', 'done'], ['a4', 'done']]);
  });

  test('jobs of different keys run concurrently', async () => {
    const { queue: q } = queue();
    const gateA = deferred();
    const started: string[] = [];
    q.enqueue('a', { name: 'a', run: async () => { started.push('a'); await gateA.promise; } });
    q.enqueue('b', { name: 'b', run: async () => { started.push('b'); } });
    q.enqueue('a', { name: 'a2', run: async () => { started.push('a2'); } });
    await tick();
    // b ran although a is still running; a2 waits behind a.
    assert.deepEqual(started, ['a', 'b']);
    assert.equal(q.pending, 2);
    gateA.resolve();
    await q.drain();
    assert.deepEqual(started, ['a', 'b', 'a2']);
  });

  test('drain() resolves once every job and tracked work is done, at once when idle', async () => {
    const { queue: q } = queue();
    await q.drain();
    const gate = deferred();
    const tracked = deferred();
    let done = false;
    q.enqueue('a', { name: 'a', run: () => gate.promise });
    q.track(() => tracked.promise);
    assert.equal(q.pending, 2);
    const drained = q.drain().then(() => (done = true));
    gate.resolve();
    await tick();
    assert.equal(done, false, 'tracked work still pending');
    assert.equal(q.pending, 1);
    tracked.resolve();
    await drained;
    assert.equal(q.pending, 0);
  });

  test('full once maxPending are pending', async () => {
    const { queue: q } = queue({ maxPending: 2 });
    const gate = deferred();
    q.enqueue('a', { name: 'a', run: () => gate.promise });
    assert.equal(q.full, false);
    q.enqueue('b', { name: 'b', run: () => gate.promise });
    assert.equal(q.full, true);
    gate.resolve();
    await q.drain();
    assert.equal(q.full, false);
  });

  test('RetryLater runs the job again at once, until it succeeds', async () => {
    const { queue: q, recorded } = queue();
    let attempts = 0;
    q.enqueue('a', { name: 'a', run: async () => { if (++attempts < 5) throw new RetryLater(); } });
    await q.drain();
    assert.equal(attempts, 5);
    assert.deepEqual(recorded.ends, [['a', 'done']]);
    assert.deepEqual(recorded.errors, []);
  });

  test('RetryLater gives up after MAX_CONFLICTS retries, and the next job of the key runs', async () => {
    const { queue: q, recorded } = queue();
    let attempts = 0;
    q.enqueue('a', { name: 'a', run: async () => { attempts++; throw new RetryLater(); } });
    q.enqueue('a', { name: 'a2', run: async () => {} });
    await q.drain();
    assert.equal(MAX_CONFLICTS, 100);
    assert.equal(attempts, MAX_CONFLICTS + 1);
    assert.deepEqual(recorded.ends, [['a', 'conflicts'], ['a2', 'done']]);
    assert.deepEqual(recorded.errors, []);
  });

  test('other errors are retried after a backoff, then given up after retryForMs', async () => {
    const { queue: q, recorded } = queue({ retryForMs: 120 });
    const times: number[] = [];
    const failure = new Error('down');
    let ended: JobEnd | null = null;
    const q2 = new KeyedJobQueue<TestJob>({
      run: (job) => job.run(),
      retryForMs: 120,
      maxPending: 10,
      onError: () => {},
      onEnd: (_job, end) => (ended = end),
    });
    q.enqueue('a', { name: 'a', run: async () => { times.push(Date.now()); throw failure; } });
    q2.enqueue('a', { name: 'a', run: async () => { throw failure; } });
    await Promise.all([q.drain(), q2.drain()]);
    // Attempts at ~0, ~50 and ~150 ms (backoff 50, 100): the third is past retryForMs.
    assert.equal(times.length, 3);
    assert.ok(times[1] - times[0] >= 45, `first backoff ${times[1] - times[0]} ms`);
    assert.ok(times[2] - times[1] >= 95, `second backoff ${times[2] - times[1]} ms`);
    assert.deepEqual(recorded.errors, [['a', true], ['a', true], ['a', false]]);
    assert.deepEqual(recorded.ends, [['a', 'failed']]);
    assert.deepEqual(ended, { kind: 'failed', error: failure });
  });

  test('an error with retryForMs 0 gives up at the first failure', async () => {
    const { queue: q, recorded } = queue({ retryForMs: 0 });
    let attempts = 0;
    q.enqueue('a', { name: 'a', run: async () => { attempts++; throw new Error('down'); } });
    await q.drain();
    assert.equal(attempts, 1);
    assert.deepEqual(recorded.errors, [['a', false]]);
    assert.deepEqual(recorded.ends, [['a', 'failed']]);
  });
});

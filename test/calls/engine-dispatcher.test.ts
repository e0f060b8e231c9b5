import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineDispatcher, transactionTagsOf } from '../../src/calls/engine-dispatcher.ts';
import type { TrackedCall } from '../../src/calls/call-intents.ts';
import { RecordingEngine, silentLogger } from '../transports/support.ts';

const call = (tag: string): TrackedCall => ({
  transactionTag: tag,
  accountTag: '1000',
  destinationAccountTag: '',
  source: 'sip:1000@a',
  destination: '',
  sourceIp: null,
  invitedAt: 0,
});

test('transaction tags: transaction_tags plus the product tag, without blanks or repeats', () => {
  assert.deepEqual(transactionTagsOf([], 'VOICE'), ['VOICE']);
  assert.deepEqual(transactionTagsOf(['a', 'VOICE', ''], 'VOICE'), ['a', 'VOICE']);
  assert.equal(transactionTagsOf([], ''), null);
});

test('operations of one call run in order; other calls do not wait for it', async () => {
  const engine = new RecordingEngine();
  engine.beginDelayMs = 60;
  const dispatcher = new EngineDispatcher(engine, { tenant: 't', tags: null }, silentLogger());
  dispatcher.dispatch({ kind: 'begin', call: call('slow'), timestamp: 1 });
  dispatcher.dispatch({ kind: 'end', call: call('slow'), timestamp: 2, answeredAt: 1 });
  dispatcher.dispatch({ kind: 'attempt_failed', call: call('other'), timestamp: 3, sipStatus: 603 });
  await dispatcher.idle();
  assert.deepEqual(
    engine.calls.map((c) => `${c.method}:${c.request.transaction_tag}`),
    ['recordTransaction:other', 'beginTransaction:slow', 'endTransaction:slow'],
  );
  const begin = engine.calls[1];
  assert.equal(begin.request.destination_account_tag, null, 'an unknown side is sent as null');
  assert.equal(begin.method === 'beginTransaction' ? begin.request.destination : 'x', null);
  assert.equal(dispatcher.counters.in_flight, 0);
});

test('operations of different calls requested in one turn start together, after it', async () => {
  const started: string[] = [];
  const release: Array<() => void> = [];
  const ok = { ok: true, failed_account_tag: null, failed_reason: null };
  const held = (tag: string): Promise<typeof ok> => {
    started.push(tag);
    return new Promise((resolve) => release.push(() => resolve(ok)));
  };
  const engine = new RecordingEngine();
  engine.beginTransaction = (request) => held(request.transaction_tag);
  const dispatcher = new EngineDispatcher(engine, { tenant: 't', tags: ['VOICE'] }, silentLogger());
  for (const tag of ['a', 'b', 'c']) dispatcher.dispatch({ kind: 'begin', call: call(tag), timestamp: 1 });
  assert.deepEqual(started, [], 'nothing starts inside dispatch()');
  assert.equal(dispatcher.counters.in_flight, 3);
  let idle = false;
  const idleDone = dispatcher.idle().then(() => {
    idle = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(started, ['a', 'b', 'c'], 'all three started in the same turn, in order');
  assert.equal(idle, false);
  for (const done of release) done();
  await idleDone;
  assert.equal(dispatcher.counters.in_flight, 0);
  assert.equal(dispatcher.counters.begin, 3);
});

test('each request gets its own copy of the transaction tags', async () => {
  const engine = new RecordingEngine();
  const dispatcher = new EngineDispatcher(engine, { tenant: 't', tags: ['VOICE'] }, silentLogger());
  dispatcher.dispatch({ kind: 'begin', call: call('x'), timestamp: 1 });
  dispatcher.dispatch({ kind: 'attempt_failed', call: call('y'), timestamp: 2, sipStatus: 486 });
  await dispatcher.idle();
  const [first, second] = engine.calls.map((c) => (c.method === 'beginTransaction' || c.method === 'recordTransaction' ? c.request.tags : null));
  assert.deepEqual(first, ['VOICE']);
  assert.deepEqual(second, ['VOICE']);
  assert.notEqual(first, second);
  assert.equal(await dispatcher.idle(), undefined, 'idle() with nothing queued resolves at once');
});

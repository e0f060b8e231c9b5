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
  dispatcher.dispatch({ kind: 'end', call: call('slow'), timestamp: 2 });
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

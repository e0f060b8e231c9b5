import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { CallIntent, TrackedCall } from '../../src/calls/call-intents.ts';
import { decodeEvent, encodeEvent, eventOfIntent, type BusEvent } from '../../src/bus/events.ts';
import { canyanMessageOf, readCanyanMessage } from '../../src/bus/canyan-format.ts';

const call: TrackedCall = {
  transactionTag: 'call-1@host',
  accountTag: '1000',
  destinationAccountTag: '',
  source: 'sip:1000@a',
  destination: 'sip:393291234567@b',
  sourceIp: '10.0.0.1',
  invitedAt: 1_546_336_800_000_000,
};
const settings = { tenant: 'acme', tags: ['VOICE'] };
const ANSWER = 1_546_336_801_250_000;
const END = 1_546_336_861_500_001;

const intents: CallIntent[] = [
  { kind: 'begin', call, timestamp: ANSWER },
  { kind: 'end', call, timestamp: END, answeredAt: ANSWER },
  { kind: 'timed_out', call, timestamp: END, answeredAt: ANSWER, endReason: 'max_duration' },
  { kind: 'attempt_failed', call, timestamp: END, sipStatus: 486 },
];

describe('native events', () => {
  test('every intent survives encode and decode unchanged', () => {
    for (const intent of intents) {
      const event = eventOfIntent(intent, settings);
      const decoded = decodeEvent(encodeEvent(event));
      assert.ok(decoded.ok, `${intent.kind}: ${decoded.ok ? '' : decoded.error}`);
      assert.deepEqual(decoded.event, event);
      assert.equal(decoded.event.v, 1);
    }
  });

  test('an end carries its begin, rebuilt from the answer time', () => {
    const event = eventOfIntent(intents[1] as CallIntent, settings);
    assert.equal(event.kind, 'end');
    if (event.kind !== 'end') return;
    assert.equal(event.begin.timestamp_begin, ANSWER);
    assert.equal(event.end.timestamp_end, END);
    assert.equal(event.begin.destination_account_tag, null, 'an unknown side is null');
    assert.deepEqual(event.begin.tags, ['VOICE']);
    const timedOut = eventOfIntent(intents[2] as CallIntent, settings);
    assert.equal(timedOut.kind === 'end' ? timedOut.end.end_reason : null, 'max_duration');
  });

  test('a failed attempt is a record with its SIP status', () => {
    const event = eventOfIntent(intents[3] as CallIntent, settings);
    assert.equal(event.kind, 'record');
    assert.equal(event.kind === 'record' ? event.record.sip_status : 0, 486);
  });

  test('decoding refuses what is not an event, with a reason', () => {
    const good = JSON.parse(encodeEvent(eventOfIntent(intents[1] as CallIntent, settings))) as Record<string, unknown>;
    const cases: Array<[string | Uint8Array, RegExp]> = [
      ['', /not JSON/],
      ['{"v":1', /not JSON/],
      [new Uint8Array([0xff, 0xfe, 0x7b]), /not UTF-8/],
      ['null', /event|Expected/],
      ['[]', /event|Expected/],
      [JSON.stringify({ ...good, v: 2 }), /unsupported event version 2/],
      [JSON.stringify({ ...good, kind: 'rollback' }), /kind/],
      [JSON.stringify({ ...good, extra: 1 }), /Unrecognized key/],
      [JSON.stringify({ ...good, end: { ...(good.end as object), timestamp_end: 1.5 } }), /end\.timestamp_end/],
      [JSON.stringify({ ...good, end: { ...(good.end as object), timestamp_end: '2019-01-01T00:00:00Z' } }), /end\.timestamp_end/],
      [JSON.stringify({ ...good, begin: { ...(good.begin as object), transaction_tag: '' } }), /begin\.transaction_tag/],
      [JSON.stringify({ ...good, end: { ...(good.end as object), transaction_tag: 'other' } }), /must match the begin/],
    ];
    for (const [input, reason] of cases) {
      const decoded = decodeEvent(input);
      assert.equal(decoded.ok, false, String(input));
      if (!decoded.ok) assert.match(decoded.error, reason, String(input));
    }
  });

  test('fuzz: random bytes and random JSON never throw, and only valid events decode', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const decoded = decodeEvent(bytes);
        if (decoded.ok) assert.deepEqual(decodeEvent(encodeEvent(decoded.event)), decoded);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const decoded = decodeEvent(JSON.stringify(value) ?? '');
        if (decoded.ok) assert.deepEqual(decodeEvent(encodeEvent(decoded.event)), decoded);
      }),
      { numRuns: 2000 },
    );
  });

  test('fuzz: mutated valid events never throw; what decodes re-encodes to the same event', () => {
    const base = encodeEvent(eventOfIntent(intents[1] as CallIntent, settings));
    fc.assert(
      fc.property(fc.nat(base.length - 1), fc.string({ maxLength: 4 }), fc.nat(3), (at, insert, cut) => {
        const mutated = base.slice(0, at) + insert + base.slice(at + cut);
        const decoded = decodeEvent(mutated);
        if (decoded.ok) {
          const again = decodeEvent(encodeEvent(decoded.event as BusEvent));
          assert.deepEqual(again, decoded);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('canyan messages', () => {
  test('the original queues and RFC 3339 UTC datetimes; read back by the REST readers', () => {
    const begin = canyanMessageOf(eventOfIntent(intents[0] as CallIntent, settings));
    assert.equal(begin.queue, 'begin_transaction');
    assert.equal(begin.body.request.timestamp_begin, '2019-01-01T10:00:01.250000Z');
    assert.equal(begin.body.request.transaction_tag, 'call-1@host');
    const end = canyanMessageOf(eventOfIntent(intents[1] as CallIntent, settings));
    assert.equal(end.queue, 'end_transaction');
    assert.equal(end.body.request.timestamp_end, '2019-01-01T10:01:01.500001Z');
    assert.equal('end_reason' in end.body.request, false, 'no end_reason for a captured BYE');
    assert.equal(canyanMessageOf(eventOfIntent(intents[2] as CallIntent, settings)).body.request.end_reason, 'max_duration');
    const record = canyanMessageOf(eventOfIntent(intents[3] as CallIntent, settings));
    assert.equal(record.queue, 'record_transaction');
    const untagged = canyanMessageOf(eventOfIntent(intents[3] as CallIntent, { tenant: 'acme', tags: null }));
    assert.deepEqual(untagged.body.request.tags, [], 'the original crashes on null tags in a record');

    const readEnd = readCanyanMessage(end.queue, Buffer.from(JSON.stringify(end.body)));
    assert.ok(readEnd.ok);
    assert.equal(readEnd.operation.request.transaction_tag, 'call-1@host');
    assert.equal(readEnd.operation.queue === 'end_transaction' ? readEnd.operation.request.timestamp_end : 0, END);
    const readRecord = readCanyanMessage(record.queue, Buffer.from(JSON.stringify(record.body)));
    assert.ok(readRecord.ok);
    assert.equal(readRecord.operation.queue === 'record_transaction' ? readRecord.operation.request.sip_status : 0, 486);
  });

  test('malformed and invalid messages are told apart', () => {
    const malformed = readCanyanMessage('begin_transaction', Buffer.from('nope'));
    assert.ok(!malformed.ok && 'malformed' in malformed);
    const noRequest = readCanyanMessage('begin_transaction', Buffer.from('{"x":1}'));
    assert.ok(!noRequest.ok && 'malformed' in noRequest);
    const invalid = readCanyanMessage('begin_transaction', Buffer.from('{"request":{}}'));
    assert.ok(!invalid.ok && 'issues' in invalid);
    assert.deepEqual(invalid.issues[0]?.loc, ['body', 'transaction_tag']);
  });
});

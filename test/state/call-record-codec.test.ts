import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CallState, callRecordOf } from '../../src/calls/call-rules.ts';
import {
  TOMBSTONE,
  decodeEnvelope,
  decodePayload,
  encodeCall,
  encodeParked,
  encodeTombstone,
  parseParked,
  type MessageFacts,
} from '../../src/state/call-record-codec.ts';

function call(): CallState {
  const c = new CallState('corr-1', 'call-1@host', '1000', '1001', 'sip:1000@a', 'sip:1001@a', '10.0.0.1', 7, 1_795_421_493_359_767, 1_800_000_000_000_000);
  c.answeredAt = 1_795_421_495_000_000;
  c.answeredLocal = 1_800_000_001_000_000;
  return c;
}

const facts: MessageFacts = {
  isRequest: false,
  method: null,
  statusCode: 200,
  callId: 'call-1@host',
  cseqNumber: 1,
  cseqMethod: 'INVITE',
  to: { tag: 'b' },
  key: 'corr-1',
  at: 1_795_421_493_359_767,
  local: 1_800_000_000_000_000,
  srcIp: null,
};

describe('call record codec', () => {
  test('envelope: version, write id and payload (the payload may hold "|")', () => {
    assert.deepEqual(decodeEnvelope('3|ab12cd34:7|{"a":"x|y"}'), { version: 3, writeId: 'ab12cd34:7', payload: '{"a":"x|y"}' });
    assert.deepEqual(decodeEnvelope('1||T5'), { version: 1, writeId: '', payload: 'T5' });
  });

  test('a malformed envelope answers null', () => {
    for (const value of ['', 'T123', '3|only-one', 'x|w|T1', '1.5|w|T1', '99999999999999999999|w|T1']) {
      assert.equal(decodeEnvelope(value), null, value);
    }
  });

  test('a live call round-trips through its payload', () => {
    const original = call();
    const payload = encodeCall(original);
    const decoded = decodePayload(payload);
    assert.ok(decoded !== null && decoded.call !== null);
    assert.ok(decoded.call instanceof CallState);
    assert.deepEqual(callRecordOf(decoded.call), callRecordOf(original));
    assert.equal(decoded.finishedUntil, 0);
    assert.equal(encodeCall(decoded.call), payload);
  });

  test('a tombstone round-trips, its grace rounded up to whole microseconds', () => {
    assert.equal(encodeTombstone(1_800_000_180_000_000.2), `${TOMBSTONE}1800000180000001`);
    assert.deepEqual(decodePayload(encodeTombstone(1_800_000_180_000_000)), { call: null, finishedUntil: 1_800_000_180_000_000 });
    // A tombstone whose time cannot be read absorbs late copies for ever (until Redis expires it).
    assert.deepEqual(decodePayload('Tsoon'), { call: null, finishedUntil: Number.POSITIVE_INFINITY });
  });

  test('a record as COMPARE_AND_SET stores it decodes in two steps', () => {
    const envelope = decodeEnvelope(`4|w:1|${encodeCall(call())}`);
    assert.ok(envelope !== null);
    assert.equal(envelope.version, 4);
    assert.equal(decodePayload(envelope.payload)?.call?.key, 'corr-1');
  });

  test('a malformed payload answers null rather than throwing', () => {
    const record = JSON.parse(encodeCall(call())) as Record<string, unknown>;
    for (const payload of ['', '{', 'null', '42', '"text"', '[]', '{}', JSON.stringify({ ...record, key: '' }), JSON.stringify({ ...record, inviteCseq: 'x' }), JSON.stringify({ ...record, phase: 99 })]) {
      assert.equal(decodePayload(payload), null, payload);
    }
  });

  test('a parked message round-trips', () => {
    assert.deepEqual(parseParked(encodeParked(facts)), facts);
    const withoutTag: MessageFacts = { ...facts, isRequest: true, method: 'BYE', statusCode: null, to: null, callId: null, cseqNumber: null, cseqMethod: null, srcIp: '10.0.0.2' };
    assert.deepEqual(parseParked(encodeParked(withoutTag)), withoutTag);
  });

  test('malformed parked text answers null rather than throwing', () => {
    const valid = JSON.parse(encodeParked(facts)) as Record<string, unknown>;
    const broken = [
      '',
      '{',
      'null',
      '42',
      '"text"',
      JSON.stringify({ ...valid, isRequest: 'no' }),
      JSON.stringify({ ...valid, key: 1 }),
      JSON.stringify({ ...valid, at: '1' }),
      JSON.stringify({ ...valid, local: null }),
      JSON.stringify({ ...valid, method: 3 }),
      JSON.stringify({ ...valid, statusCode: '200' }),
      JSON.stringify({ ...valid, callId: 5 }),
      JSON.stringify({ ...valid, cseqNumber: '1' }),
      JSON.stringify({ ...valid, cseqMethod: false }),
      JSON.stringify({ ...valid, srcIp: 1 }),
      JSON.stringify({ ...valid, to: undefined }),
      JSON.stringify({ ...valid, to: 'b' }),
      JSON.stringify({ ...valid, to: { tag: 1 } }),
    ];
    for (const text of broken) assert.equal(parseParked(text), null, text);
  });
});

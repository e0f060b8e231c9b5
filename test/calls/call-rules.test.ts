// The call rules as pure functions, and the promise that there is one implementation of them: the
// Redis tracker (state serialised to Redis between every message) decides exactly what the
// in-memory tracker decides, on random message sequences.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import pino from 'pino';
import {
  hasToTag,
  ANSWERED,
  BEGIN,
  ACK_BEGIN_END,
  BEGIN_END,
  CallState,
  END,
  FAILED,
  FORGOTTEN,
  NOTHING,
  TIMED_OUT,
  applyMessage,
  applySweep,
  callRecordOf,
  callStateFromRecord,
  nextDeadline,
  type TrackableSipMessage,
} from '../../src/calls/call-rules.ts';
import { CallTracker } from '../../src/calls/call-tracker.ts';
import type { CallIntent } from '../../src/calls/call-intents.ts';
import { RedisCallTracker } from '../../src/state/redis-call-tracker.ts';
import { createStateRedisClient, waitForRedis } from '../../src/state/redis-client.ts';
import { SERVICES, skipUnlessServices } from '../support/services.ts';

const SECOND = 1_000_000;
const T0 = 1_795_421_493_359_767;
const LOCAL0 = 1_800_000_000_000_000;
const RULES = { maxCallDurationMicros: 3600 * SECOND, unansweredTimeoutMicros: 300 * SECOND, settleMicros: 5 * SECOND, ackSettleMicros: 2 * SECOND };

const req = (method: string, cseq: number, toTag: string | null = 'b'): TrackableSipMessage => ({
  isRequest: true,
  method,
  statusCode: null,
  callId: 'c',
  cseqNumber: cseq,
  cseqMethod: method,
  to: { tag: toTag },
});
const res = (status: number, cseq: number, cseqMethod = 'INVITE'): TrackableSipMessage => ({
  isRequest: false,
  method: null,
  statusCode: status,
  callId: 'c',
  cseqNumber: cseq,
  cseqMethod,
  to: { tag: 'b' },
});
const ringing = () => new CallState('c', 'c', '1000', '1001', 'sip:a', 'sip:b', null, 1, T0, LOCAL0);

describe('call rules', () => {
  test('answer, end, and the outcome codes', () => {
    const call = ringing();
    assert.equal(applyMessage(call, res(180, 1), T0 + 1, LOCAL0), NOTHING);
    assert.equal(applyMessage(call, res(200, 1), T0 + 2, LOCAL0 + 2), BEGIN);
    assert.equal(call.phase, ANSWERED);
    assert.equal(call.answeredAt, T0 + 2);
    assert.equal(applyMessage(call, res(200, 1), T0 + 3, LOCAL0 + 3), NOTHING);
    assert.equal(applyMessage(call, req('BYE', 2), T0 + 4, LOCAL0 + 4), END);
    assert.equal(applyMessage(ringing(), req('BYE', 2), T0 + 4, LOCAL0 + 4), BEGIN_END);
  });

  test('timeouts and the next deadline', () => {
    const call = ringing();
    assert.equal(nextDeadline(call, RULES), LOCAL0 + RULES.unansweredTimeoutMicros);
    assert.equal(applySweep(call, LOCAL0 + RULES.unansweredTimeoutMicros - 1, RULES), NOTHING);
    assert.equal(applySweep(call, LOCAL0 + RULES.unansweredTimeoutMicros, RULES), FORGOTTEN);
    applyMessage(call, res(486, 1), T0 + 10, LOCAL0 + 10);
    assert.equal(nextDeadline(call, RULES), LOCAL0 + 10 + RULES.settleMicros);
    assert.equal(applySweep(call, LOCAL0 + 10 + RULES.settleMicros, RULES), FAILED);
    const answered = ringing();
    assert.equal(applyMessage(answered, req('ACK', 1), T0 + 20, LOCAL0 + 20), NOTHING);
    assert.equal(nextDeadline(answered, RULES), LOCAL0 + 20 + RULES.ackSettleMicros);
    assert.equal(applySweep(answered, LOCAL0 + 20 + RULES.ackSettleMicros - 1, RULES), NOTHING);
    assert.equal(applySweep(answered, LOCAL0 + 20 + RULES.ackSettleMicros, RULES), BEGIN);
    assert.equal(answered.answeredAt, T0 + 20);
    assert.equal(nextDeadline(answered, RULES), LOCAL0 + 20 + RULES.maxCallDurationMicros);
    assert.equal(applySweep(answered, LOCAL0 + 20 + RULES.maxCallDurationMicros, RULES), TIMED_OUT);
  });

  test('an ACK waits for the 200 OK it acknowledges, handled late by another agent', () => {
    const call = ringing();
    assert.equal(applyMessage(call, req('ACK', 1), T0 + 300, LOCAL0 + 300), NOTHING);
    assert.equal(applyMessage(call, req('ACK', 1), T0 + 310, LOCAL0 + 310), NOTHING); // a copy
    assert.equal(call.ackAt, T0 + 300);
    assert.equal(applyMessage(call, res(200, 1), T0 + 200, LOCAL0 + 400), BEGIN);
    assert.equal(call.answeredAt, T0 + 200);
    assert.equal(applySweep(call, LOCAL0 + 300 + RULES.ackSettleMicros, RULES), NOTHING);
  });

  test('a BYE while the ACK waits ends the call once the answer is known: the ACK at the end of the wait', () => {
    const call = ringing();
    applyMessage(call, req('ACK', 1), T0 + 300, LOCAL0 + 300);
    assert.equal(applyMessage(call, req('BYE', 2), T0 + 5 * SECOND, LOCAL0 + 400), NOTHING);
    assert.equal(applyMessage(call, req('BYE', 2), T0 + 6 * SECOND, LOCAL0 + 500), NOTHING); // a copy, later
    assert.equal(call.byeAt, T0 + 5 * SECOND);
    assert.equal(nextDeadline(call, RULES), LOCAL0 + 300 + RULES.ackSettleMicros);
    assert.equal(applySweep(call, LOCAL0 + 300 + RULES.ackSettleMicros, RULES), ACK_BEGIN_END);
    assert.equal(call.answeredAt, T0 + 300);
  });

  test('a BYE while the ACK waits ends the call once the answer is known: a late 200 OK', () => {
    const call = ringing();
    applyMessage(call, req('ACK', 1), T0 + 300, LOCAL0 + 300);
    applyMessage(call, req('BYE', 2), T0 + 5 * SECOND, LOCAL0 + 400);
    assert.equal(applyMessage(call, res(200, 1), T0 + 200, LOCAL0 + 900), ACK_BEGIN_END);
    assert.equal(call.answeredAt, T0 + 200);
    assert.equal(call.byeAt, T0 + 5 * SECOND);
  });

  test('an ACK handled before the failure it acknowledges does not answer the call', () => {
    const call = ringing();
    applyMessage(call, req('ACK', 1), T0 + 300, LOCAL0 + 300);
    applyMessage(call, res(486, 1), T0 + 200, LOCAL0 + 400);
    assert.equal(applySweep(call, LOCAL0 + 300 + RULES.ackSettleMicros, RULES), NOTHING);
    assert.equal(applySweep(call, LOCAL0 + 400 + RULES.settleMicros, RULES), FAILED);
    // A new attempt (after a challenge) forgets the old attempt's ACK.
    const retried = ringing();
    applyMessage(retried, req('ACK', 1), T0 + 300, LOCAL0 + 300);
    applyMessage(retried, req('INVITE', 2, null), T0 + 400, LOCAL0 + 400);
    assert.equal(retried.ackLocal, 0);
    assert.equal(nextDeadline(retried, RULES), LOCAL0 + RULES.unansweredTimeoutMicros);
  });

  test('the To tag is read from toTag when the message offers it, else from to', () => {
    assert.equal(hasToTag({ ...req('INVITE', 1, null), toTag: 'x' }), true);
    assert.equal(hasToTag({ ...req('BYE', 2, 'b'), toTag: null }), false);
    assert.equal(hasToTag(req('BYE', 2, 'b')), true);
    assert.equal(hasToTag({ ...req('BYE', 2, 'b'), to: null }), false);
  });

  test('a record survives JSON; records that are not calls are refused', () => {
    const call = ringing();
    applyMessage(call, req('CANCEL', 1, null), T0 + 5, LOCAL0 + 5);
    const back = callStateFromRecord(JSON.parse(JSON.stringify(callRecordOf(call))));
    assert.deepEqual(back === null ? null : callRecordOf(back), callRecordOf(call));
    assert.equal(back?.cancelled, true);
    const acked = ringing();
    applyMessage(acked, req('ACK', 1), T0 + 5, LOCAL0 + 5);
    const ackedBack = callStateFromRecord(JSON.parse(JSON.stringify(callRecordOf(acked))));
    assert.deepEqual(ackedBack === null ? null : callRecordOf(ackedBack), callRecordOf(acked));
    // Records written before the ACK waited for its 200 OK have no ACK fields.
    const { ackAt: _ackAt, ackLocal: _ackLocal, byeAt: _byeAt, ...older } = callRecordOf(call);
    assert.equal(callStateFromRecord(older)?.ackLocal, 0);
    for (const bad of [null, 42, 'x', {}, { ...callRecordOf(call), phase: 7 }, { ...callRecordOf(call), key: '' }, { ...callRecordOf(call), invitedAt: 1.5 }, { ...callRecordOf(call), ackAt: 'x' }, { ...callRecordOf(call), byeAt: 1.5 }]) {
      assert.equal(callStateFromRecord(bad), null, JSON.stringify(bad));
    }
  });
});

const skip = await skipUnlessServices(['redis']);

describe('one implementation of the rules: the Redis tracker decides as the in-memory one', { skip }, () => {
  const prefix = `test-h2-rules-${randomUUID().slice(0, 8)}:`;
  const redis = skip === false ? createStateRedisClient(SERVICES.redis.url, pino({ level: 'silent' })) : null;

  after(async () => {
    if (redis === null) return;
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  // Everything a call's capture may contain after its INVITE, in any order and number.
  const later: Array<(id: string) => TrackableSipMessage> = [
    () => res(100, 1),
    () => res(180, 1),
    () => res(200, 1),
    () => res(486, 1),
    () => res(407, 1),
    () => res(503, 1),
    () => req('ACK', 1),
    () => req('ACK', 2),
    () => req('INVITE', 2, null),
    () => req('INVITE', 1, null),
    () => req('INVITE', 3, 'b'),
    () => req('CANCEL', 1, null),
    () => req('BYE', 2),
    () => res(200, 2),
    () => res(200, 2, 'BYE'),
    () => req('UPDATE', 4),
  ];
  const step = fc.oneof(
    fc.record({ kind: fc.constant('message' as const), which: fc.integer({ min: 0, max: later.length - 1 }), dt: fc.integer({ min: 0, max: 3 * SECOND }) }),
    fc.record({ kind: fc.constant('sweep' as const), wait: fc.constantFrom(SECOND, 5 * SECOND, 300 * SECOND, 3600 * SECOND) }),
  );

  test('random captures: same intents, same times', async () => {
    assert.ok(redis !== null && (await waitForRedis(redis, 5000)));
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
        const id = `prop-${randomUUID()}`;
        const clock = { now: LOCAL0 };
        const memoryIntents: CallIntent[] = [];
        const redisIntents: CallIntent[] = [];
        const common = {
          identifyParties: () => ({ accountTag: '1000', destinationAccountTag: '1001', source: 'sip:a', destination: 'sip:b' }),
          clock: () => clock.now,
          maxCallDurationMicros: RULES.maxCallDurationMicros,
          unansweredTimeoutMicros: RULES.unansweredTimeoutMicros,
          failureSettleMicros: RULES.settleMicros,
        };
        const memory = new CallTracker({ ...common, emit: (i) => memoryIntents.push(i) });
        const shared = new RedisCallTracker({
          ...common,
          emit: (i) => redisIntents.push(i),
          redis,
          // A prefix per run: a sweep takes every due call under its prefix.
          keyPrefix: `${prefix}${id}:`,
          logger: pino({ level: 'silent' }),
          ownsClient: false,
        });
        const feed = async (message: TrackableSipMessage, at: number): Promise<void> => {
          const withId = { ...message, callId: id };
          const packet = { timestampMicros: at, correlationId: null, srcIp: '10.0.0.9' };
          memory.observe(packet, withId);
          shared.observe(packet, withId);
          await shared.drain();
        };
        let at = T0;
        await feed(req('INVITE', 1, null), at);
        for (const s of steps) {
          if (s.kind === 'message') {
            at += s.dt;
            // Local time in whole seconds: the in-memory tracker keeps tombstone expiries in whole
            // seconds, Redis in microseconds; whole seconds make them agree to the microsecond.
            clock.now += Math.ceil(s.dt / SECOND) * SECOND;
            await feed(later[s.which](id), at);
          } else {
            clock.now += s.wait;
            memory.sweep(clock.now);
            shared.sweep(clock.now);
            await shared.drain();
          }
        }
        const summary = (intents: CallIntent[]) => intents.map((i) => `${i.kind}@${i.timestamp - T0}/${'sipStatus' in i ? i.sipStatus : ''}`);
        assert.deepEqual(summary(redisIntents), summary(memoryIntents));
        const { answered, ended, failed, timed_out, forgotten_unanswered, answer_not_captured, after_end } = memory.counters;
        const c = shared.counters;
        assert.deepEqual(
          [c.answered, c.ended, c.failed, c.timed_out, c.forgotten_unanswered, c.answer_not_captured, c.after_end],
          [answered, ended, failed, timed_out, forgotten_unanswered, answer_not_captured, after_end],
        );
        await shared.close();
      }),
      { numRuns: 100 },
    );
  });
});

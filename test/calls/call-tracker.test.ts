import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CallTracker, type IdentifiedParties, type TrackableSipMessage } from '../../src/calls/call-tracker.ts';
import type { CallIntent } from '../../src/calls/call-intents.ts';

// Fake SIP messages: the tracker reads only these fields (the real parser is exercised by the
// end-to-end agent tests). `parties` stands for what the account identification would find.
interface FakeMessage extends TrackableSipMessage {
  parties: IdentifiedParties;
}

const ALICE_TO_BOB: IdentifiedParties = {
  accountTag: '1000',
  destinationAccountTag: '1001',
  source: 'sip:1000@sip.example.com',
  destination: 'sip:1001@sip.example.com',
};
const NOBODY: IdentifiedParties = { accountTag: '', destinationAccountTag: '', source: 'sip:x@y', destination: 'sip:z@y' };

interface MessageOptions {
  callId?: string | null;
  toTag?: string | null;
  cseqMethod?: string;
  parties?: IdentifiedParties;
}

function request(method: string, cseq: number, options: MessageOptions = {}): FakeMessage {
  return {
    isRequest: true,
    method,
    statusCode: null,
    callId: options.callId === undefined ? 'call-1@host' : options.callId,
    cseqNumber: cseq,
    cseqMethod: options.cseqMethod ?? method,
    to: { tag: options.toTag === undefined ? (method === 'INVITE' ? null : 'callee-tag') : options.toTag },
    parties: options.parties ?? ALICE_TO_BOB,
  };
}

function response(status: number, cseq: number, cseqMethod = 'INVITE', options: MessageOptions = {}): FakeMessage {
  return {
    isRequest: false,
    method: null,
    statusCode: status,
    callId: options.callId === undefined ? 'call-1@host' : options.callId,
    cseqNumber: cseq,
    cseqMethod,
    to: { tag: status === 100 ? null : 'callee-tag' },
    parties: ALICE_TO_BOB,
  };
}

const SECOND = 1_000_000;
const T0 = 1_795_421_493_359_767; // 2026-11-23T08:11:33.359767Z, a capture time from the fixtures
const LOCAL0 = 1_800_000_000_000_000;
const MAX_DURATION = 4 * 3600 * SECOND;
const UNANSWERED = 300 * SECOND;
const SETTLE = 5 * SECOND;

function harness() {
  const intents: CallIntent[] = [];
  const clock = { now: LOCAL0 };
  const tracker = new CallTracker<FakeMessage>({
    identifyParties: (message) => message.parties,
    emit: (intent) => intents.push(intent),
    clock: () => clock.now,
    maxCallDurationMicros: MAX_DURATION,
    unansweredTimeoutMicros: UNANSWERED,
    failureSettleMicros: SETTLE,
    finishedGraceMicros: 180 * SECOND,
  });
  const feed = (message: FakeMessage, at: number | null, correlationId: string | null = null): void => {
    tracker.observe({ timestampMicros: at, correlationId, srcIp: '127.0.0.1' }, message);
  };
  /** Advances the local clock and sweeps. */
  const sweepAfter = (micros: number): void => {
    clock.now += micros;
    tracker.sweep(clock.now);
  };
  const summary = () => intents.map((intent) => `${intent.kind}@${intent.timestamp - T0}`);
  return { tracker, intents, clock, feed, sweepAfter, summary };
}

function basicCall(h: ReturnType<typeof harness>): void {
  h.feed(request('INVITE', 1), T0);
  h.feed(response(100, 1), T0 + 1_000);
  h.feed(response(180, 1), T0 + 2_000);
  h.feed(response(200, 1), T0 + 2_795);
  h.feed(request('ACK', 1), T0 + 3_000);
  h.feed(request('BYE', 2), T0 + 507_165);
  h.feed(response(200, 2, 'BYE'), T0 + 507_936);
}

describe('CallTracker', () => {
  test('a complete call begins at the 200 OK and ends at the BYE, with microsecond times', () => {
    const h = harness();
    basicCall(h);
    assert.deepEqual(h.summary(), ['begin@2795', 'end@507165']);
    const begin = h.intents[0];
    assert.equal(begin.timestamp, T0 + 2_795);
    assert.equal(begin.call.transactionTag, 'call-1@host');
    assert.equal(begin.call.accountTag, '1000');
    assert.equal(begin.call.destinationAccountTag, '1001');
    assert.equal(begin.call.source, 'sip:1000@sip.example.com');
    assert.equal(begin.call.destination, 'sip:1001@sip.example.com');
    assert.equal(begin.call.sourceIp, '127.0.0.1');
    assert.equal(begin.call.invitedAt, T0);
    assert.equal(h.tracker.trackedCalls, 0);
    const c = h.tracker.counters;
    assert.deepEqual([c.opened, c.answered, c.ended, c.failed, c.timed_out], [1, 1, 1, 0, 0]);
  });

  test('every message duplicated (mirrored in and out) begins and ends the call once', () => {
    const h = harness();
    const ladder: Array<[FakeMessage, number]> = [
      [request('INVITE', 1), T0],
      [response(100, 1), T0 + 100],
      [response(180, 1), T0 + 200],
      [response(200, 1), T0 + 300],
      [request('ACK', 1), T0 + 400],
      [request('BYE', 2), T0 + 9 * SECOND],
      [response(200, 2, 'BYE'), T0 + 9 * SECOND + 100],
    ];
    for (const [message, at] of ladder) {
      h.feed(message, at); // copy "in"
      h.feed(message, at + 50); // copy "out", a few microseconds later
      h.feed(message, at + 90); // a third hop
    }
    assert.deepEqual(h.summary(), ['begin@300', `end@${9 * SECOND}`]);
  });

  test('retransmitted 200 OK, ACK and BYE, also after the end, change nothing', () => {
    const h = harness();
    basicCall(h);
    h.feed(response(200, 1), T0 + 600_000);
    h.feed(request('ACK', 1), T0 + 600_100);
    h.feed(request('BYE', 2), T0 + 700_000);
    h.feed(request('INVITE', 1), T0 + 800_000); // a very late copy of the INVITE
    h.feed(response(200, 1), T0 + 900_000);
    assert.deepEqual(h.summary(), ['begin@2795', 'end@507165']);
    assert.equal(h.tracker.counters.after_end, 6); // including the 200 OK of the BYE
    assert.equal(h.tracker.trackedCalls, 0);
  });

  test('the tombstone of a finished call expires after the grace period', () => {
    const h = harness();
    basicCall(h);
    h.sweepAfter(181 * SECOND);
    const afterEnd = h.tracker.counters.after_end;
    h.feed(response(200, 1), T0 + 600_000);
    assert.equal(h.tracker.counters.after_end, afterEnd);
    assert.equal(h.tracker.counters.unknown_call, 1);
  });

  test('re-INVITE, UPDATE, PRACK, INFO and OPTIONS inside a call change nothing', () => {
    const h = harness();
    h.feed(request('INVITE', 1), T0);
    h.feed(response(183, 1), T0 + 10);
    h.feed(request('PRACK', 2), T0 + 20);
    h.feed(response(200, 2, 'PRACK'), T0 + 30);
    h.feed(request('UPDATE', 3), T0 + 40);
    h.feed(response(200, 3, 'UPDATE'), T0 + 50); // a 200 that is not the INVITE's
    assert.deepEqual(h.summary(), []);
    h.feed(response(200, 1), T0 + 100);
    h.feed(request('ACK', 1), T0 + 110);
    h.feed(request('INVITE', 4, { toTag: 'callee-tag' }), T0 + 200); // re-INVITE
    h.feed(response(200, 4), T0 + 210);
    h.feed(request('ACK', 4), T0 + 220);
    h.feed(request('INFO', 5), T0 + 300);
    h.feed(request('OPTIONS', 6), T0 + 400);
    h.feed(response(486, 4), T0 + 410); // a failed re-INVITE does not end the call
    h.feed(request('UPDATE', 7), T0 + 500);
    h.feed(request('BYE', 8), T0 + 10 * SECOND);
    assert.deepEqual(h.summary(), ['begin@100', `end@${10 * SECOND}`]);
  });

  test('an in-dialog INVITE (with a To tag) never opens a call', () => {
    const h = harness();
    h.feed(request('INVITE', 2, { toTag: 'x' }), T0);
    h.feed(response(200, 2), T0 + 10);
    h.feed(request('BYE', 3), T0 + 20);
    assert.deepEqual(h.summary(), []);
    assert.equal(h.tracker.counters.opened, 0);
  });

  test('CANCEL ends an unanswered attempt with status 487 at the time of the CANCEL', () => {
    const h = harness();
    h.feed(request('INVITE', 1), T0);
    h.feed(response(180, 1), T0 + 100);
    h.feed(request('CANCEL', 1, { toTag: null }), T0 + 3 * SECOND);
    h.feed(request('CANCEL', 1, { toTag: null }), T0 + 3 * SECOND + 40); // mirrored copy
    h.feed(response(200, 1, 'CANCEL'), T0 + 3 * SECOND + 100);
    h.feed(response(180, 1), T0 + 3 * SECOND + 120); // a late provisional changes nothing
    h.feed(response(487, 1), T0 + 3 * SECOND + 200);
    h.feed(request('ACK', 1, { toTag: 'callee-tag' }), T0 + 3 * SECOND + 300);
    assert.deepEqual(h.summary(), [], 'not reported before the settle period');
    h.sweepAfter(SETTLE);
    assert.equal(h.intents.length, 1);
    const failed = h.intents[0];
    assert.equal(failed.kind, 'attempt_failed');
    assert.equal(failed.kind === 'attempt_failed' ? failed.sipStatus : 0, 487);
    assert.equal(failed.timestamp, T0 + 3 * SECOND);
    assert.equal(h.tracker.counters.failed, 1);
    assert.equal(h.tracker.trackedCalls, 0);
  });

  test('a 486 Busy Here fails the attempt; its ACK does not begin the call', () => {
    const h = harness();
    h.feed(request('INVITE', 1), T0);
    h.feed(response(486, 1), T0 + 250_000);
    h.feed(request('ACK', 1), T0 + 250_500);
    h.sweepAfter(SETTLE - 1);
    assert.deepEqual(h.summary(), []);
    h.sweepAfter(1);
    assert.deepEqual(
      h.intents.map((i) => [i.kind, i.kind === 'attempt_failed' ? i.sipStatus : null, i.timestamp - T0]),
      [['attempt_failed', 486, 250_000]],
    );
    h.feed(response(486, 1), T0 + 260_000); // retransmission after the record
    h.sweepAfter(SETTLE);
    assert.equal(h.intents.length, 1);
  });

  test('a final 3xx fails the attempt with its status', () => {
    const h = harness();
    h.feed(request('INVITE', 1), T0);
    h.feed(response(302, 1), T0 + 1_000);
    h.sweepAfter(SETTLE);
    assert.equal(h.intents.length, 1);
    assert.equal(h.intents[0].kind === 'attempt_failed' ? h.intents[0].sipStatus : 0, 302);
  });

  test('a 407 challenge followed by a new INVITE (higher CSeq) that is answered is not a failure', () => {
    const h = harness();
    h.feed(request('INVITE', 1), T0);
    h.feed(response(407, 1), T0 + 100);
    h.feed(request('ACK', 1), T0 + 200);
    h.feed(request('INVITE', 2), T0 + 300);
    h.feed(response(407, 1), T0 + 350); // retransmitted challenge of the old attempt
    h.feed(response(180, 2), T0 + 400);
    h.sweepAfter(SETTLE * 3);
    assert.deepEqual(h.summary(), []);
    h.feed(response(200, 2), T0 + 20 * SECOND);
    h.feed(request('ACK', 2), T0 + 20 * SECOND + 10);
    h.feed(request('BYE', 3), T0 + 80 * SECOND);
    assert.deepEqual(h.summary(), [`begin@${20 * SECOND}`, `end@${80 * SECOND}`]);
    assert.equal(h.tracker.counters.failed, 0);
  });

  test('carrier failover: a 503 from the first carrier, then the next carrier answers', () => {
    const h = harness();
    h.feed(request('INVITE', 1), T0);
    h.feed(request('INVITE', 1), T0 + 10); // forwarded to carrier 1
    h.feed(response(503, 1), T0 + 5 * SECOND);
    h.feed(request('INVITE', 1), T0 + 5 * SECOND + 10); // forwarded to carrier 2
    h.sweepAfter(SETTLE * 2);
    h.feed(response(180, 1), T0 + 6 * SECOND);
    h.feed(response(200, 1), T0 + 12 * SECOND);
    h.feed(request('ACK', 1), T0 + 12 * SECOND + 10);
    h.feed(request('BYE', 2), T0 + 30 * SECOND);
    assert.deepEqual(h.summary(), [`begin@${12 * SECOND}`, `end@${30 * SECOND}`]);
  });

  test('a failure followed by more ringing is still recorded when the call is never answered', () => {
    const h = harness();
    h.feed(request('INVITE', 1), T0);
    h.feed(response(503, 1), T0 + SECOND);
    h.feed(response(180, 1), T0 + 2 * SECOND);
    h.sweepAfter(SETTLE * 2);
    assert.deepEqual(h.summary(), []);
    h.sweepAfter(UNANSWERED);
    assert.deepEqual(h.summary(), [`attempt_failed@${SECOND}`]);
  });

  test('a 200 OK crossing a CANCEL wins: the call begins', () => {
    const h = harness();
    h.feed(request('INVITE', 1), T0);
    h.feed(request('CANCEL', 1, { toTag: null }), T0 + SECOND);
    h.feed(response(200, 1), T0 + SECOND + 5);
    h.feed(request('ACK', 1), T0 + SECOND + 10);
    h.feed(request('BYE', 2), T0 + SECOND + 20);
    h.sweepAfter(SETTLE);
    assert.deepEqual(h.summary(), [`begin@${SECOND + 5}`, `end@${SECOND + 20}`]);
  });

  test('a BYE from the callee ends the call', () => {
    const h = harness();
    h.feed(request('INVITE', 1), T0);
    h.feed(response(200, 1), T0 + 10);
    h.feed(request('ACK', 1), T0 + 20);
    // The callee's own CSeq space: its first request may carry any number.
    h.feed(request('BYE', 7001), T0 + 42 * SECOND);
    h.feed(response(200, 2, 'BYE'), T0 + 42 * SECOND + 10);
    h.feed(request('BYE', 2), T0 + 42 * SECOND + 500); // the caller's BYE crossing it
    assert.deepEqual(h.summary(), ['begin@10', `end@${42 * SECOND}`]);
  });

  test('the ACK marks the answer when no 200 OK was captured', () => {
    const h = harness();
    h.feed(request('INVITE', 1), T0);
    h.feed(request('ACK', 2), T0 + 500); // an ACK of another CSeq is not the answer
    h.feed(request('ACK', 1), T0 + 622_171);
    h.feed(request('ACK', 1), T0 + 622_180);
    h.feed(request('BYE', 2), T0 + 1_628_078);
    // The BYE ends the call once the ACK has waited for a 200 OK that might still come.
    assert.deepEqual(h.summary(), []);
    h.sweepAfter(5 * SECOND);
    assert.deepEqual(h.summary(), ['begin@622171', 'end@1628078']);
    assert.equal(h.tracker.counters.answer_not_captured, 0);
  });

  test('an ACK without its 200 OK answers the call at the ACK once it has waited for the 200 OK', () => {
    const h = harness();
    h.feed(request('INVITE', 1), T0);
    h.feed(request('ACK', 1), T0 + 622_171);
    assert.deepEqual(h.summary(), []);
    h.sweepAfter(4 * SECOND);
    assert.deepEqual(h.summary(), []);
    h.sweepAfter(1 * SECOND);
    assert.deepEqual(h.summary(), ['begin@622171']);
    assert.equal(h.tracker.trackedCalls, 1); // answered, not finished
    h.feed(request('BYE', 2), T0 + 9 * SECOND);
    assert.deepEqual(h.summary(), ['begin@622171', `end@${9 * SECOND}`]);
    assert.equal(h.tracker.counters.answer_not_captured, 0);
  });

  test('a 200 OK handled after its ACK (another agent lagging) still marks the answer', () => {
    const h = harness();
    h.feed(request('INVITE', 1), T0);
    h.feed(request('ACK', 1), T0 + 3_000);
    h.feed(response(200, 1), T0 + 2_795);
    h.sweepAfter(6 * SECOND);
    h.feed(request('BYE', 2), T0 + 9 * SECOND);
    assert.deepEqual(h.summary(), ['begin@2795', `end@${9 * SECOND}`]);
  });

  test('a BYE for a ringing call (answer never captured) begins and ends it at the BYE', () => {
    const h = harness();
    h.feed(request('INVITE', 1), T0);
    h.feed(request('BYE', 2), T0 + 5 * SECOND);
    assert.deepEqual(h.summary(), [`begin@${5 * SECOND}`, `end@${5 * SECOND}`]);
    assert.equal(h.tracker.counters.answer_not_captured, 1);
  });

  test('a missing BYE closes the call after the maximum duration, at begin + max', () => {
    const h = harness();
    h.feed(request('INVITE', 1), T0);
    h.feed(response(200, 1), T0 + 1_234);
    h.sweepAfter(MAX_DURATION - 1);
    assert.deepEqual(h.summary(), ['begin@1234']);
    h.sweepAfter(1);
    assert.equal(h.intents.length, 2);
    const closed = h.intents[1];
    assert.equal(closed.kind, 'timed_out');
    assert.equal(closed.kind === 'timed_out' ? closed.endReason : null, 'max_duration');
    assert.equal(closed.timestamp, T0 + 1_234 + MAX_DURATION);
    assert.equal(h.tracker.counters.timed_out, 1);
    h.feed(request('BYE', 2), T0 + MAX_DURATION + 10 * SECOND); // too late
    assert.equal(h.intents.length, 2);
  });

  test('timeouts use the local clock, so replayed old captures are not closed early', () => {
    const h = harness();
    // HEP times from years ago, local clock now: the call is young in local time.
    h.feed(request('INVITE', 1), T0 - 365 * 86_400 * SECOND);
    h.feed(response(200, 1), T0 - 365 * 86_400 * SECOND + 10);
    h.sweepAfter(SECOND);
    assert.equal(h.tracker.counters.timed_out, 0);
    assert.equal(h.tracker.trackedCalls, 1);
  });

  test('an INVITE never answered is forgotten after the unanswered timeout', () => {
    const h = harness();
    h.feed(request('INVITE', 1), T0);
    h.feed(response(180, 1), T0 + SECOND);
    h.sweepAfter(UNANSWERED - 1);
    assert.equal(h.tracker.trackedCalls, 1);
    h.sweepAfter(1);
    assert.equal(h.tracker.trackedCalls, 0);
    assert.deepEqual(h.summary(), []);
    assert.equal(h.tracker.counters.forgotten_unanswered, 1);
    h.feed(response(200, 1), T0 + UNANSWERED + SECOND);
    assert.deepEqual(h.summary(), []);
  });

  test('the correlation id keys the call; replies without it still find the call by Call-ID', () => {
    const h = harness();
    // A B2BUA-like setup: correlation "leg-a" on both legs, the b-leg has its own Call-ID.
    h.feed(request('INVITE', 1, { callId: 'leg-a@x' }), T0, 'leg-a@x');
    h.feed(request('INVITE', 1, { callId: 'leg-b@y' }), T0 + 10, 'leg-a@x'); // same call, other leg
    h.feed(response(180, 1, 'INVITE', { callId: 'leg-a@x' }), T0 + 20, null);
    h.feed(response(200, 1, 'INVITE', { callId: 'leg-a@x' }), T0 + 30, null);
    h.feed(request('BYE', 2, { callId: 'leg-b@y' }), T0 + 40, 'leg-a@x');
    assert.deepEqual(h.summary(), ['begin@30', 'end@40']);
    assert.equal(h.intents[0].call.transactionTag, 'leg-a@x');
    assert.equal(h.tracker.counters.opened, 1);
  });

  test('a correlation id that differs from the Call-ID: transaction tag = Call-ID, alias lookups work', () => {
    const h = harness();
    h.feed(request('INVITE', 1, { callId: 'sip-call-id' }), T0, 'corr-42');
    h.feed(response(200, 1, 'INVITE', { callId: 'sip-call-id' }), T0 + 30, null);
    h.feed(request('BYE', 2, { callId: 'sip-call-id' }), T0 + 40, null);
    h.feed(request('BYE', 2, { callId: 'sip-call-id' }), T0 + 50, 'corr-42');
    assert.deepEqual(h.summary(), ['begin@30', 'end@40']);
    assert.equal(h.intents[0].call.transactionTag, 'sip-call-id');
    assert.equal(h.tracker.counters.after_end, 1);
  });

  test('an empty correlation id falls back to the Call-ID', () => {
    const h = harness();
    h.feed(request('INVITE', 1), T0, '');
    h.feed(response(200, 1), T0 + 30, null);
    h.feed(request('BYE', 2), T0 + 40, 'call-1@host');
    assert.deepEqual(h.summary(), ['begin@30', 'end@40']);
  });

  test('a call with neither account tag is not tracked, and is counted once', () => {
    const h = harness();
    h.feed(request('INVITE', 1, { parties: NOBODY }), T0);
    h.feed(request('INVITE', 1, { parties: NOBODY }), T0 + 5);
    h.feed(response(200, 1), T0 + 10);
    h.feed(request('BYE', 2), T0 + 20);
    assert.deepEqual(h.summary(), []);
    assert.equal(h.tracker.counters.untracked, 1);
    assert.equal(h.tracker.counters.opened, 0);
    assert.equal(h.tracker.counters.unknown_call, 2);
  });

  test('a later copy of an untracked INVITE that carries a tag opens the call', () => {
    const h = harness();
    h.feed(request('INVITE', 1, { parties: NOBODY }), T0);
    h.feed(request('INVITE', 1, { parties: { ...NOBODY, accountTag: '2000' } }), T0 + 5);
    h.feed(response(200, 1), T0 + 10);
    assert.deepEqual(h.summary(), ['begin@10']);
    assert.equal(h.intents[0].call.accountTag, '2000');
    assert.equal(h.intents[0].call.destinationAccountTag, '');
  });

  test('identification errors are counted and the call is not tracked', () => {
    const intents: CallIntent[] = [];
    const tracker = new CallTracker<FakeMessage>({
      identifyParties: () => {
        throw new Error('bad regexp');
      },
      emit: (intent) => intents.push(intent),
      clock: () => LOCAL0,
      maxCallDurationMicros: MAX_DURATION,
      unansweredTimeoutMicros: UNANSWERED,
    });
    tracker.observe({ timestampMicros: T0, correlationId: null, srcIp: null }, request('INVITE', 1));
    assert.equal(tracker.counters.identification_errors, 1);
    assert.equal(tracker.trackedCalls, 0);
  });

  test('packets without a HEP time (or with time 0) use the injected clock', () => {
    const h = harness();
    h.feed(request('INVITE', 1), null);
    h.feed(response(200, 1), 0);
    h.clock.now += 3 * SECOND;
    h.feed(request('BYE', 2), null);
    assert.deepEqual(
      h.intents.map((i) => [i.kind, i.timestamp]),
      [
        ['begin', LOCAL0],
        ['end', LOCAL0 + 3 * SECOND],
      ],
    );
  });

  test('implausible HEP times (far past, far future) are replaced by the local clock and counted', () => {
    const h = harness();
    h.feed(request('INVITE', 1), 1_000_000); // 1970
    h.feed(response(200, 1), LOCAL0 + 2 * 86_400 * SECOND); // two days ahead
    h.feed(request('BYE', 2), LOCAL0 - 9 * 365 * 86_400 * SECOND); // nine years ago: plausible
    assert.deepEqual(
      h.intents.map((i) => [i.kind, i.timestamp]),
      [
        ['begin', LOCAL0],
        ['end', LOCAL0],
      ],
    );
    assert.equal(h.tracker.counters.implausible_time, 1 + 1);
  });

  test('an end never precedes its begin, even when the sender clock steps back', () => {
    const h = harness();
    h.feed(request('INVITE', 1), T0);
    h.feed(response(200, 1), T0 + 10 * SECOND);
    h.feed(request('BYE', 2), T0 + 5 * SECOND);
    assert.deepEqual(h.summary(), [`begin@${10 * SECOND}`, `end@${10 * SECOND}`]);
  });

  test('messages without Call-ID and correlation are counted and ignored', () => {
    const h = harness();
    h.feed(request('INVITE', 1, { callId: null }), T0);
    assert.equal(h.tracker.counters.no_call_id, 1);
    assert.equal(h.tracker.trackedCalls, 0);
  });

  test('many concurrent calls are independent', () => {
    const h = harness();
    for (let i = 0; i < 50; i++) h.feed(request('INVITE', 1, { callId: `c${i}` }), T0 + i);
    for (let i = 0; i < 50; i += 2) h.feed(response(200, 1, 'INVITE', { callId: `c${i}` }), T0 + 1000 + i);
    for (let i = 1; i < 50; i += 2) h.feed(response(486, 1, 'INVITE', { callId: `c${i}` }), T0 + 1000 + i);
    for (let i = 0; i < 50; i += 2) h.feed(request('BYE', 2, { callId: `c${i}` }), T0 + 2000 + i);
    h.sweepAfter(SETTLE);
    const kinds = h.intents.reduce<Record<string, number>>((acc, i) => ({ ...acc, [i.kind]: (acc[i.kind] ?? 0) + 1 }), {});
    assert.deepEqual(kinds, { begin: 25, end: 25, attempt_failed: 25 });
    assert.equal(h.tracker.trackedCalls, 0);
  });
});

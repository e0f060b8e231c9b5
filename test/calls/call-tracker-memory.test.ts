import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CallTracker, type TrackableSipMessage } from '../../src/calls/call-tracker.ts';

// The budget: state for 100,000 concurrent calls fits in at most 100 MB.
const CALLS = 100_000;
const BUDGET_BYTES = 100 * 1024 * 1024;

function collectGarbage(): (() => void) | null {
  // The test runner does not start workers with --expose-gc; the flag can still be turned on
  // at run time and the function fetched from a fresh context.
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  return typeof gc === 'function' ? () => (gc as () => void)() : null;
}

interface Message extends TrackableSipMessage {
  account: number;
}

test('100,000 concurrent answered calls take less than 100 MB of heap', () => {
  const gc = collectGarbage();
  const settle = () => {
    if (gc !== null) {
      gc();
      gc();
    }
  };
  const tracker = new CallTracker<Message>({
    identifyParties: (message) => ({
      accountTag: String(message.account),
      destinationAccountTag: String(message.account + 1),
      source: `sip:${message.account}@sip.example.com`,
      destination: `sip:+3904012345${message.account % 100}@carrier.example.net`,
    }),
    emit: () => undefined,
    clock: () => 1_800_000_000_000_000,
    maxCallDurationMicros: 14_400_000_000,
    unansweredTimeoutMicros: 300_000_000,
  });
  settle();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < CALLS; i++) {
    // The Call-ID is cut out of a larger "SIP text", as a parser would, to check that the
    // tracker does not keep the text alive through the slice.
    const text = `INVITE sip:x SIP/2.0\r\nCall-ID: ${i.toString(16).padStart(8, '0')}-a84b4c76e66710@pc33.atlanta.example.com\r\n${'X-Padding: y\r\n'.repeat(10)}`;
    const start = text.indexOf('Call-ID: ') + 9;
    const callId = text.slice(start, text.indexOf('\r\n', start));
    const account = 1000 + (i % 5000);
    const base = { callId, cseqNumber: 1, cseqMethod: 'INVITE', account };
    const packet = { timestampMicros: 1_795_421_493_000_000 + i, correlationId: callId, srcIp: `10.0.${(i >> 8) & 255}.${i & 255}` };
    tracker.observe(packet, { ...base, isRequest: true, method: 'INVITE', statusCode: null, to: { tag: null } });
    tracker.observe(packet, { ...base, isRequest: false, method: null, statusCode: 200, to: { tag: 'as83kd9bs' } });
  }
  settle();
  const grown = process.memoryUsage().heapUsed - before;
  assert.equal(tracker.trackedCalls, CALLS);
  assert.equal(tracker.counters.answered, CALLS);
  if (gc === null) {
    console.log(`global gc unavailable: heap growth ${(grown / 1048576).toFixed(1)} MB measured without it (not asserted)`);
    return;
  }
  console.log(`heap growth for ${CALLS} calls: ${(grown / 1048576).toFixed(1)} MB (${Math.round(grown / CALLS)} bytes per call)`);
  assert.ok(grown < BUDGET_BYTES, `heap grew by ${grown} bytes`);
});

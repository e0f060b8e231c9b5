import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CallTracker, type TrackableSipMessage } from '../../src/calls/call-tracker.ts';
import { saveCallState, takeCallState } from '../../src/calls/call-state-file.ts';
import type { CallIntent } from '../../src/calls/call-intents.ts';

const SECOND = 1_000_000;
const T0 = 1_795_421_493_359_767;
const LOCAL0 = 1_800_000_000_000_000;

const dir = mkdtempSync(join(tmpdir(), 'call-state-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function message(isRequest: boolean, methodOrStatus: string | number, cseq: number, callId: string, toTag: string | null): TrackableSipMessage {
  return {
    isRequest,
    method: isRequest ? String(methodOrStatus) : null,
    statusCode: isRequest ? null : Number(methodOrStatus),
    callId,
    cseqNumber: cseq,
    cseqMethod: isRequest ? String(methodOrStatus) : 'INVITE',
    to: { tag: toTag },
  };
}
const invite = (id: string) => message(true, 'INVITE', 1, id, null);
const ok = (id: string) => message(false, 200, 1, id, 'b');
const busy = (id: string) => message(false, 486, 1, id, 'b');
const bye = (id: string) => message(true, 'BYE', 2, id, 'b');

function tracker(clock: { now: number }, intents: CallIntent[]): CallTracker {
  return new CallTracker({
    identifyParties: () => ({ accountTag: '1000', destinationAccountTag: '1001', source: 'sip:1000@a', destination: 'sip:1001@a' }),
    emit: (intent) => intents.push(intent),
    clock: () => clock.now,
    maxCallDurationMicros: 3600 * SECOND,
    unansweredTimeoutMicros: 300 * SECOND,
    failureSettleMicros: 5 * SECOND,
    finishedGraceMicros: 180 * SECOND,
  });
}

const packet = (at: number, correlationId: string | null = null) => ({ timestampMicros: at, correlationId, srcIp: '10.1.1.1' });

describe('saved call state (state_url=memory)', () => {
  test('open calls, failing attempts and tombstones survive a save and restore; the file is consumed', async () => {
    const clock = { now: LOCAL0 };
    const before: CallIntent[] = [];
    const first = tracker(clock, before);
    first.observe(packet(T0), invite('answered'));
    first.observe(packet(T0 + 100), ok('answered'));
    first.observe(packet(T0, 'corr-1'), invite('ringing-sip-id')); // keyed by a correlation id
    first.observe(packet(T0), invite('failing'));
    first.observe(packet(T0 + 200), busy('failing'));
    first.observe(packet(T0), invite('finished'));
    first.observe(packet(T0 + 10), ok('finished'));
    first.observe(packet(T0 + 20), bye('finished'));
    assert.equal(first.trackedCalls, 3);
    const path = join(dir, 'nested', 'agent-calls.json');
    await saveCallState(path, first.snapshot(), clock.now);
    assert.deepEqual(readdirSync(join(dir, 'nested')), ['agent-calls.json'], 'no temporary file left');

    clock.now += 2 * SECOND; // the restart
    const after: CallIntent[] = [];
    const second = tracker(clock, after);
    const loaded = await takeCallState(path);
    assert.equal(loaded.status, 'loaded');
    assert.equal(existsSync(path), false, 'consumed: not applied twice');
    const restored = second.restore(loaded.status === 'loaded' ? loaded.snapshot : { calls: [], tombstones: [] }, clock.now);
    assert.deepEqual(restored, { calls: 3, tombstones: 1, invalid: 0 });
    assert.equal(second.trackedCalls, 3);

    second.observe(packet(T0 + 60 * SECOND), bye('answered'));
    second.observe(packet(T0 + 300), ok('ringing-sip-id')); // found through the Call-ID alias
    second.observe(packet(T0 + 30), bye('finished')); // a late copy, absorbed by the tombstone
    clock.now += 5 * SECOND;
    second.sweep(clock.now);
    assert.deepEqual(
      after.map((i) => `${i.kind}:${i.call.transactionTag}@${i.timestamp - T0}`),
      [`end:answered@${60 * SECOND}`, 'begin:ringing-sip-id@300', 'attempt_failed:failing@200'],
    );
    assert.equal(after[0].kind === 'end' ? after[0].answeredAt : 0, T0 + 100);
    assert.equal(after[1].call.sourceIp, '10.1.1.1');
    assert.equal(second.counters.after_end, 1);
    assert.equal((await takeCallState(path)).status, 'missing');
  });

  test('expired tombstones are not restored; a call already tracked is kept as it is', () => {
    const clock = { now: LOCAL0 };
    const t = tracker(clock, []);
    t.observe(packet(T0), invite('known'));
    const restored = t.restore(
      {
        calls: [{ ...t.snapshot().calls[0], phase: 1, answeredAt: T0 + 5 }],
        tombstones: [
          ['old', LOCAL0 - 1],
          ['recent', LOCAL0 + 10 * SECOND],
        ],
      },
      clock.now,
    );
    assert.deepEqual(restored, { calls: 0, tombstones: 1, invalid: 0 });
    assert.equal(t.snapshot().calls[0].phase, 0);
    t.observe(packet(T0), ok('recent'));
    assert.equal(t.counters.after_end, 1);
  });

  test('invalid records are skipped and counted', () => {
    const t = tracker({ now: LOCAL0 }, []);
    const restored = t.restore(
      { calls: [{ key: 'x' } as never, null as never], tombstones: [['ok', LOCAL0 + SECOND], [42, 'x'] as never] },
      LOCAL0,
    );
    assert.deepEqual(restored, { calls: 0, tombstones: 1, invalid: 3 });
  });

  test('a corrupt file, or one of another format version, is moved aside, never applied', async () => {
    const corrupt = join(dir, 'corrupt.json');
    writeFileSync(corrupt, '{"format": "canyan-rating agent call state", "version": 1, "calls": [');
    const first = await takeCallState(corrupt);
    assert.equal(first.status, 'unusable');
    assert.match(first.status === 'unusable' ? first.reason : '', /not JSON/);
    assert.equal(existsSync(corrupt), false);
    const movedTo = first.status === 'unusable' ? first.movedTo : null;
    assert.ok(movedTo !== null && existsSync(movedTo));
    assert.match(readFileSync(movedTo, 'utf8'), /"calls": \[$/, 'kept as it was, for a look');

    const newer = join(dir, 'newer.json');
    writeFileSync(newer, JSON.stringify({ format: 'canyan-rating agent call state', version: 2, calls: [], tombstones: [] }));
    const second = await takeCallState(newer);
    assert.equal(second.status, 'unusable');
    assert.match(second.status === 'unusable' ? second.reason : '', /version 2/);

    const other = join(dir, 'other.json');
    writeFileSync(other, '[1, 2, 3]');
    assert.equal((await takeCallState(other)).status, 'unusable');
  });

  test('a missing file is normal', async () => {
    assert.deepEqual(await takeCallState(join(dir, 'absent.json')), { status: 'missing' });
  });
});

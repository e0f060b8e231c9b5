import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import type { Redis } from 'ioredis';
import { RedisCallTracker } from '../../src/state/redis-call-tracker.ts';
import { createStateRedisClient, waitForRedis } from '../../src/state/redis-client.ts';
import type { CallIntent } from '../../src/calls/call-intents.ts';
import type { IdentifiedParties, TrackableSipMessage } from '../../src/calls/call-tracker.ts';
import { SERVICES, skipUnlessServices } from '../support/services.ts';

const skip = await skipUnlessServices(['redis']);

interface FakeMessage extends TrackableSipMessage {
  parties: IdentifiedParties;
}

const ALICE_TO_BOB: IdentifiedParties = {
  accountTag: '1000',
  destinationAccountTag: '1001',
  source: 'sip:1000@sip.example.com',
  destination: 'sip:1001@sip.example.com',
};

function request(method: string, cseq: number, callId: string, toTag: string | null = method === 'INVITE' ? null : 'callee'): FakeMessage {
  return { isRequest: true, method, statusCode: null, callId, cseqNumber: cseq, cseqMethod: method, to: { tag: toTag }, parties: ALICE_TO_BOB };
}

function response(status: number, cseq: number, callId: string, cseqMethod = 'INVITE'): FakeMessage {
  return { isRequest: false, method: null, statusCode: status, callId, cseqNumber: cseq, cseqMethod, to: { tag: status === 100 ? null : 'callee' }, parties: ALICE_TO_BOB };
}

const SECOND = 1_000_000;
const T0 = 1_795_421_493_359_767;
const MAX_DURATION = 4 * 3600 * SECOND;
const UNANSWERED = 300 * SECOND;
const SETTLE = 5 * SECOND;

const prefix = `test-h2-${randomUUID().slice(0, 8)}:`;
const clients: Redis[] = [];
/** Local clock shared by the agents of a test (as NTP-synchronised machines). */
const clock = { now: 1_800_000_000_000_000 };

interface Agent {
  name: string;
  tracker: RedisCallTracker<FakeMessage>;
  feed(message: FakeMessage, at: number, correlationId?: string | null): void;
}

const intents: Array<{ agent: string; intent: CallIntent }> = [];

async function agent(name: string, options: { retryForMs?: number; url?: string } = {}): Promise<Agent> {
  const redis = createStateRedisClient(options.url ?? SERVICES.redis.url, pino({ level: 'silent' }), { commandTimeoutMs: 500 });
  clients.push(redis);
  if (options.url === undefined) assert.ok(await waitForRedis(redis, 5000), 'redis reachable');
  const tracker = new RedisCallTracker<FakeMessage>({
    redis,
    keyPrefix: prefix,
    identifyParties: (message) => message.parties,
    emit: (intent) => intents.push({ agent: name, intent }),
    logger: pino({ level: 'silent' }),
    clock: () => clock.now,
    maxCallDurationMicros: MAX_DURATION,
    unansweredTimeoutMicros: UNANSWERED,
    failureSettleMicros: SETTLE,
    finishedGraceMicros: 180 * SECOND,
    ...(options.retryForMs === undefined ? {} : { retryForMs: options.retryForMs }),
  });
  return {
    name,
    tracker,
    feed: (message, at, correlationId = null) => tracker.observe({ timestampMicros: at, correlationId, srcIp: '10.0.0.1' }, message),
  };
}

function of(callId: string): string[] {
  return intents.filter((i) => i.intent.call.transactionTag === callId).map((i) => `${i.intent.kind}@${i.intent.timestamp - T0}`);
}

async function drained(...agents: Agent[]): Promise<void> {
  await Promise.all(agents.map((a) => a.tracker.drain()));
}

after(async () => {
  if (skip !== false) return;
  // The trackers closed their own clients.
  const redis = createStateRedisClient(SERVICES.redis.url, pino({ level: 'silent' }));
  await waitForRedis(redis, 5000);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  assert.equal((await redis.keys(`${prefix}*`)).length, 0);
  await redis.quit();
  for (const client of clients) client.disconnect();
});

describe('RedisCallTracker: call state shared by agents', { skip }, () => {
  test('a call split across two agents begins and ends once', async () => {
    const [a, b] = [await agent('a'), await agent('b')];
    const id = `split-${randomUUID()}`;
    a.feed(request('INVITE', 1, id), T0);
    await drained(a);
    b.feed(response(180, 1, id), T0 + 100);
    b.feed(response(200, 1, id), T0 + 200);
    await drained(b);
    a.feed(request('ACK', 1, id), T0 + 300);
    b.feed(request('BYE', 2, id), T0 + 9 * SECOND);
    // Its mirrored copy reaches the other agent after it. (Fed at the same instant, the two agents
    // race and either copy may end the call: the documented limit of messages of one call handled
    // by different agents at once; 'every message fed to both agents at the same time' covers it.)
    await drained(b);
    a.feed(request('BYE', 2, id), T0 + 9 * SECOND + 50);
    await drained(a, b);
    assert.deepEqual(of(id), ['begin@200', `end@${9 * SECOND}`]);
    const begin = intents.find((i) => i.intent.call.transactionTag === id)?.intent;
    assert.equal(begin?.call.accountTag, '1000');
    assert.equal(begin?.call.sourceIp, '10.0.0.1');
    assert.equal(begin?.call.invitedAt, T0);
    assert.equal(a.tracker.counters.opened + b.tracker.counters.opened, 1);
    assert.equal(a.tracker.counters.after_end + b.tracker.counters.after_end, 1);
    await Promise.all([a.tracker.close(), b.tracker.close()]);
  });

  test('replies and ACK arriving before their INVITE (at another agent) are parked and applied', async () => {
    const [a, b] = [await agent('a'), await agent('b')];
    const id = `early-${randomUUID()}`;
    b.feed(response(180, 1, id), T0 + 100);
    b.feed(response(200, 1, id), T0 + 200);
    b.feed(request('ACK', 1, id), T0 + 300);
    await drained(b);
    assert.equal(b.tracker.stateCounters.parked, 3);
    assert.deepEqual(of(id), []);
    a.feed(request('INVITE', 1, id), T0);
    await drained(a);
    assert.deepEqual(of(id), ['begin@200']);
    assert.equal(a.tracker.stateCounters.parked_applied, 3);
    b.feed(request('BYE', 2, id), T0 + 5 * SECOND);
    await drained(b);
    assert.deepEqual(of(id), ['begin@200', `end@${5 * SECOND}`]);
    await Promise.all([a.tracker.close(), b.tracker.close()]);
  });

  test('a BYE parked before the INVITE: begin and end at once when the INVITE arrives', async () => {
    const [a, b] = [await agent('a'), await agent('b')];
    const id = `early-bye-${randomUUID()}`;
    b.feed(request('BYE', 2, id), T0 + 3 * SECOND);
    b.feed(response(200, 1, id), T0 + SECOND);
    await drained(b);
    a.feed(request('INVITE', 1, id), T0);
    await drained(a);
    assert.deepEqual(of(id), [`begin@${SECOND}`, `end@${3 * SECOND}`]);
    await Promise.all([a.tracker.close(), b.tracker.close()]);
  });

  test('every message fed to both agents at the same time: one begin, one end', async () => {
    const [a, b] = [await agent('a'), await agent('b')];
    const ids = Array.from({ length: 40 }, (_, i) => `dup-${i}-${randomUUID()}`);
    const ladder = (id: string): Array<[FakeMessage, number]> => [
      [request('INVITE', 1, id), T0],
      [response(180, 1, id), T0 + 100],
      [response(200, 1, id), T0 + 200],
      [request('ACK', 1, id), T0 + 300],
      [request('BYE', 2, id), T0 + 2 * SECOND],
    ];
    // Steps without waiting in between: both agents race on every transition.
    for (let step = 0; step < 5; step++) {
      for (const id of ids) {
        const [message, at] = ladder(id)[step];
        a.feed(message, at);
        b.feed(message, at);
      }
    }
    await drained(a, b);
    for (const id of ids) assert.deepEqual(of(id), ['begin@200', `end@${2 * SECOND}`], id);
    const opened = a.tracker.counters.opened + b.tracker.counters.opened;
    assert.equal(opened, ids.length);
    assert.ok(a.tracker.stateCounters.conflicts_retried + b.tracker.stateCounters.conflicts_retried > 0, 'the agents did race');
    await Promise.all([a.tracker.close(), b.tracker.close()]);
  });

  test('an agent stopped mid-call and a new one started: the new one ends the call', async () => {
    const a = await agent('a');
    const id = `restart-${randomUUID()}`;
    a.feed(request('INVITE', 1, id), T0);
    a.feed(response(200, 1, id), T0 + 500);
    await a.tracker.close();
    const c = await agent('c');
    c.feed(request('ACK', 1, id), T0 + 600);
    c.feed(request('BYE', 2, id), T0 + 60 * SECOND);
    await drained(c);
    assert.deepEqual(of(id), ['begin@500', `end@${60 * SECOND}`]);
    assert.equal(intents.filter((i) => i.intent.call.transactionTag === id && i.intent.kind === 'end')[0].agent, 'c');
    await c.tracker.close();
  });

  test('the correlation id keys the call; a reply traced without it finds the call through its Call-ID', async () => {
    const [a, b] = [await agent('a'), await agent('b')];
    const corr = `corr-${randomUUID()}`;
    const id = `sip-${randomUUID()}`;
    b.feed(response(200, 1, id), T0 + 30); // no correlation, before the INVITE
    await drained(b);
    a.feed(request('INVITE', 1, id), T0, corr);
    await drained(a);
    b.feed(request('BYE', 2, id), T0 + 40);
    await drained(b);
    a.feed(request('BYE', 2, id), T0 + 50, corr);
    await drained(a);
    assert.deepEqual(of(id), ['begin@30', 'end@40']);
    assert.equal(a.tracker.counters.after_end, 1);
    await Promise.all([a.tracker.close(), b.tracker.close()]);
  });

  test('sweeps of several agents fail a settled attempt once and close a call at the maximum duration once', async () => {
    const [a, b] = [await agent('a'), await agent('b')];
    const failing = `sweep-fail-${randomUUID()}`;
    const long = `sweep-long-${randomUUID()}`;
    a.feed(request('INVITE', 1, failing), T0);
    b.feed(response(486, 1, failing), T0 + 1000);
    a.feed(request('INVITE', 1, long), T0);
    a.feed(response(200, 1, long), T0 + 2000);
    await drained(a, b);
    const sweepBoth = async (): Promise<void> => {
      a.tracker.sweep(clock.now);
      b.tracker.sweep(clock.now);
      await drained(a, b);
    };
    clock.now += SETTLE - 1;
    await sweepBoth();
    assert.deepEqual(of(failing), []);
    clock.now += 1;
    await sweepBoth();
    await sweepBoth();
    assert.deepEqual(of(failing), ['attempt_failed@1000']);
    assert.ok(a.tracker.trackedCalls >= 1, 'tracked calls read from Redis');
    clock.now += MAX_DURATION;
    await sweepBoth();
    await sweepBoth();
    assert.deepEqual(of(long), ['begin@2000', `timed_out@${2000 + MAX_DURATION}`]);
    assert.equal(a.tracker.counters.timed_out + b.tracker.counters.timed_out, 1);
    b.feed(request('BYE', 2, long), T0 + MAX_DURATION + 10 * SECOND); // too late
    await drained(b);
    assert.equal(of(long).length, 2);
    await Promise.all([a.tracker.close(), b.tracker.close()]);
  });

  test('an unanswered INVITE is forgotten by one agent after the unanswered timeout', async () => {
    const [a, b] = [await agent('a'), await agent('b')];
    const id = `unanswered-${randomUUID()}`;
    a.feed(request('INVITE', 1, id), T0);
    await drained(a);
    clock.now += UNANSWERED;
    a.tracker.sweep(clock.now);
    b.tracker.sweep(clock.now);
    await drained(a, b);
    assert.equal(a.tracker.counters.forgotten_unanswered + b.tracker.counters.forgotten_unanswered, 1);
    assert.deepEqual(of(id), []);
    await Promise.all([a.tracker.close(), b.tracker.close()]);
  });

  test('a call whose record is gone from Redis (expired) leaves the deadlines without an intent', async () => {
    const a = await agent('a');
    const id = `expired-${randomUUID()}`;
    a.feed(request('INVITE', 1, id), T0);
    await drained(a);
    const redis = a.tracker.client;
    assert.notEqual(await redis.zscore(`${prefix}deadlines`, id), null);
    await redis.del(`${prefix}call:${id}`);
    clock.now += UNANSWERED;
    a.tracker.sweep(clock.now);
    await drained(a);
    assert.equal(await redis.zscore(`${prefix}deadlines`, id), null);
    assert.deepEqual(of(id), []);
    await a.tracker.close();
  });

  test('many calls split at random across three agents: each begins and ends once', async () => {
    const agents = [await agent('a'), await agent('b'), await agent('c')];
    const ids = Array.from({ length: 300 }, (_, i) => `many-${i}-${randomUUID()}`);
    let seed = 7;
    const pick = (): Agent => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return agents[seed % 3];
    };
    // Phases apart (as milliseconds pass between the answer and the hang-up of a real call): agents
    // do not order messages received by different agents at the same instant.
    for (const id of ids) pick().feed(request('INVITE', 1, id), T0);
    await drained(...agents);
    for (const id of ids) pick().feed(response(200, 1, id), T0 + 100);
    await drained(...agents);
    for (const id of ids) pick().feed(request('BYE', 2, id), T0 + 200);
    await drained(...agents);
    for (const id of ids) assert.deepEqual(of(id), ['begin@100', 'end@200'], id);
    await Promise.all(agents.map((x) => x.tracker.close()));
  });

  test('Redis unreachable: steps are retried for a bounded time, then dropped and counted; no crash', async () => {
    const down = await agent('down', { url: 'redis://127.0.0.1:1', retryForMs: 300 });
    down.feed(request('INVITE', 1, `down-${randomUUID()}`), T0);
    down.tracker.sweep(clock.now);
    await down.tracker.drain();
    const stats = down.tracker.stateStats();
    assert.equal(stats.dropped_redis_unavailable, 1);
    assert.ok(stats.redis_errors >= 2);
    assert.equal(stats.pending, 0);
    await down.tracker.close();
  });
});

// Publisher -> RabbitMQ -> consumer -> real engine on SQLite, native protocol.
import { describe, test } from 'node:test';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import type { CallIntent } from '../../src/calls/call-intents.ts';
import { openBusOutlet, type BusSettings } from '../../src/bus/publisher.ts';
import { startBusConsumer } from '../../src/bus/consumer.ts';
import { decodeEvent, encodeEvent, eventOfIntent } from '../../src/bus/events.ts';
import { deadLetterQueueOf, declareQueues } from '../../src/bus/topology.ts';
import { skipUnlessServices } from '../support/services.ts';
import { capturingLogger, silentLogger } from '../transports/support.ts';
import {
  AMQP_URL,
  FAST_RETRY,
  NOW,
  SECOND,
  closedPort,
  openBroker,
  openEngine,
  tempDir,
  trackedCall,
  uniqueQueue,
  waitFor,
} from './support.ts';

const skip = await skipUnlessServices(['rabbitmq']);
const BALANCE = 1_000_000;

function settings(queue: string, spoolDir: string, overrides: Partial<BusSettings> = {}): BusSettings {
  return {
    tenant: 'default',
    product_tag: 'VOICE',
    transaction_tags: [],
    bus_url: AMQP_URL,
    bus_protocol: 'native',
    bus_queue: queue,
    spool_dir: spoolDir,
    spool_max_bytes: 1 << 20,
    ...overrides,
  };
}

const consumerConfig = (queue: string) => ({ bus_url: AMQP_URL, bus_protocol: 'native' as const, bus_queue: queue, engine_prefetch: 8 });

const begin = (tag: string): CallIntent => ({ kind: 'begin', call: trackedCall(tag), timestamp: NOW });
const end = (tag: string, seconds = 30): CallIntent => ({ kind: 'end', call: trackedCall(tag), timestamp: NOW + seconds * SECOND, answeredAt: NOW });

describe('native bus', { skip }, () => {
  test('a call published begin then end is rated once; an end alone rates its call; a duplicate charges once', async () => {
    const queue = uniqueQueue();
    const spool = tempDir();
    const broker = await openBroker();
    broker.cleanup.push(queue, deadLetterQueueOf(queue));
    const { fixture, engine } = await openEngine();
    const outlet = await openBusOutlet({ config: settings(queue, spool.path), logger: silentLogger(), retry: FAST_RETRY });
    const consumer = await startBusConsumer({ config: consumerConfig(queue), engine, logger: silentLogger(), retry: FAST_RETRY });
    try {
      outlet.dispatch(begin('in-order'));
      outlet.dispatch(end('in-order', 30));
      // The end first, its begin afterwards (events from two agents).
      outlet.dispatch(end('end-first', 20));
      outlet.dispatch(begin('end-first'));
      // The same end twice.
      outlet.dispatch(begin('twice'));
      outlet.dispatch(end('twice', 10));
      outlet.dispatch(end('twice', 10));
      assert.equal(await outlet.confirmed(10_000), true);
      await waitFor('7 events acked', () => consumer.stats().acked === 7);
      const fees = new Map((await fixture.transactions()).map((t) => [t.transaction_tag, t.fee]));
      assert.deepEqual(Object.fromEntries(fees), { 'in-order': 30, 'end-first': 20, twice: 10 });
      assert.deepEqual(await fixture.running('1000'), [], 'the late begin did not reopen its call');
      assert.equal((await fixture.getAccount('1000'))?.balance, BALANCE - 60);
      const stats = outlet.stats();
      assert.equal(stats.published, 7);
      assert.equal(stats.confirmed, 7);
      assert.equal(stats.refused, 0);
      assert.equal(stats.connected, 1);
      assert.equal(consumer.stats().engine_rejected, 0);
    } finally {
      await outlet.close();
      await consumer.close();
      await broker.close();
      await fixture.close();
      spool.remove();
    }
  });

  test('an event whose consumer dies before acking is delivered again and charged once', async () => {
    const queue = uniqueQueue();
    const spool = tempDir();
    const broker = await openBroker();
    broker.cleanup.push(queue, deadLetterQueueOf(queue));
    const { fixture, engine } = await openEngine();
    const outlet = await openBusOutlet({ config: settings(queue, spool.path), logger: silentLogger(), retry: FAST_RETRY });
    try {
      outlet.dispatch(end('killed', 45));
      assert.equal(await outlet.confirmed(10_000), true);
      // A consumer that applies the event (its transaction commits) and dies before the ack.
      const dying = await broker.connection.createChannel();
      await declareQueues(dying, 'native', queue);
      let message = await dying.get(queue, { noAck: false });
      for (let i = 0; message === false && i < 50; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        message = await dying.get(queue, { noAck: false });
      }
      assert.ok(message !== false, 'the event is in the queue');
      const decoded = decodeEvent(message.content);
      assert.ok(decoded.ok && decoded.event.kind === 'end');
      assert.equal((await engine.completeTransaction(decoded.event.begin, decoded.event.end)).ok, true);
      await dying.close();
      assert.equal((await fixture.getAccount('1000'))?.balance, BALANCE - 45);

      const consumer = await startBusConsumer({ config: consumerConfig(queue), engine, logger: silentLogger(), retry: FAST_RETRY });
      await waitFor('the redelivered event acked', () => consumer.stats().acked === 1);
      await consumer.close();
      assert.equal((await fixture.getAccount('1000'))?.balance, BALANCE - 45, 'charged once');
      assert.equal((await broker.channel.checkQueue(queue)).messageCount, 0);
    } finally {
      await outlet.close();
      await broker.close();
      await fixture.close();
      spool.remove();
    }
  });

  test('engine failures are requeued after a backoff; rejections and undecodable messages are settled and logged', async () => {
    const queue = uniqueQueue();
    const spool = tempDir();
    const broker = await openBroker();
    broker.cleanup.push(queue, deadLetterQueueOf(queue));
    const { fixture, engine } = await openEngine();
    let failuresLeft = 2;
    const failing = {
      ...engine,
      completeTransaction: async (...args: Parameters<typeof engine.completeTransaction>) => {
        if (failuresLeft > 0) {
          failuresLeft--;
          throw new Error('storage unreachable (test)');
        }
        return engine.completeTransaction(...args);
      },
    };
    const { logger, records } = capturingLogger();
    const outlet = await openBusOutlet({ config: settings(queue, spool.path), logger: silentLogger(), retry: FAST_RETRY });
    const consumer = await startBusConsumer({
      config: consumerConfig(queue),
      engine: failing,
      logger,
      retry: FAST_RETRY,
      errorBackoff: { initialMs: 100, maxMs: 400 },
    });
    try {
      const started = Date.now();
      outlet.dispatch(end('flaky', 12));
      outlet.dispatch({ kind: 'begin', call: trackedCall('stranger', 'nobody'), timestamp: NOW });
      assert.equal(await outlet.confirmed(10_000), true);
      await broker.channel.sendToQueue(queue, Buffer.from('{"v":1,"kind":"nonsense"}'));
      await waitFor('all settled', () => {
        const s = consumer.stats();
        return s.acked === 2 && s.undecodable === 1;
      });
      const stats = consumer.stats();
      assert.equal(stats.engine_errors, 2);
      assert.equal(stats.requeued, 2);
      assert.equal(stats.engine_rejected, 1);
      assert.ok(Date.now() - started >= 200, 'each of the two requeues waited at least 100 ms');
      assert.equal((await fixture.getAccount('1000'))?.balance, BALANCE - 12);
      assert.ok(records.some((r) => r.level === 40 && r.msg === 'rating engine rejected a bus event' && r.failed_reason === 'NOT_FOUND'));
      assert.ok(records.some((r) => r.level === 50 && String(r.msg).includes('dead-letter')));
      await waitFor('dead-lettered', async () => (await broker.channel.checkQueue(deadLetterQueueOf(queue))).messageCount === 1);
      const dead = await broker.channel.get(deadLetterQueueOf(queue), { noAck: true });
      assert.ok(dead !== false);
      assert.equal(dead.content.toString(), '{"v":1,"kind":"nonsense"}');
    } finally {
      await outlet.close();
      await consumer.close();
      await broker.close();
      await fixture.close();
      spool.remove();
    }
  });

  test('with RabbitMQ unreachable events are spooled, and delivered in order by the next publisher on that spool', async () => {
    const queue = uniqueQueue();
    const spool = tempDir();
    const broker = await openBroker();
    broker.cleanup.push(queue, deadLetterQueueOf(queue));
    const port = await closedPort();
    const { logger, records } = capturingLogger();
    const offline = await openBusOutlet({
      config: settings(queue, spool.path, { bus_url: `amqp://guest:guest@127.0.0.1:${port}` }),
      logger,
      retry: FAST_RETRY,
      closeTimeoutMs: 200,
    });
    const intents: CallIntent[] = [];
    for (let i = 0; i < 25; i++) intents.push(begin(`call-${i}`), end(`call-${i}`, i + 1));
    for (const intent of intents) offline.dispatch(intent);
    await offline.idle();
    await new Promise((resolve) => setTimeout(resolve, 300)); // a few reconnect attempts
    const offlineStats = offline.stats();
    assert.equal(offlineStats.written, 50);
    assert.equal(offlineStats.spooled, 50);
    assert.equal(offlineStats.published, 0);
    assert.equal(offlineStats.connected, 0);
    assert.ok((offlineStats.spool_backlog_bytes ?? 0) > 0);
    assert.equal(records.filter((r) => String(r.msg).startsWith('bus unavailable')).length, 1, 'the outage is logged once');
    await offline.close();

    const online = await openBusOutlet({ config: settings(queue, spool.path), logger: silentLogger(), retry: FAST_RETRY });
    try {
      assert.equal(await online.confirmed(10_000), true);
      const stats = online.stats();
      assert.equal(stats.spool_replayed, 50);
      assert.equal(stats.confirmed, 50);
      assert.equal(stats.spool_backlog_bytes, 0);
      const received: string[] = [];
      for (;;) {
        const message = await broker.channel.get(queue, { noAck: true });
        if (message === false) break;
        received.push(message.content.toString());
      }
      const settingsOf = { tenant: 'default', tags: ['VOICE'] };
      assert.deepEqual(received, intents.map((intent) => encodeEvent(eventOfIntent(intent, settingsOf))));
    } finally {
      await online.close();
      await broker.close();
      spool.remove();
    }
  });

  test('dispatched events are in the spool file once the dispatching callback is done, before any other callback runs', async () => {
    const queue = uniqueQueue();
    const spool = tempDir();
    const port = await closedPort();
    const outlet = await openBusOutlet({
      config: settings(queue, spool.path, { bus_url: `amqp://guest:guest@127.0.0.1:${port}` }),
      logger: silentLogger(),
      retry: FAST_RETRY,
      closeTimeoutMs: 200,
    });
    const spoolText = (): string =>
      readdirSync(spool.path)
        .filter((name) => name.endsWith('.jsonl'))
        .map((name) => readFileSync(join(spool.path, name), 'utf8'))
        .join('');
    try {
      let seenByNextCallback: string | null = null;
      // A callback queued before the dispatch runs after it, as the next callback would.
      const next = new Promise<void>((resolve) =>
        setImmediate(() => {
          seenByNextCallback = spoolText();
          resolve();
        }),
      );
      outlet.dispatch(begin('early'));
      outlet.dispatch(end('early', 5));
      assert.equal(spoolText(), '', 'queued, not written yet (one write for both)');
      await next;
      assert.equal((seenByNextCallback ?? '').trim().split('\n').length, 2);
      assert.equal(outlet.stats().written, 2);
    } finally {
      await outlet.close();
      spool.remove();
    }
  });

  test('a full spool refuses events, counts them and logs each at error level', async () => {
    const queue = uniqueQueue();
    const spool = tempDir();
    const port = await closedPort();
    const { logger, records } = capturingLogger();
    const outlet = await openBusOutlet({
      config: settings(queue, spool.path, { bus_url: `amqp://guest:guest@127.0.0.1:${port}`, spool_max_bytes: 4096 }),
      logger,
      retry: FAST_RETRY,
      closeTimeoutMs: 100,
    });
    try {
      for (let i = 0; i < 40; i++) outlet.dispatch(end(`full-${i}`));
      await outlet.idle();
      const stats = outlet.stats();
      assert.ok((stats.refused ?? 0) > 0, 'some were refused');
      assert.equal((stats.written ?? 0) + (stats.refused ?? 0), 40);
      assert.ok((stats.spool_bytes ?? 0) <= 4096);
      const lost = records.filter((r) => r.level === 50 && r.msg === 'bus event LOST: refused by the spool');
      assert.equal(lost.length, stats.refused);
      assert.match(String(lost[0]?.event), /"kind":"end"/, 'the lost event itself is in the log');
    } finally {
      await outlet.close();
      spool.remove();
    }
  });

  test('a message returned as unroutable (queue deleted under the publisher) is published again after the queues are declared anew', async () => {
    const queue = uniqueQueue();
    const spool = tempDir();
    const broker = await openBroker();
    broker.cleanup.push(queue, deadLetterQueueOf(queue));
    const outlet = await openBusOutlet({ config: settings(queue, spool.path), logger: silentLogger(), retry: FAST_RETRY });
    try {
      outlet.dispatch(begin('first'));
      assert.equal(await outlet.confirmed(10_000), true);
      await broker.channel.deleteQueue(queue);
      outlet.dispatch(begin('second'));
      assert.equal(await outlet.confirmed(10_000), true);
      const stats = outlet.stats();
      assert.equal(stats.returned_or_nacked, 1);
      assert.equal(stats.reconnects, 1);
      const message = await broker.channel.get(queue, { noAck: true });
      assert.ok(message !== false);
      const decoded = decodeEvent(message.content);
      assert.ok(decoded.ok && decoded.event.kind === 'begin' && decoded.event.begin.transaction_tag === 'second');
    } finally {
      await outlet.close();
      await broker.close();
      spool.remove();
    }
  });

  test('close() stops consuming and waits for the events in flight to be applied and acked', async () => {
    const queue = uniqueQueue();
    const spool = tempDir();
    const broker = await openBroker();
    broker.cleanup.push(queue, deadLetterQueueOf(queue));
    const { fixture, engine } = await openEngine();
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    const slow = {
      ...engine,
      completeTransaction: async (...args: Parameters<typeof engine.completeTransaction>) => {
        started++;
        await held;
        return engine.completeTransaction(...args);
      },
    };
    const outlet = await openBusOutlet({ config: settings(queue, spool.path), logger: silentLogger(), retry: FAST_RETRY });
    const consumer = await startBusConsumer({ config: { ...consumerConfig(queue), engine_prefetch: 2 }, engine: slow, logger: silentLogger(), retry: FAST_RETRY });
    try {
      for (let i = 0; i < 5; i++) outlet.dispatch(end(`held-${i}`, 10));
      assert.equal(await outlet.confirmed(10_000), true);
      await waitFor('two in flight (prefetch 2)', () => started === 2);
      let closed = false;
      const closing = consumer.close().then(() => (closed = true));
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(closed, false, 'close waits for the events in flight');
      release();
      await closing;
      assert.equal(consumer.stats().acked, 2);
      assert.equal((await fixture.getAccount('1000'))?.balance, BALANCE - 20);
      // The acks reached the broker before the connection closed: only the 3 never delivered remain.
      await waitFor('3 left, none unacked', async () => (await broker.channel.checkQueue(queue)).messageCount === 3);
    } finally {
      await outlet.close();
      await consumer.close();
      await broker.close();
      await fixture.close();
      spool.remove();
    }
  });
  test('acks of applied events go out in batches: when a quarter of the prefetch is held, after a pause, and at close()', async () => {
    const queue = uniqueQueue();
    const spool = tempDir();
    const broker = await openBroker();
    broker.cleanup.push(queue, deadLetterQueueOf(queue));
    const { fixture, engine } = await openEngine();
    const outlet = await openBusOutlet({ config: settings(queue, spool.path), logger: silentLogger(), retry: FAST_RETRY });
    const open = (ackBatchMs: number) =>
      startBusConsumer({ config: { ...consumerConfig(queue), engine_prefetch: 16 }, engine, logger: silentLogger(), retry: FAST_RETRY, ackBatchMs });
    // Prefetch 16: acks go out 4 at a time, or after the pause.
    let consumer = await open(60_000);
    try {
      const stats = () => consumer.stats() as { acked: number; acks_held: number };
      for (let i = 0; i < 6; i++) outlet.dispatch(end(`batch-${i}`, 10));
      assert.equal(await outlet.confirmed(10_000), true);
      await waitFor('6 applied', async () => (await fixture.getAccount('1000'))?.balance === BALANCE - 60);
      await waitFor('a batch of 4 acked, 2 held', () => stats().acked === 4 && stats().acks_held === 2);
      await consumer.close();
      assert.deepEqual([stats().acked, stats().acks_held], [6, 0]);
      // Every ack reached the broker before the connection closed: nothing comes back.
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal((await broker.channel.checkQueue(queue)).messageCount, 0);

      consumer = await open(50);
      outlet.dispatch(end('batch-6', 10));
      assert.equal(await outlet.confirmed(10_000), true);
      await waitFor('the lone ack sent after the pause', () => stats().acked === 1 && stats().acks_held === 0);
      assert.equal((await fixture.getAccount('1000'))?.balance, BALANCE - 70);
    } finally {
      await outlet.close();
      await consumer.close();
      await broker.close();
      await fixture.close();
      spool.remove();
    }
  });
});

// Recovery: connections cut under the publisher and the consumer, and a publisher SIGKILLed with
// events in its spool.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CallIntent } from '../../src/calls/call-intents.ts';
import { openBusOutlet, type BusSettings } from '../../src/bus/publisher.ts';
import { startBusConsumer } from '../../src/bus/consumer.ts';
import { deadLetterQueueOf } from '../../src/bus/topology.ts';
import type { RatingEngine } from '../../src/rating/engine-types.ts';
import { skipUnlessServices } from '../support/services.ts';
import { silentLogger } from '../transports/support.ts';
import { AMQP_URL, FAST_RETRY, NOW, SECOND, closedPort, openBroker, openEngine, openRelay, tempDir, trackedCall, uniqueQueue, waitFor } from './support.ts';

const skip = await skipUnlessServices(['rabbitmq']);
const BALANCE = 1_000_000;

function settings(queue: string, spoolDir: string, busUrl: string): BusSettings {
  return {
    tenant: 'default',
    product_tag: 'VOICE',
    transaction_tags: [],
    bus_url: busUrl,
    bus_protocol: 'native',
    bus_queue: queue,
    spool_dir: spoolDir,
    spool_max_bytes: 1 << 20,
  };
}

function call(tag: string, seconds: number): CallIntent[] {
  return [
    { kind: 'begin', call: trackedCall(tag), timestamp: NOW },
    { kind: 'end', call: trackedCall(tag), timestamp: NOW + seconds * SECOND, answeredAt: NOW },
  ];
}

/** Sum of 1..n seconds: what n calls of 1, 2, ..., n seconds cost at 1 per second. */
const triangle = (n: number) => (n * (n + 1)) / 2;

describe('bus recovery', { skip }, () => {
  test('the publisher spools while its connection is cut and delivers after it comes back', async () => {
    const queue = uniqueQueue();
    const spool = tempDir();
    const broker = await openBroker();
    broker.cleanup.push(queue, deadLetterQueueOf(queue));
    const relay = await openRelay();
    const { fixture, engine } = await openEngine();
    const outlet = await openBusOutlet({ config: settings(queue, spool.path, relay.url), logger: silentLogger(), retry: FAST_RETRY });
    const consumer = await startBusConsumer({ config: { bus_url: AMQP_URL, bus_protocol: 'native', bus_queue: queue, engine_prefetch: 8 }, engine, logger: silentLogger(), retry: FAST_RETRY });
    try {
      for (let i = 1; i <= 10; i++) for (const intent of call(`before-${i}`, i)) outlet.dispatch(intent);
      assert.equal(await outlet.confirmed(10_000), true);
      const spooledBefore = outlet.stats().spooled ?? 0;
      await relay.cut();
      await waitFor('publisher sees the loss', () => outlet.state() === 'disconnected');
      for (let i = 1; i <= 10; i++) for (const intent of call(`during-${i}`, i)) outlet.dispatch(intent);
      await outlet.idle();
      assert.equal(outlet.stats().spooled, spooledBefore + 20);
      assert.equal(await outlet.confirmed(300), false);
      await relay.restore();
      assert.equal(await outlet.confirmed(10_000), true);
      assert.equal(outlet.stats().reconnects, 1);
      await waitFor('all 40 acked', () => consumer.stats().acked === 40);
      assert.equal((await fixture.getAccount('1000'))?.balance, BALANCE - 2 * triangle(10));
      assert.equal((await fixture.transactions()).length, 20);
    } finally {
      await outlet.close();
      await consumer.close();
      await relay.close();
      await broker.close();
      await fixture.close();
      spool.remove();
    }
  });

  test('the consumer reconnects after its connection is cut and rates what arrived meanwhile', async () => {
    const queue = uniqueQueue();
    const spool = tempDir();
    const broker = await openBroker();
    broker.cleanup.push(queue, deadLetterQueueOf(queue));
    const relay = await openRelay();
    const { fixture, engine } = await openEngine();
    const outlet = await openBusOutlet({ config: settings(queue, spool.path, AMQP_URL), logger: silentLogger(), retry: FAST_RETRY });
    const consumer = await startBusConsumer({ config: { bus_url: relay.url, bus_protocol: 'native', bus_queue: queue, engine_prefetch: 2 }, engine, logger: silentLogger(), retry: FAST_RETRY });
    try {
      for (const intent of call('first', 5)) outlet.dispatch(intent);
      await waitFor('first call acked', () => consumer.stats().acked === 2);
      await relay.cut();
      await waitFor('consumer sees the loss', () => consumer.stats().connection === 'disconnected');
      for (let i = 1; i <= 5; i++) for (const intent of call(`later-${i}`, i)) outlet.dispatch(intent);
      assert.equal(await outlet.confirmed(10_000), true);
      await relay.restore();
      // An ack sent just before the cut may not have reached the broker: that event comes again.
      await waitFor('all acked', () => (consumer.stats().acked as number) >= 12);
      await waitFor('queue empty', async () => (await broker.channel.checkQueue(queue)).messageCount === 0 && consumer.stats().in_flight === 0);
      assert.equal((await fixture.getAccount('1000'))?.balance, BALANCE - 5 - triangle(5));
      assert.equal((await fixture.transactions()).length, 6);
      assert.equal(consumer.stats().reconnects, 1);
    } finally {
      await outlet.close();
      await consumer.close();
      await relay.close();
      await broker.close();
      await fixture.close();
      spool.remove();
    }
  });

  test('events spooled by a SIGKILLed publisher are delivered by the next one; a clean close leaves nothing to repeat', async () => {
    const queue = uniqueQueue();
    const spool = tempDir();
    const broker = await openBroker();
    broker.cleanup.push(queue, deadLetterQueueOf(queue));
    const { fixture, engine } = await openEngine();
    const port = await closedPort();
    const script = fileURLToPath(new URL('./fixtures/spooling-agent.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, spool.path, `amqp://guest:guest@127.0.0.1:${port}`, queue, '15'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('ready')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`agent exited early with ${code}`)));
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;

      const consumer = await startBusConsumer({ config: { bus_url: AMQP_URL, bus_protocol: 'native', bus_queue: queue, engine_prefetch: 8 }, engine, logger: silentLogger(), retry: FAST_RETRY });
      const outlet = await openBusOutlet({ config: settings(queue, spool.path, AMQP_URL), logger: silentLogger(), retry: FAST_RETRY });
      assert.equal(await outlet.confirmed(10_000), true);
      assert.equal(outlet.stats().spool_replayed, 30);
      await outlet.close();
      await waitFor('all 30 acked', () => consumer.stats().acked === 30);
      assert.equal((await fixture.getAccount('1000'))?.balance, BALANCE - triangle(15));

      const again = await openBusOutlet({ config: settings(queue, spool.path, AMQP_URL), logger: silentLogger(), retry: FAST_RETRY });
      assert.equal(await again.confirmed(5_000), true);
      await again.close();
      assert.equal(again.stats().published, 0, 'the watermark saved at close covers everything');
      await consumer.close();
    } finally {
      child.kill('SIGKILL');
      await broker.close();
      await fixture.close();
      spool.remove();
    }
  });

  test('acks sent together never cover an event still being applied: cut off, only that one comes again', async () => {
    const queue = uniqueQueue();
    const spool = tempDir();
    const broker = await openBroker();
    broker.cleanup.push(queue, deadLetterQueueOf(queue));
    const relay = await openRelay();
    const { fixture, engine } = await openEngine();
    // Every ack frame the consumer sends, with its `multiple` flag (the channel class is amqplib's own).
    const probe = await broker.connection.createChannel();
    const channelClass = Object.getPrototypeOf(probe) as { ack: (message: unknown, allUpTo?: boolean) => void };
    const originalAck = channelClass.ack;
    const frames: boolean[] = [];
    channelClass.ack = function (this: unknown, message: unknown, allUpTo?: boolean) {
      frames.push(allUpTo === true);
      return originalAck.call(this, message, allUpTo);
    };
    const applied = new Map<string, number>();
    let release = (): void => undefined;
    const slowOnce = new Promise<void>((resolve) => (release = resolve));
    const slowed: RatingEngine = {
      ...engine,
      async completeTransaction(beginRequest, endRequest) {
        const tag = beginRequest.transaction_tag;
        applied.set(tag, (applied.get(tag) ?? 0) + 1);
        if (tag === 'slow' && applied.get(tag) === 1) await slowOnce;
        return engine.completeTransaction(beginRequest, endRequest);
      },
    };
    const outlet = await openBusOutlet({ config: settings(queue, spool.path, AMQP_URL), logger: silentLogger(), retry: FAST_RETRY });
    const consumer = await startBusConsumer({
      config: { bus_url: relay.url, bus_protocol: 'native', bus_queue: queue, engine_prefetch: 16 },
      engine: slowed,
      logger: silentLogger(),
      retry: FAST_RETRY,
      ackBatchMs: 100,
    });
    const order = ['before-1', 'before-2', 'before-3', 'slow', 'after-1', 'after-2', 'after-3'];
    try {
      // Delivered in this order (ends alone rate their calls): the three before the slow one are
      // acked by one frame, the three after it one by one, and the slow one by none.
      for (const tag of order) outlet.dispatch(call(tag, 10)[1]);
      assert.equal(await outlet.confirmed(10_000), true);
      await waitFor('all but the slow one acked', () => consumer.stats().acked === 6);
      assert.deepEqual(frames.slice(0, 4).sort(), [false, false, false, true]);
      // Let the acks reach the broker (loopback), then cut: the broker takes back what is unacked.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await relay.cut();
      await waitFor('consumer sees the loss', () => consumer.stats().connection === 'disconnected');
      release(); // applied now; its ack fails with the channel gone
      await relay.restore();
      await waitFor('the slow one delivered again and acked', () => applied.get('slow') === 2 && consumer.stats().acked === 7);
      await waitFor('queue empty', async () => (await broker.channel.checkQueue(queue)).messageCount === 0 && consumer.stats().in_flight === 0);
      assert.deepEqual(Object.fromEntries(applied), { 'before-1': 1, 'before-2': 1, 'before-3': 1, slow: 2, 'after-1': 1, 'after-2': 1, 'after-3': 1 });
      assert.equal((await fixture.getAccount('1000'))?.balance, BALANCE - 7 * 10, 'each call charged once');
    } finally {
      channelClass.ack = originalAck;
      await outlet.close();
      await consumer.close();
      await relay.close();
      await broker.close();
      await fixture.close();
      spool.remove();
    }
  });
});

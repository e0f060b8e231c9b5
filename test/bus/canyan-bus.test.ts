// bus_protocol=canyan: the original's queues and {"request": {...}} messages (rating.md §5).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CallIntent } from '../../src/calls/call-intents.ts';
import { openBusOutlet } from '../../src/bus/publisher.ts';
import { startBusConsumer } from '../../src/bus/consumer.ts';
import { CANYAN_DEAD_LETTER_EXCHANGE, CANYAN_QUEUES, declareQueues } from '../../src/bus/topology.ts';
import { skipUnlessServices } from '../support/services.ts';
import { silentLogger } from '../transports/support.ts';
import { AMQP_URL, FAST_RETRY, NOW, SECOND, openBroker, openEngine, tempDir, trackedCall, waitFor } from './support.ts';

const skip = await skipUnlessServices(['rabbitmq']);
const BALANCE = 1_000_000;
const consumerConfig = { bus_url: AMQP_URL, bus_protocol: 'canyan' as const, bus_queue: 'unused', engine_prefetch: 4 };

describe('canyan bus', { skip, concurrency: false }, () => {
  test('our publisher to our consumer over the original queues', async () => {
    const spool = tempDir();
    const broker = await openBroker();
    broker.cleanup.push(...CANYAN_QUEUES);
    const { fixture, engine } = await openEngine();
    const outlet = await openBusOutlet({
      config: {
        tenant: 'default',
        product_tag: 'VOICE',
        transaction_tags: [],
        bus_url: AMQP_URL,
        bus_protocol: 'canyan',
        bus_queue: 'unused',
        spool_dir: spool.path,
        spool_max_bytes: 1 << 20,
      },
      logger: silentLogger(),
      retry: FAST_RETRY,
    });
    const consumer = await startBusConsumer({ config: consumerConfig, engine, logger: silentLogger(), retry: FAST_RETRY });
    try {
      // Three queues: RabbitMQ keeps no order between them, so each step waits for the last
      // (the original's weakness, documented).
      const steps: CallIntent[] = [
        { kind: 'begin', call: trackedCall('canyan-1'), timestamp: NOW + 250_000 },
        { kind: 'end', call: trackedCall('canyan-1'), timestamp: NOW + 250_000 + 40 * SECOND, answeredAt: NOW + 250_000 },
        { kind: 'attempt_failed', call: trackedCall('canyan-2'), timestamp: NOW, sipStatus: 486 },
      ];
      for (const [index, intent] of steps.entries()) {
        outlet.dispatch(intent);
        assert.equal(await outlet.confirmed(10_000), true);
        await waitFor(`step ${index} acked`, () => consumer.stats().acked === index + 1);
      }
      const rated = await fixture.getTransaction('canyan-1', '1000');
      assert.equal(rated?.fee, 40);
      assert.equal(rated?.timestamp_begin, NOW + 250_000, 'fractions of a second survive RFC 3339 text');
      assert.equal((await fixture.getAccount('1000'))?.balance, BALANCE - 40);
      const failed = await fixture.getTransaction('canyan-2', '1000');
      assert.equal(failed?.fee, 0);
      assert.equal(consumer.stats().engine_rejected, 0);
    } finally {
      await outlet.close();
      await consumer.close();
      await broker.close();
      await fixture.close();
      spool.remove();
    }
  });

  test('hand-built original messages: fire-and-forget begin and end, and RPC calls answered on reply_to', async () => {
    const broker = await openBroker();
    broker.cleanup.push(...CANYAN_QUEUES);
    const { fixture, engine } = await openEngine();
    const consumer = await startBusConsumer({ config: consumerConfig, engine, logger: silentLogger(), retry: FAST_RETRY });
    try {
      await declareQueues(broker.channel, 'canyan', 'unused');
      const send = (queue: string, body: unknown, properties = {}) =>
        broker.channel.sendToQueue(queue, Buffer.from(JSON.stringify(body)), { contentType: 'application/json', ...properties });
      // As the original Go HEP agent sends them (§5.4): "" for the unknown side, RFC 3339 seconds.
      send('begin_transaction', {
        request: {
          tenant: 'default',
          transaction_tag: 'original-1',
          account_tag: '1000',
          destination_account_tag: '',
          source: '1000',
          destination: '393291234567',
          timestamp_begin: '2019-01-01T10:00:00Z',
        },
      });
      await waitFor('begin acked', () => consumer.stats().acked === 1);
      send('end_transaction', {
        request: { tenant: 'default', transaction_tag: 'original-1', account_tag: '1000', destination_account_tag: '', timestamp_end: '2019-01-01T10:00:30Z' },
      });
      await waitFor('end acked', () => consumer.stats().acked === 2);
      assert.equal((await fixture.getTransaction('original-1', '1000'))?.fee, 30);
      assert.equal((await fixture.getAccount('1000'))?.balance, BALANCE - 30);

      // RPC calls (§5.2/§5.3, §7.5): the answer goes to reply_to with the correlation id.
      const replies = await broker.channel.assertQueue('', { exclusive: true, autoDelete: true });
      const answers = new Map<string, { type: unknown; body: unknown }>();
      await broker.channel.consume(
        replies.queue,
        (message) => {
          if (message !== null) answers.set(String(message.properties.correlationId), { type: message.properties.type, body: JSON.parse(message.content.toString()) });
        },
        { noAck: true },
      );
      send('begin_transaction', { request: {} }, { replyTo: replies.queue, correlationId: '1', type: 'call' });
      send('end_transaction', { request: { transaction_tag: '100' } }, { replyTo: replies.queue, correlationId: '2', type: 'call' });
      send('record_transaction', { request: { transaction_tag: '100' } }, { replyTo: replies.queue, correlationId: '3', type: 'call' });
      await waitFor('three answers', () => answers.size === 3);
      assert.deepEqual(answers.get('1'), {
        type: 'result',
        body: { errors: [{ loc: ['transaction_tag'], msg: 'field required', type: 'value_error.missing' }] },
      });
      assert.equal((answers.get('2')?.body as { ok: boolean }).ok, false);
      assert.equal((answers.get('3')?.body as { ok: boolean }).ok, false);
      assert.equal(consumer.stats().invalid, 1);

      // Not JSON: rejected without requeue, i.e. dead-lettered to rpc.dlx (which drops it).
      broker.channel.sendToQueue('begin_transaction', Buffer.from('not json'));
      await waitFor('undecodable settled', () => consumer.stats().undecodable === 1);
      assert.equal((await broker.channel.checkQueue('begin_transaction')).messageCount, 0);
    } finally {
      await consumer.close();
      await broker.close();
      await fixture.close();
    }
  });
});

test('the canyan queues are declared exactly as the original declares them', { skip }, async () => {
  const broker = await openBroker();
  broker.cleanup.push(...CANYAN_QUEUES);
  try {
    await declareQueues(broker.channel, 'canyan', 'unused');
    // The original's declaration, parameter for parameter: a different one would fail with 406.
    for (const queue of CANYAN_QUEUES) {
      await broker.channel.assertQueue(queue, {
        durable: false,
        autoDelete: true,
        exclusive: false,
        arguments: { 'x-dead-letter-exchange': CANYAN_DEAD_LETTER_EXCHANGE },
      });
    }
    await broker.channel.assertExchange(CANYAN_DEAD_LETTER_EXCHANGE, 'headers', { durable: false, autoDelete: true });
  } finally {
    await broker.close();
  }
});

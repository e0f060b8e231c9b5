// The scale-out deployment under failure: 2 agents, 2 engines and 1 API process on PostgreSQL +
// Redis + RabbitMQ. Messages of every call are split across both agents; one engine is killed
// with SIGKILL while it works and one agent is restarted while calls are open. Afterwards every
// call has exactly one transaction per account side with the right times and fee, balances are
// exactly minus the sum of fees, and nothing is left running or queued.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { nowMicros } from '../../src/domain/time.ts';
import { skipUnlessServices } from '../support/services.ts';
import { CallSender, Cluster, waitUntil } from './cluster.ts';

const skip = await skipUnlessServices(['postgresql', 'redis', 'rabbitmq']);

const CALLS = 2000;
const PACKETS_PER_SECOND = 1500;
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe('scale-out: 2 agents, 2 engines, 1 API on PostgreSQL, Redis and RabbitMQ', { skip, timeout: 300_000 }, () => {
  let cluster: Cluster;
  let sender: CallSender;

  before(async () => {
    cluster = new Cluster();
    await cluster.start('api', 'api');
    await cluster.seed();
    await Promise.all([cluster.start('engine-1', 'engine'), cluster.start('engine-2', 'engine')]);
    await Promise.all([cluster.start('agent-1', 'agent'), cluster.start('agent-2', 'agent')]);
    // HEP times an hour ago: calls of up to 2 minutes, all over long before "now".
    sender = new CallSender(cluster.run, nowMicros() - 3_600_000_000);
  });

  after(async () => {
    sender?.close();
    await cluster?.cleanup();
  });

  test('every call is rated exactly once through an engine crash and an agent restart', async () => {
    const agents = [cluster.node('agent-1').hepPort ?? 0, cluster.node('agent-2').hepPort ?? 0];
    // Consecutive messages of a call go to different agents more often than not.
    const route = (seq: number, phase: number): number => agents[(seq * 7 + phase * 3 + (phase >> 1)) % 2];

    // 1. Complete calls while engine-1 is killed in the middle of its work.
    const firstBatch = sender.send(range(0, 1000), [0, 1, 2, 3, 4, 5], route, PACKETS_PER_SECOND);
    await waitUntil('engine-1 at work', async () => ((await cluster.stats('engine-1', 'engine')) as { acked: number }).acked > 100, 20_000);
    await cluster.stop('engine-1', 'SIGKILL');
    await firstBatch;

    // 2. Calls answered, not yet hung up; then agent-2 restarts while they are open.
    await sender.send(range(1000, 1500), [0, 1, 2, 3], route, PACKETS_PER_SECOND);
    assert.equal(await cluster.stop('agent-2', 'SIGTERM'), 0, cluster.group.outputOf('agent-2'));
    await cluster.start('agent-2', 'agent');

    // 3. The open calls hang up (partly through the restarted agent), and more calls come.
    await sender.send(range(1000, 1500), [4, 5], route, PACKETS_PER_SECOND);
    await sender.send(range(1500, CALLS), [0, 1, 2, 3, 4, 5], route, PACKETS_PER_SECOND);
    await cluster.start('engine-1', 'engine');

    await waitUntil('every call stored', async () => (await cluster.transactionCount()) >= 2 * CALLS, 120_000).catch((error: Error) => {
      throw new Error(`${error.message}\nagent-1:\n${cluster.group.outputOf('agent-1')}\nagent-2:\n${cluster.group.outputOf('agent-2')}\nengine-2:\n${cluster.group.outputOf('engine-2')}`);
    });
    await waitUntil('queue drained', async () => (await cluster.queued()).ready === 0, 30_000);

    assert.deepEqual(await cluster.verify(sender.startMicros, CALLS), []);
    assert.equal(await cluster.transactionCount(), 2 * CALLS, 'one transaction per account side, none more');
    assert.equal(await cluster.accountsWithRunningTransactions(), 0, 'nothing left running');
    assert.deepEqual(await cluster.queued(), { ready: 0, dead: 0 }, 'nothing left queued or dead-lettered');
    for (const agent of ['agent-1', 'agent-2']) {
      const stats = (await cluster.stats(agent, 'agent')) as { transactions: Record<string, number>; packets: { udp: { total: number } } };
      assert.ok(stats.packets.udp.total > 0, `${agent} received its share of the packets`);
      assert.ok(stats.transactions.written > 0, `${agent} published call events`);
      assert.equal(stats.transactions.unconfirmed, 0, `${agent} has no event awaiting RabbitMQ's confirm`);
      assert.equal(stats.transactions.spool_backlog_bytes, 0, `${agent} has nothing left in its spool`);
      assert.equal(stats.transactions.refused, 0, `${agent} refused no event`);
    }
    const engine = (await cluster.stats('engine-2', 'engine')) as Record<string, number>;
    assert.ok(engine.acked > 0 && engine.engine_errors === 0, JSON.stringify(engine));
  });
});

// The agent and engine roles as separate systems joined by a real RabbitMQ: the agent opens no
// database, publishes its call events, and the engine rates them.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import amqp from 'amqplib';
import pino from 'pino';
import { buildPacket, loadTemplates, seed, verify } from '../../bench/ingest.ts';
import { startSystem } from '../../src/app/system.ts';
import { loadConfig } from '../../src/config/config.ts';
import { nowMicros } from '../../src/domain/time.ts';
import { openSqliteStorage } from '../../src/storage/sqlite/index.ts';
import { skipUnlessServices, SERVICES } from '../support/services.ts';

const skip = await skipUnlessServices(['rabbitmq']);
const silent = pino({ level: process.env.TEST_LOG ?? 'silent' });

describe('agent and engine roles over RabbitMQ', { skip, timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'canyan-system-bus-'));
  const queue = `canyan-system-bus-${randomBytes(4).toString('hex')}`;

  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    const connection = await amqp.connect(SERVICES.rabbitmq.url);
    const channel = await connection.createChannel();
    for (const name of [queue, `${queue}.dead`]) await channel.deleteQueue(name);
    await connection.close();
  });

  test('an agent without a database feeds an engine in another system; the call is rated once', async () => {
    const common = { bus_url: SERVICES.rabbitmq.url, bus_queue: queue, api_listen: '127.0.0.1:0', hep_listen_tcp: '' };
    const database = join(dir, 'rating.db');
    const engineConfig = loadConfig({ flags: { ...common, database_url: `sqlite:${database}`, hep_listen_udp: '' }, env: {} });
    const agentConfig = loadConfig({
      flags: {
        ...common,
        // Unusable on purpose: an agent publishing to a bus must not open the database.
        database_url: 'sqlite:/proc/canyan-rating-must-not-open/rating.db',
        hep_listen_udp: '127.0.0.1:0',
        spool_dir: join(dir, 'spool'),
        state_file: '',
      },
      env: { RATING_AGENT_HEP_SIP_LOCAL_DOMAINS: 'sip.example.com' },
    });

    const storage = await openSqliteStorage({ path: database });
    await storage.migrate();
    await seed(storage, 'default');
    const engine = await startSystem(engineConfig, { roles: { api: false, agent: false, engine: true }, logger: silent });
    const agent = await startSystem(agentConfig, { roles: { api: false, agent: true, engine: false }, logger: silent });
    try {
      const port = agent.agent?.udpAddress?.port ?? 0;
      const templates = loadTemplates();
      const start = nowMicros() - 600_000_000;
      const socket = createSocket('udp4');
      for (let phase = 0; phase < 6; phase++) {
        const packet = buildPacket(templates[phase], 'sb', start, 0, phase);
        await new Promise<void>((resolve, reject) => socket.send(packet, port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
      }
      socket.close();
      const deadline = Date.now() + 20_000;
      let problems = await verify(storage, 'default', 'sb', start, 1);
      while (problems.length > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        problems = await verify(storage, 'default', 'sb', start, 1);
      }
      assert.deepEqual(problems, []);
      const status = await fetch(`http://127.0.0.1:${engine.apiAddress?.port}/status/engine`);
      assert.equal(status.status, 200);
    } finally {
      await agent.close();
      await engine.close();
      await storage.close();
    }
  });
});

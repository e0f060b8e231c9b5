// A scale-out deployment on this machine's real servers, for the multi-process test and the
// distributed benchmark: `canyan-rating api`, `engine` and `agent` processes on PostgreSQL (a schema
// of their own), Redis (a key prefix of their own) and RabbitMQ (queues of their own), all removed
// again by cleanup(). Synthetic calls are the ingest benchmark's (bench/ingest.ts): the captured
// Kamailio call with unique Call-IDs and HEP times, so every fee is known in advance.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import pg from 'pg';
import { openStorage } from '../../src/storage/open.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { buildPacket, loadTemplates, seed, verify, type PacketTemplate } from '../../bench/ingest.ts';
import { freePort, ProcessGroup, REPO, waitForHttp } from '../integrations/harness.ts';
import { SERVICES } from '../support/services.ts';

export const TENANT = 'default';
export const PACKETS_PER_CALL = 6;

export type Role = 'api' | 'engine' | 'agent';

export interface Node {
  readonly name: string;
  readonly role: Role;
  readonly statusUrl: string;
  /** The agent's HEP UDP port (agents only). */
  readonly hepPort: number | null;
  child: ChildProcess;
}

export class Cluster {
  readonly id = randomBytes(4).toString('hex');
  readonly schema = `scaleout_${this.id}`;
  readonly databaseUrl = `${SERVICES.postgresql.url}?schema=${this.schema}`;
  readonly redisPrefix = `canyan-scaleout-${this.id}:`;
  readonly queue = `canyan-scaleout-${this.id}.events`;
  readonly run = this.id.slice(0, 2);
  readonly group = new ProcessGroup();
  private readonly nodes = new Map<string, Node>();
  private readonly spoolRoot = this.group.tempDir('canyan-scaleout-spool-');
  private storage: Storage | null = null;

  constructor(private readonly extraEnv: Record<string, string> = {}) {}

  private env(name: string, role: Role, apiPort: number, hepPort: number | null): NodeJS.ProcessEnv {
    return {
      ...process.env,
      RATING_API_LISTEN: `127.0.0.1:${apiPort}`,
      RATING_DATABASE_URL: this.databaseUrl,
      RATING_DATABASE_POOL_SIZE: '8',
      RATING_STATE_URL: SERVICES.redis.url,
      RATING_STATE_KEY_PREFIX: this.redisPrefix,
      RATING_BUS_URL: SERVICES.rabbitmq.url,
      RATING_BUS_QUEUE: this.queue,
      RATING_SPOOL_DIR: join(this.spoolRoot, name),
      RATING_HEP_LISTEN_UDP: hepPort === null ? '' : `127.0.0.1:${hepPort}`,
      RATING_HEP_LISTEN_TCP: '',
      RATING_TENANT: TENANT,
      RATING_AGENT_HEP_SIP_LOCAL_DOMAINS: 'sip.example.com',
      RATING_LOG_LEVEL: role === 'agent' ? 'warn' : 'info',
      ...this.extraEnv,
    };
  }

  /** Starts (or restarts, keeping its ports and spool) a process and waits for its /status. */
  async start(name: string, role: Role): Promise<Node> {
    const previous = this.nodes.get(name);
    const apiPort = previous === undefined ? await freePort() : Number(new URL(previous.statusUrl).port);
    const hepPort = role !== 'agent' ? null : (previous?.hepPort ?? (await freePort()));
    const child = this.group.start(name, process.execPath, [join(REPO, 'bin', 'canyan-rating.js'), role], this.env(name, role, apiPort, hepPort));
    const node: Node = { name, role, statusUrl: `http://127.0.0.1:${apiPort}/status`, hepPort, child };
    this.nodes.set(name, node);
    try {
      await waitForHttp(node.statusUrl, 204, 60_000, child);
    } catch (error) {
      throw new Error(`${name} did not start: ${(error as Error).message}\n${this.group.outputOf(name)}`);
    }
    return node;
  }

  node(name: string): Node {
    const node = this.nodes.get(name);
    if (node === undefined) throw new Error(`no process ${name}`);
    return node;
  }

  /** Stops a process with `signal` and waits until it has exited. */
  async stop(name: string, signal: NodeJS.Signals): Promise<number | null> {
    const { child } = this.node(name);
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }

  async stats(name: string, what: 'agent' | 'engine'): Promise<Record<string, unknown>> {
    const response = await fetch(`${this.node(name).statusUrl}/${what}`);
    return (await response.json()) as Record<string, unknown>;
  }

  /** Storage of the cluster's database, opened from the test process (after the API migrated it). */
  async database(): Promise<Storage> {
    this.storage ??= await openStorage(this.databaseUrl, { poolSize: 2 });
    return this.storage;
  }

  async seed(): Promise<void> {
    await seed(await this.database(), TENANT);
  }

  /** Problems found in the database for calls 0..calls-1 (empty when every call is right). */
  async verify(startMicros: number, calls: number): Promise<string[]> {
    return verify(await this.database(), TENANT, this.run, startMicros, calls);
  }

  async transactionCount(): Promise<number> {
    const storage = await this.database();
    return storage.transaction((repo) => repo.count('transaction', [{ kind: 'eq', field: 'tenant', value: TENANT }]));
  }

  async accountsWithRunningTransactions(): Promise<number> {
    const storage = await this.database();
    return storage.transaction((repo) =>
      repo.count('account', [{ kind: 'runningTransaction', outboundOnly: false, begunAtOrBefore: null }]),
    );
  }

  /** Messages waiting in the event queue and in its dead-letter queue. */
  async queued(): Promise<{ ready: number; dead: number }> {
    const connection = await amqp.connect(SERVICES.rabbitmq.url);
    try {
      const channel = await connection.createChannel();
      const ready = (await channel.checkQueue(this.queue)).messageCount;
      let dead = 0;
      try {
        dead = (await channel.checkQueue(`${this.queue}.dead`)).messageCount;
      } catch {
        // no dead-letter queue declared: nothing was ever dead-lettered
      }
      return { ready, dead };
    } finally {
      await connection.close().catch(() => undefined);
    }
  }

  /**
   * Reads the event queue's ready count over one connection kept open (for polling; queued()
   * connects each time). Messages delivered and not yet acknowledged are not counted.
   */
  async readyCountProbe(): Promise<{ ready(): Promise<number>; close(): Promise<void> }> {
    const connection = await amqp.connect(SERVICES.rabbitmq.url);
    const channel = await connection.createChannel();
    return {
      ready: async () => (await channel.checkQueue(this.queue)).messageCount,
      close: () => connection.close().catch(() => undefined),
    };
  }

  async cleanup(): Promise<void> {
    await this.group.stopAll();
    await this.storage?.close().catch(() => undefined);
    this.storage = null;
    const client = new pg.Client({ connectionString: SERVICES.postgresql.url });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
    } finally {
      await client.end();
    }
    const redis = new Redis(SERVICES.redis.url);
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${this.redisPrefix}*`, 'COUNT', 1000);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
    const connection = await amqp.connect(SERVICES.rabbitmq.url);
    try {
      const channel = await connection.createChannel();
      for (const queue of [this.queue, `${this.queue}.dead`]) await channel.deleteQueue(queue);
    } finally {
      await connection.close().catch(() => undefined);
    }
  }
}

/** Sends the synthetic calls' HEP packets over UDP, each to the agent `route` picks. */
export class CallSender {
  private readonly templates: PacketTemplate[] = loadTemplates();
  private readonly socket: Socket = createSocket('udp4');
  sent = 0;

  constructor(
    private readonly run: string,
    readonly startMicros: number,
  ) {}

  /**
   * Sends message `phase` (0 INVITE, 1 180, 2 200, 3 ACK, 4 BYE, 5 200 for the BYE) of every call
   * in `seqs`, one phase at a time for the whole batch, at about `packetsPerSecond`.
   */
  async send(seqs: readonly number[], phases: readonly number[], route: (seq: number, phase: number) => number, packetsPerSecond: number): Promise<void> {
    const started = Date.now();
    let count = 0;
    for (const phase of phases) {
      for (const seq of seqs) {
        const packet = buildPacket(this.templates[phase], this.run, this.startMicros, seq, phase);
        await new Promise<void>((resolve, reject) =>
          this.socket.send(packet, route(seq, phase), '127.0.0.1', (error) => (error ? reject(error) : resolve())),
        );
        count++;
        this.sent++;
        const ahead = started + (count * 1000) / packetsPerSecond - Date.now();
        if (ahead > 2) await new Promise((resolve) => setTimeout(resolve, ahead));
      }
    }
  }

  close(): void {
    this.socket.close();
  }
}

export async function waitUntil(what: string, condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

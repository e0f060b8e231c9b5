// Shared pieces of the bus tests: unique queue names, a raw RabbitMQ channel for inspection, a
// real engine on a SQLite file, and polling.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Channel, type ChannelModel } from 'amqplib';
import type { TrackedCall } from '../../src/calls/call-intents.ts';
import { createRatingEngine } from '../../src/rating/engine.ts';
import type { RatingEngine } from '../../src/rating/engine-types.ts';
import { RateIndexCache } from '../../src/rating/rate-cache.ts';
import { DESTINATION, NOW, openEngineFixture, type EngineFixture } from '../rating/support.ts';
import { SERVICES } from '../support/services.ts';

export const AMQP_URL = SERVICES.rabbitmq.url;
export { NOW };
export const SECOND = 1_000_000;

export function uniqueQueue(): string {
  return `test.bus.${process.pid}.${randomBytes(4).toString('hex')}`;
}

export function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'bus-test-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A port nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export interface Broker {
  connection: ChannelModel;
  channel: Channel;
  /** Deletes these queues at close. */
  cleanup: string[];
  close(): Promise<void>;
}

export async function openBroker(): Promise<Broker> {
  const connection = await connect(AMQP_URL);
  const channel = await connection.createChannel();
  const broker: Broker = {
    connection,
    channel,
    cleanup: [],
    async close() {
      for (const queue of broker.cleanup) await channel.deleteQueue(queue).catch(() => undefined);
      await connection.close();
    },
  };
  return broker;
}

export interface EngineUnderTest {
  fixture: EngineFixture;
  /** The engine a consumer uses: unexpected errors propagate. */
  engine: RatingEngine;
}

export async function openEngine(): Promise<EngineUnderTest> {
  const fixture = await openEngineFixture();
  await fixture.account('1000', { balance: 1_000_000 });
  const engine = createRatingEngine({ storage: fixture.storage, clock: () => fixture.now, rates: new RateIndexCache(), rethrowUnexpectedErrors: true });
  return { fixture, engine };
}

export function trackedCall(tag: string, accountTag = '1000'): TrackedCall {
  return {
    transactionTag: tag,
    accountTag,
    destinationAccountTag: '',
    source: accountTag,
    destination: DESTINATION,
    sourceIp: '10.0.0.1',
    invitedAt: NOW - SECOND,
  };
}

export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export const FAST_RETRY = { initialDelayMs: 50, maxDelayMs: 200, connectTimeoutMs: 2000 };

/** A TCP relay to RabbitMQ that the test can cut (every connection dropped) and restore. */
export interface Relay {
  url: string;
  /** Drops every relayed connection and refuses new ones. */
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function openRelay(): Promise<Relay> {
  const { createConnection } = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((client) => {
    const upstream = createConnection({ host: SERVICES.rabbitmq.host, port: SERVICES.rabbitmq.port });
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  await listen(0);
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const port = address.port;
  const stop = async () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    cut: stop,
    restore: () => listen(port),
    close: stop,
  };
}

// A real HTTP server on 127.0.0.1 (port 0) over a real SQLite file in a temp dir, with the real
// rating engine unless a test hands in its own.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildServer, type StatsSource } from '../../../src/api/server.ts';
import { loadConfig } from '../../../src/config/config.ts';
import { createRatingEngine } from '../../../src/rating/engine.ts';
import type { Clock, RatingEngine } from '../../../src/rating/engine-types.ts';
import { RateIndexCache } from '../../../src/rating/rate-cache.ts';
import { openStorage } from '../../../src/storage/open.ts';
import type { Storage } from '../../../src/storage/storage.ts';

export interface Harness {
  baseUrl: string;
  storage: Storage;
  app: FastifyInstance;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: unknown; text: string; contentType: string }>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  engine?: (storage: Storage, rates: RateIndexCache, clock: Clock) => RatingEngine;
  agent?: StatsSource | null;
  bodyLimit?: number;
  clock?: Clock;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'canyan-rest-'));
  const config = loadConfig({
    flags: { database_url: `sqlite:${join(dir, 'rating.db')}`, api_listen: '127.0.0.1:0' },
    env: options.bodyLimit === undefined ? {} : { RATING_API_BODY_LIMIT: String(options.bodyLimit) },
  });
  const storage = await openStorage(config.database_url);
  const rates = new RateIndexCache();
  const clock = options.clock ?? (() => Date.now() * 1000);
  const engine = options.engine?.(storage, rates, clock) ?? createRatingEngine({ storage, rates, clock });
  const app = await buildServer({
    config,
    storage,
    engine,
    rates,
    clock,
    logger: pino({ level: 'silent' }),
    agent: options.agent ?? null,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  const baseUrl = `http://127.0.0.1:${address.port}`;
  return {
    baseUrl,
    storage,
    app,
    async post(path, body, headers = {}) {
      const response = await fetch(`${baseUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await response.text();
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
      return { status: response.status, body: parsed, text, contentType: response.headers.get('content-type') ?? '' };
    },
    async close() {
      await app.close();
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The common setup of rating.md §7.3: carrier and pricelist TESTS, rate "39" at 1 per second. */
export async function seedTestsPricelist(storage: Storage): Promise<void> {
  await storage.transaction(async (repo) => {
    await repo.upsert('carrier', { key: { tenant: 'default', carrier_tag: 'TESTS' } }, {
      protocol: 'UDP',
      host: 'carrier1.canyan.io',
      port: 5060,
      active: true,
    });
    await repo.upsert('pricelist', { key: { tenant: 'default', pricelist_tag: 'TESTS' } }, { name: 'TESTS', currency: 'EUR' });
    await repo.upsert(
      'pricelist_rate',
      { key: { tenant: 'default', pricelist_tag: 'TESTS', prefix: '39', carrier_tag: 'TESTS' } },
      { active: true, connect_fee: 0, rate: 1, rate_increment: 1, interval_start: 0, description: 'TESTS_ALL_DESTINATIONS' },
    );
  });
}

export async function seedAccount(
  storage: Storage,
  accountTag: string,
  fields: { balance?: number; active?: boolean; tags?: string[]; type?: 'PREPAID' | 'POSTPAID' } = {},
): Promise<void> {
  await storage.transaction(async (repo) => {
    await repo.upsert('account', { key: { tenant: 'default', account_tag: accountTag } }, {
      name: accountTag,
      type: fields.type ?? 'PREPAID',
      balance: fields.balance ?? 1_000_000,
      active: fields.active ?? true,
      pricelist_tags: ['TESTS'],
      tags: fields.tags ?? [],
    });
  });
}

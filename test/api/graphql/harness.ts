// A real Fastify server with the GraphQL API over a real SQLite file in a temporary directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerGraphql } from '../../../src/api/graphql/index.ts';
import type { Micros } from '../../../src/domain/types.ts';
import type { RatingEngine } from '../../../src/rating/engine-types.ts';
import { RateIndexCache } from '../../../src/rating/rate-cache.ts';
import { openSqliteStorage } from '../../../src/storage/sqlite/index.ts';
import type { Storage } from '../../../src/storage/storage.ts';

export interface GraphqlResponse {
  status: number;
  contentType: string;
  body: { data?: Record<string, unknown> | null; errors?: { message: string; locations?: unknown; path?: unknown }[] };
}

export interface Harness {
  app: FastifyInstance;
  storage: Storage;
  /** The clock the API sees; tests move it. */
  now: { micros: Micros };
  gql(query: string, variables?: Record<string, unknown>): Promise<GraphqlResponse>;
  /** Like gql, but fails the test unless the answer is 200 without errors; returns data. */
  ok(query: string, variables?: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

const unusedEngine: RatingEngine = {
  authorization: () => Promise.reject(new Error('no engine in this test')),
  beginTransaction: () => Promise.reject(new Error('no engine in this test')),
  endTransaction: () => Promise.reject(new Error('no engine in this test')),
  rollbackTransaction: () => Promise.reject(new Error('no engine in this test')),
  recordTransaction: () => Promise.reject(new Error('no engine in this test')),
  completeTransaction: () => Promise.reject(new Error('no engine in this test')),
};

export interface EngineParts {
  storage: Storage;
  rates: RateIndexCache;
  clock: () => Micros;
}

export async function startHarness(
  options: { engine?: RatingEngine | ((parts: EngineParts) => RatingEngine); now?: Micros } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'canyan-graphql-'));
  const storage = await openSqliteStorage({ path: join(dir, 'rating.sqlite') });
  await storage.migrate();
  const now = { micros: options.now ?? Date.UTC(2019, 1, 5, 20, 0, 0) * 1000 };
  const app = Fastify();
  const parts: EngineParts = { storage, rates: new RateIndexCache(), clock: () => now.micros };
  const engine = typeof options.engine === 'function' ? options.engine(parts) : (options.engine ?? unusedEngine);
  await registerGraphql(app, { ...parts, engine });
  await app.ready();

  async function gql(query: string, variables?: Record<string, unknown>): Promise<GraphqlResponse> {
    const response = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(variables === undefined ? { query } : { query, variables }),
    });
    return {
      status: response.statusCode,
      contentType: String(response.headers['content-type'] ?? ''),
      body: response.json(),
    };
  }

  return {
    app,
    storage,
    now,
    gql,
    async ok(query, variables) {
      const response = await gql(query, variables);
      if (response.status !== 200 || response.body.errors !== undefined) {
        throw new Error(`GraphQL failed (${response.status}): ${JSON.stringify(response.body)}`);
      }
      return response.body.data ?? {};
    },
    async close() {
      await app.close();
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

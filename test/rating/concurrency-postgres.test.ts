// Property-based test over PostgreSQL: random interleavings of concurrent operations on shared
// accounts (repeats included), spread over two engines with their own Storage (two pools, two
// rate caches: like two processes on one database), keep the books exact. The property is the
// one of concurrency.test.ts (SQLite, one engine), in interleavings.ts.
import { test } from 'node:test';
import fc from 'fast-check';
import type { Account } from '../../src/domain/types.ts';
import { createRatingEngine } from '../../src/rating/engine.ts';
import type { RatingEngine } from '../../src/rating/engine-types.ts';
import { RateIndexCache } from '../../src/rating/rate-cache.ts';
import type { Repository, Storage } from '../../src/storage/storage.ts';
import { dropSchema, openTestStorage, uniqueSchemaName } from '../storage/postgres-support.ts';
import { skipUnlessServices } from '../support/services.ts';
import { assertInterleavingKeepsBooks, operations, seedAccounts } from './interleavings.ts';
import { NOW } from './support.ts';

const skip = await skipUnlessServices(['postgresql']);

interface TwoProcesses {
  storages: [Storage, Storage];
  engines: [RatingEngine, RatingEngine];
  read<T>(work: (repo: Repository) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Two storages and engines on a fresh schema with the §7.3 common setup and the accounts. */
async function openTwoProcesses(): Promise<TwoProcesses> {
  const schema = uniqueSchemaName('engine');
  const first = await openTestStorage(schema, { poolSize: 4 });
  const second = await openTestStorage(schema, { poolSize: 4 });
  const close = async (): Promise<void> => {
    await Promise.all([first.close(), second.close()]);
    await dropSchema(schema);
  };
  try {
    await Promise.all([first.migrate(), second.migrate()]);
    await first.transaction(async (repo) => {
      await repo.upsert('carrier', { key: { tenant: 'default', carrier_tag: 'TESTS' } }, { host: 'carrier1.canyan.io', port: 5060, protocol: 'UDP', active: true });
      await repo.upsert('pricelist', { key: { tenant: 'default', pricelist_tag: 'TESTS' } }, { name: 'TESTS', currency: 'EUR' });
      await repo.upsert(
        'pricelist_rate',
        { key: { tenant: 'default', pricelist_tag: 'TESTS', prefix: '39', carrier_tag: 'TESTS' } },
        { active: true, connect_fee: 0, rate: 1, rate_increment: 1, interval_start: 0, description: 'TESTS_ALL_DESTINATIONS' },
      );
      await seedAccounts((tag, fields) =>
        repo.upsert('account', { key: { tenant: 'default', account_tag: tag } }, { type: 'PREPAID', active: true, pricelist_tags: ['TESTS'], ...fields } satisfies Partial<Account>),
      );
    });
  } catch (error) {
    await close();
    throw error;
  }
  const engine = (storage: Storage): RatingEngine => createRatingEngine({ storage, clock: () => NOW, rates: new RateIndexCache(), rethrowUnexpectedErrors: true });
  return { storages: [first, second], engines: [engine(first), engine(second)], read: (work) => second.transaction(work), close };
}

test('concurrent interleavings over two PostgreSQL storages keep balances, running transactions and repeats exact', { skip, timeout: 300_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(operations(2), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 }), async (batches) => {
      const processes = await openTwoProcesses();
      try {
        // rethrowUnexpectedErrors: a storage failure (a conflict that kept losing) fails the test
        // instead of hiding behind an INTERNAL_ERROR answer. Repeats run on the other engine.
        await assertInterleavingKeepsBooks({ engines: processes.engines, read: processes.read }, batches);
      } finally {
        await processes.close();
      }
    }),
    { numRuns: 25, seed: 20191001, endOnFailure: true },
  );
});

// Shared fixture of the engine tests: a real SQLite file in a temp dir, the §7.3 common setup
// (carrier, pricelist and rate TESTS), a controllable clock and request builders.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStorage } from '../../src/storage/sqlite/index.ts';
import type { Repository, Storage } from '../../src/storage/storage.ts';
import type { Account, Micros, RunningTransaction, Transaction } from '../../src/domain/types.ts';
import { parseIsoMicros } from '../../src/domain/time.ts';
import { createRatingEngine } from '../../src/rating/engine.ts';
import { RateIndexCache } from '../../src/rating/rate-cache.ts';
import type {
  AuthorizationRequest,
  BeginTransactionRequest,
  EndTransactionRequest,
  RatingEngine,
  RecordTransactionRequest,
  RollbackTransactionRequest,
} from '../../src/rating/engine-types.ts';

export const NOW: Micros = parseIsoMicros('2019-01-01T10:00:00Z') ?? 0;
export const SECOND = 1_000_000;
export const DESTINATION = '393291234567';
export const TESTS_CARRIER = 'UDP:carrier1.canyan.io:5060';

export interface EngineFixture {
  storage: Storage;
  engine: RatingEngine;
  /** The engine's clock reads this. */
  now: Micros;
  account(tag: string, fields?: Partial<Account>): Promise<Account>;
  getAccount(tag: string): Promise<Account | null>;
  getTransaction(transactionTag: string, accountTag: string): Promise<Transaction | null>;
  transactions(): Promise<Transaction[]>;
  running(accountTag: string): Promise<RunningTransaction[]>;
  write<T>(work: (repo: Repository) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Opens a fresh database with the §7.3 common setup. `wrap` may decorate the storage given to the engine. */
export async function openEngineFixture(options: { wrap?: (storage: Storage) => Storage } = {}): Promise<EngineFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'rating-engine-'));
  const storage = await openSqliteStorage({ path: join(dir, 'rating.db') });
  await storage.migrate();
  await storage.transaction(async (repo) => {
    await repo.upsert('carrier', { key: { tenant: 'default', carrier_tag: 'TESTS' } }, { host: 'carrier1.canyan.io', port: 5060, protocol: 'UDP', active: true });
    await repo.upsert('pricelist', { key: { tenant: 'default', pricelist_tag: 'TESTS' } }, { name: 'TESTS', currency: 'EUR' });
    await repo.upsert(
      'pricelist_rate',
      { key: { tenant: 'default', pricelist_tag: 'TESTS', prefix: '39', carrier_tag: 'TESTS' } },
      { active: true, connect_fee: 0, rate: 1, rate_increment: 1, interval_start: 0, description: 'TESTS_ALL_DESTINATIONS' },
    );
  });
  const fixture: EngineFixture = {
    storage,
    engine: createRatingEngine({ storage: options.wrap?.(storage) ?? storage, clock: () => fixture.now, rates: new RateIndexCache() }),
    now: NOW,
    account: (tag, fields = {}) =>
      storage.transaction((repo) =>
        repo.upsert('account', { key: { tenant: 'default', account_tag: tag } }, { type: 'PREPAID', active: true, balance: 0, pricelist_tags: ['TESTS'], ...fields }),
      ),
    getAccount: (tag) => storage.transaction((repo) => repo.get('account', { key: { tenant: 'default', account_tag: tag } })),
    getTransaction: (transactionTag, accountTag) =>
      storage.transaction((repo) => repo.get('transaction', { key: { tenant: 'default', transaction_tag: transactionTag, account_tag: accountTag } })),
    transactions: () =>
      storage.transaction((repo) => repo.list('transaction', { filter: [], sortField: null, ascending: true, offset: 0, limit: null })),
    running: (accountTag) => storage.transaction((repo) => repo.listRunning('default', accountTag)),
    write: (work) => storage.transaction(work),
    close: async () => {
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return fixture;
}

const CALL_DEFAULTS = {
  tenant: 'default',
  transaction_tag: '100',
  account_tag: null,
  destination_account_tag: null,
  source: null,
  source_ip: null,
  destination: null,
  carrier_ip: null,
  tags: null,
};

export function authRequest(fields: Partial<AuthorizationRequest> = {}): AuthorizationRequest {
  return { ...CALL_DEFAULTS, timestamp_auth: null, ...fields };
}

export function beginRequest(fields: Partial<BeginTransactionRequest> = {}): BeginTransactionRequest {
  return { ...CALL_DEFAULTS, timestamp_begin: null, ...fields };
}

export function endRequest(fields: Partial<EndTransactionRequest> = {}): EndTransactionRequest {
  return { tenant: 'default', transaction_tag: '100', account_tag: null, destination_account_tag: null, timestamp_end: null, ...fields };
}

export function rollbackRequest(fields: Partial<RollbackTransactionRequest> = {}): RollbackTransactionRequest {
  return { tenant: 'default', transaction_tag: '100', account_tag: null, destination_account_tag: null, ...fields };
}

export function recordRequest(fields: Partial<RecordTransactionRequest> = {}): RecordTransactionRequest {
  return {
    ...CALL_DEFAULTS,
    authorized: false,
    unauthorized_reason: null,
    timestamp_auth: null,
    timestamp_begin: null,
    timestamp_end: null,
    ...fields,
  };
}

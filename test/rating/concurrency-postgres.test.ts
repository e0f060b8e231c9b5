// Property-based test over PostgreSQL: random interleavings of concurrent operations on shared
// accounts (repeats included), spread over two engines with their own Storage (two pools, two
// rate caches: like two processes on one database), keep the books exact. The operations and
// checks are those of concurrency.test.ts (SQLite, one engine).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Account, Transaction } from '../../src/domain/types.ts';
import { createRatingEngine } from '../../src/rating/engine.ts';
import type { RatingEngine } from '../../src/rating/engine-types.ts';
import { RateIndexCache } from '../../src/rating/rate-cache.ts';
import type { Repository, Storage } from '../../src/storage/storage.ts';
import { dropSchema, openTestStorage, uniqueSchemaName } from '../storage/postgres-support.ts';
import { skipUnlessServices } from '../support/services.ts';
import { DESTINATION, NOW, authRequest, beginRequest, endRequest, recordRequest, rollbackRequest } from './support.ts';

const skip = await skipUnlessServices(['postgresql']);

type Kind = 'auth' | 'begin' | 'end' | 'rollback' | 'record';
interface Operation {
  kind: Kind;
  call: number;
  /** Offset of the operation's timestamp from NOW, in microseconds. */
  offset: number;
  /** Send only the transaction tag (the engine restores the parties). */
  onlyTag: boolean;
  /** Which of the two engines (processes) runs it. */
  engine: 0 | 1;
}

// A: PREPAID caller with linked PARENT; B: POSTPAID caller; D: destination only.
const CALLS = [
  { tag: 'c0', account: 'A', destination: 'D' },
  { tag: 'c1', account: 'A', destination: null },
  { tag: 'c2', account: 'B', destination: 'D' },
  { tag: 'c3', account: null, destination: 'D' },
] as const;
const ACCOUNTS = ['A', 'PARENT', 'B', 'D'];
const INITIAL_BALANCE = 1_000_000;

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
      const account = (tag: string, fields: Partial<Account>): Promise<Account> =>
        repo.upsert('account', { key: { tenant: 'default', account_tag: tag } }, { type: 'PREPAID', active: true, balance: 0, pricelist_tags: ['TESTS'], ...fields });
      await account('PARENT', { balance: INITIAL_BALANCE });
      await account('A', { balance: INITIAL_BALANCE, linked_accounts: ['PARENT'] });
      await account('B', { balance: INITIAL_BALANCE, type: 'POSTPAID' });
      await account('D', { balance: INITIAL_BALANCE });
    });
  } catch (error) {
    await close();
    throw error;
  }
  const engine = (storage: Storage): RatingEngine => createRatingEngine({ storage, clock: () => NOW, rates: new RateIndexCache(), rethrowUnexpectedErrors: true });
  return { storages: [first, second], engines: [engine(first), engine(second)], read: (work) => second.transaction(work), close };
}

function run(processes: TwoProcesses, op: Operation): Promise<unknown> {
  const engine = processes.engines[op.engine];
  const call = CALLS[op.call];
  const parties = {
    transaction_tag: call.tag,
    account_tag: op.onlyTag ? null : call.account,
    destination_account_tag: op.onlyTag ? null : call.destination,
  };
  const details = { ...parties, destination: op.onlyTag ? null : DESTINATION };
  const at = NOW + op.offset;
  switch (op.kind) {
    case 'auth':
      return engine.authorization(authRequest({ ...details, timestamp_auth: at }));
    case 'begin':
      return engine.beginTransaction(beginRequest({ ...details, timestamp_begin: at }));
    case 'end':
      return engine.endTransaction(endRequest({ ...parties, timestamp_end: at }));
    case 'rollback':
      return engine.rollbackTransaction(rollbackRequest(parties));
    case 'record':
      return engine.recordTransaction(recordRequest({ ...details, timestamp_begin: NOW, timestamp_end: at }));
  }
}

interface Snapshot {
  balances: Record<string, number | undefined>;
  records: Transaction[];
  running: Record<string, unknown[]>;
}

function snapshot(processes: TwoProcesses): Promise<Snapshot> {
  return processes.read(async (repo) => {
    const balances: Record<string, number | undefined> = {};
    const running: Record<string, unknown[]> = {};
    for (const tag of ACCOUNTS) {
      balances[tag] = (await repo.get('account', { key: { tenant: 'default', account_tag: tag } }))?.balance;
      running[tag] = await repo.listRunning('default', tag);
    }
    const records = (await repo.list('transaction', { filter: [], sortField: null, ascending: true, offset: 0, limit: null })).sort((a, b) =>
      `${a.transaction_tag}/${a.account_tag}`.localeCompare(`${b.transaction_tag}/${b.account_tag}`),
    );
    return { balances, records, running };
  });
}

const operation: fc.Arbitrary<Operation> = fc.record({
  kind: fc.constantFrom<Kind>('auth', 'begin', 'end', 'rollback', 'record'),
  call: fc.integer({ min: 0, max: CALLS.length - 1 }),
  offset: fc.integer({ min: -5_000_000, max: 120_000_000 }),
  onlyTag: fc.boolean(),
  engine: fc.constantFrom<0 | 1>(0, 1),
});

test('concurrent interleavings over two PostgreSQL storages keep balances, running transactions and repeats exact', { skip, timeout: 300_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(operation, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 }), async (batches) => {
      const processes = await openTwoProcesses();
      try {
        // rethrowUnexpectedErrors: a storage failure (a conflict that kept losing) fails the test
        // instead of hiding behind an INTERNAL_ERROR answer.
        for (const batch of batches) await Promise.all(batch.map((op) => run(processes, op)));
        const state = await snapshot(processes);

        // Every balance moved by exactly the fees of its rated (ended or recorded) records.
        for (const tag of ACCOUNTS) {
          const fees = state.records.filter((r) => r.account_tag === tag).reduce((sum, r) => sum + (r.fee ?? 0), 0);
          assert.equal(state.balances[tag], INITIAL_BALANCE - fees, `balance of ${tag}`);
        }
        // Rated records belong to settled calls, and settled calls leave nothing running.
        await processes.read(async (repo) => {
          for (const record of state.records) {
            if (record.fee === null) continue;
            const outcome = await repo.getOutcome('default', record.transaction_tag, record.account_tag);
            assert.ok(outcome !== null && outcome.outcome !== 'rolled_back', `outcome of rated ${record.transaction_tag}/${record.account_tag}`);
          }
          for (const tag of ACCOUNTS) {
            for (const rt of await repo.listRunning('default', tag)) {
              assert.equal(await repo.getOutcome('default', rt.transaction_tag, tag), null, `running ${rt.transaction_tag} on settled ${tag}`);
            }
          }
        });

        // Repeating the operations of settled calls, on either engine, changes nothing.
        const settledCalls = new Set<number>();
        await processes.read(async (repo) => {
          for (const [index, call] of CALLS.entries()) {
            const mains: string[] = [];
            for (const tag of [call.account, call.destination]) if (tag !== null) mains.push(tag);
            const outcomes = await Promise.all(mains.map((tag) => repo.getOutcome('default', call.tag, tag)));
            const running = await repo.findRunningByTransaction('default', call.tag);
            if (outcomes.every((o) => o !== null) && running.length === 0) settledCalls.add(index);
          }
        });
        const repeats = batches
          .flat()
          .filter((op) => op.kind !== 'auth' && settledCalls.has(op.call))
          .map((op): Operation => ({ ...op, engine: op.engine === 0 ? 1 : 0 }));
        const answers = await Promise.all(repeats.map((op) => run(processes, op)));
        assert.deepEqual(await snapshot(processes), state);
        // ... and a repeat naming its parties is answered as a success.
        for (const [i, op] of repeats.entries()) {
          if (!op.onlyTag) assert.equal((answers[i] as { ok: boolean }).ok, true, `repeated ${op.kind} of ${CALLS[op.call].tag}`);
        }
      } finally {
        await processes.close();
      }
    }),
    { numRuns: 25, seed: 20191001, endOnFailure: true },
  );
});

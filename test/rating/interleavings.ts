// The random-interleavings property shared by the engine's concurrency tests (SQLite with one
// engine, PostgreSQL with two engines as two processes): batches of concurrent operations on shared
// accounts, repeats included, must keep the books exact.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Transaction } from '../../src/domain/types.ts';
import type { RatingEngine } from '../../src/rating/engine-types.ts';
import type { Repository } from '../../src/storage/storage.ts';
import { DESTINATION, NOW, authRequest, beginRequest, endRequest, recordRequest, rollbackRequest } from './support.ts';

export type Kind = 'auth' | 'begin' | 'end' | 'rollback' | 'record';
export interface Operation {
  kind: Kind;
  call: number;
  /** Offset of the operation's timestamp from NOW, in microseconds. */
  offset: number;
  /** Send only the transaction tag (the engine restores the parties). */
  onlyTag: boolean;
  /** Which engine (process) runs it, when there are several. */
  engine: number;
}

// A: PREPAID caller with linked PARENT; B: POSTPAID caller; D: destination only.
export const CALLS = [
  { tag: 'c0', account: 'A', destination: 'D' },
  { tag: 'c1', account: 'A', destination: null },
  { tag: 'c2', account: 'B', destination: 'D' },
  { tag: 'c3', account: null, destination: 'D' },
] as const;
export const ACCOUNTS = ['A', 'PARENT', 'B', 'D'];
export const INITIAL_BALANCE = 1_000_000;

/** The accounts of CALLS, as `account(tag, fields)` creates them (PREPAID, pricelist TESTS unless said). */
export async function seedAccounts(account: (tag: string, fields: { balance: number; linked_accounts?: string[]; type?: 'POSTPAID' }) => Promise<unknown>): Promise<void> {
  await account('PARENT', { balance: INITIAL_BALANCE });
  await account('A', { balance: INITIAL_BALANCE, linked_accounts: ['PARENT'] });
  await account('B', { balance: INITIAL_BALANCE, type: 'POSTPAID' });
  await account('D', { balance: INITIAL_BALANCE });
}

export function operations(engines: number): fc.Arbitrary<Operation> {
  return fc.record({
    kind: fc.constantFrom<Kind>('auth', 'begin', 'end', 'rollback', 'record'),
    call: fc.integer({ min: 0, max: CALLS.length - 1 }),
    offset: fc.integer({ min: -5_000_000, max: 120_000_000 }),
    onlyTag: fc.boolean(),
    engine: fc.integer({ min: 0, max: engines - 1 }),
  });
}

export function runOperation(engine: RatingEngine, op: Operation): Promise<unknown> {
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

async function snapshot(read: <T>(work: (repo: Repository) => Promise<T>) => Promise<T>): Promise<Snapshot> {
  return read(async (repo) => {
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

export interface InterleavingRun {
  engines: readonly RatingEngine[];
  /** Reads the database in one storage transaction. */
  read<T>(work: (repo: Repository) => Promise<T>): Promise<T>;
}

/**
 * Runs the batches (the operations of a batch concurrently), then asserts: every balance moved by
 * exactly the fees of its records; rated records belong to settled calls, which leave nothing
 * running; repeating the operations of settled calls (each on another engine when there are
 * several) changes nothing and answers success when it names its parties.
 */
export async function assertInterleavingKeepsBooks(run: InterleavingRun, batches: readonly (readonly Operation[])[]): Promise<void> {
  const engineOf = (op: Operation): RatingEngine => run.engines[op.engine % run.engines.length];
  for (const batch of batches) await Promise.all(batch.map((op) => runOperation(engineOf(op), op)));
  const state = await snapshot(run.read);

  for (const tag of ACCOUNTS) {
    const fees = state.records.filter((r) => r.account_tag === tag).reduce((sum, r) => sum + (r.fee ?? 0), 0);
    assert.equal(state.balances[tag], INITIAL_BALANCE - fees, `balance of ${tag}`);
  }
  await run.read(async (repo) => {
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

  const settledCalls = new Set<number>();
  await run.read(async (repo) => {
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
    .map((op): Operation => ({ ...op, engine: op.engine + 1 }));
  const answers = await Promise.all(repeats.map((op) => runOperation(engineOf(op), op)));
  assert.deepEqual(await snapshot(run.read), state);
  for (const [i, op] of repeats.entries()) {
    if (!op.onlyTag) assert.equal((answers[i] as { ok: boolean }).ok, true, `repeated ${op.kind} of ${CALLS[op.call].tag}`);
  }
}

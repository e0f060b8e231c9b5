// Property-based test: random interleavings of concurrent operations on shared accounts
// (repeats included) keep the books exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Transaction } from '../../src/domain/types.ts';
import { DESTINATION, NOW, authRequest, beginRequest, endRequest, openEngineFixture, recordRequest, rollbackRequest, type EngineFixture } from './support.ts';

type Kind = 'auth' | 'begin' | 'end' | 'rollback' | 'record';
interface Operation {
  kind: Kind;
  call: number;
  /** Offset of the operation's timestamp from NOW, in microseconds. */
  offset: number;
  /** Send only the transaction tag (the engine restores the parties). */
  onlyTag: boolean;
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

async function seed(f: EngineFixture): Promise<void> {
  await f.account('PARENT', { balance: INITIAL_BALANCE });
  await f.account('A', { balance: INITIAL_BALANCE, linked_accounts: ['PARENT'] });
  await f.account('B', { balance: INITIAL_BALANCE, type: 'POSTPAID' });
  await f.account('D', { balance: INITIAL_BALANCE });
}

function run(f: EngineFixture, op: Operation): Promise<unknown> {
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
      return f.engine.authorization(authRequest({ ...details, timestamp_auth: at }));
    case 'begin':
      return f.engine.beginTransaction(beginRequest({ ...details, timestamp_begin: at }));
    case 'end':
      return f.engine.endTransaction(endRequest({ ...parties, timestamp_end: at }));
    case 'rollback':
      return f.engine.rollbackTransaction(rollbackRequest(parties));
    case 'record':
      return f.engine.recordTransaction(recordRequest({ ...details, timestamp_begin: NOW, timestamp_end: at }));
  }
}

interface Snapshot {
  balances: Record<string, number | undefined>;
  records: Transaction[];
  running: Record<string, unknown[]>;
}

async function snapshot(f: EngineFixture): Promise<Snapshot> {
  const balances: Record<string, number | undefined> = {};
  const running: Record<string, unknown[]> = {};
  for (const tag of ACCOUNTS) {
    balances[tag] = (await f.getAccount(tag))?.balance;
    running[tag] = await f.running(tag);
  }
  const records = (await f.transactions()).sort((a, b) => `${a.transaction_tag}/${a.account_tag}`.localeCompare(`${b.transaction_tag}/${b.account_tag}`));
  return { balances, records, running };
}

const operation: fc.Arbitrary<Operation> = fc.record({
  kind: fc.constantFrom<Kind>('auth', 'begin', 'end', 'rollback', 'record'),
  call: fc.integer({ min: 0, max: CALLS.length - 1 }),
  offset: fc.integer({ min: -5_000_000, max: 120_000_000 }),
  onlyTag: fc.boolean(),
});

test('concurrent interleavings keep balances, running transactions and repeats exact', { timeout: 120_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(operation, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 8 }), async (batches) => {
      const f = await openEngineFixture();
      try {
        await seed(f);
        for (const batch of batches) await Promise.all(batch.map((op) => run(f, op)));
        const state = await snapshot(f);

        // Every balance moved by exactly the fees of its rated (ended or recorded) records.
        for (const tag of ACCOUNTS) {
          const fees = state.records.filter((r) => r.account_tag === tag).reduce((sum, r) => sum + (r.fee ?? 0), 0);
          assert.equal(state.balances[tag], INITIAL_BALANCE - fees, `balance of ${tag}`);
        }
        // Rated records belong to settled calls, and settled calls leave nothing running.
        await f.write(async (repo) => {
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

        // Repeating the operations of settled calls changes nothing.
        const settledCalls = new Set<number>();
        await f.write(async (repo) => {
          for (const [index, call] of CALLS.entries()) {
            const mains: string[] = [];
            for (const tag of [call.account, call.destination]) if (tag !== null) mains.push(tag);
            const outcomes = await Promise.all(mains.map((tag) => repo.getOutcome('default', call.tag, tag)));
            const running = await repo.findRunningByTransaction('default', call.tag);
            if (outcomes.every((o) => o !== null) && running.length === 0) settledCalls.add(index);
          }
        });
        const repeats = batches.flat().filter((op) => op.kind !== 'auth' && settledCalls.has(op.call));
        const answers = await Promise.all(repeats.map((op) => run(f, op)));
        assert.deepEqual(await snapshot(f), state);
        // ... and a repeat naming its parties is answered as a success.
        for (const [i, op] of repeats.entries()) {
          if (!op.onlyTag) assert.equal((answers[i] as { ok: boolean }).ok, true, `repeated ${op.kind} of ${CALLS[op.call].tag}`);
        }
      } finally {
        await f.close();
      }
    }),
    { numRuns: 25, seed: 20191001, endOnFailure: true },
  );
});

// PostgreSQL's batched engine writes (insertRunningAll, settleRunningAll) and its preloaded
// account reads (preloadAccounts) promise the answers and effects of the one-at-a-time calls they
// stand for. Each is checked against those calls on identical starting data (two tenants of one
// schema, which share no rows), and the engine that uses them against the same calls on SQLite,
// which has none of them.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { Account, FrozenRate, RunningTransaction, Transaction } from '../../src/domain/types.ts';
import { createRatingEngine } from '../../src/rating/engine.ts';
import type { BeginTransactionRequest, EndTransactionRequest, OperationResponse, RatingEngine } from '../../src/rating/engine-types.ts';
import { RateIndexCache } from '../../src/rating/rate-cache.ts';
import { openSqliteStorage } from '../../src/storage/sqlite/index.ts';
import type { OperationOutcome, Repository, RunningSettlement, Storage } from '../../src/storage/storage.ts';
import { skipUnlessServices } from '../support/services.ts';
import { dropSchema, openTestStorage, uniqueSchemaName } from './postgres-support.ts';

const skip = await skipUnlessServices(['postgresql']);
const CALL = 'call';
const TAGS = ['a0', 'a1', 'a2', 'a3'] as const;

const RATE: FrozenRate = {
  pricelist_tag: 'TESTS',
  carrier_tag: 'TESTS',
  prefix: '39',
  description: 'ALL',
  datetime_start: null,
  datetime_end: null,
  connect_fee: 2,
  rate: 60,
  rate_increment: 1,
  interval_start: 0,
};

function running(tenant: string, accountTag: string, transactionTag: string, variant = 0): RunningTransaction {
  return {
    tenant,
    account_tag: accountTag,
    transaction_tag: transactionTag,
    proxy_tag: variant % 3 === 0 ? null : `proxy-${variant}`,
    source: `sip:${variant}@x`,
    source_ip: null,
    destination: 'sip:39123@y',
    carrier_ip: variant % 2 === 0 ? '10.0.0.1' : null,
    tags: variant % 2 === 0 ? ['VOICE'] : null,
    destination_rate: variant % 2 === 0 ? RATE : null,
    in_progress: true,
    inbound: variant % 2 === 1,
    primary: variant % 3 !== 2,
    timestamp_begin: 1_000_000 + variant,
    timestamp_end: null,
  };
}

const withoutTenant = <T extends { tenant: string }>(value: T): Omit<T, 'tenant'> => {
  const { tenant: _tenant, ...rest } = value;
  return rest;
};

/** `work` run for each of the two tenants, each in a transaction of its own. */
async function inTenants<T>(storage: Storage, tenants: readonly [string, string], work: (repo: Repository, tenant: string) => Promise<T>): Promise<[T, T]> {
  const first = await storage.transaction((repo) => work(repo, tenants[0]));
  const second = await storage.transaction((repo) => work(repo, tenants[1]));
  return [first, second];
}

let tenantCount = 0;
/** Two tenants no earlier test touched: one for the one-at-a-time calls, one for the batch. */
function freshTenants(label: string): [string, string] {
  tenantCount++;
  return [`${label}${tenantCount}-one`, `${label}${tenantCount}-all`];
}

// ---- 1. insertRunningAll ----

interface InsertAccount {
  exists: boolean;
  /** Has a running transaction of another call (so that the order of an account's list shows). */
  otherRunning: boolean;
  /** Already has a running transaction of CALL. */
  running: boolean;
  /** An outcome of CALL is stored for it. */
  outcome: boolean;
}

interface InsertScenario {
  accounts: readonly InsertAccount[];
  /** Indexes into TAGS (distinct): the accounts given a running transaction, in this order. */
  inserts: readonly number[];
  unlessSettled: boolean;
}

async function seedInsertScenario(repo: Repository, tenant: string, scenario: InsertScenario): Promise<void> {
  for (const [i, setup] of scenario.accounts.entries()) {
    const tag = TAGS[i];
    if (setup.exists) {
      await repo.upsert('account', { key: { tenant, account_tag: tag } }, { type: 'PREPAID', balance: 100, active: true });
      if (setup.otherRunning) assert.equal(await repo.insertRunning(running(tenant, tag, 'earlier', i)), true);
      if (setup.running) assert.equal(await repo.insertRunning(running(tenant, tag, CALL, 7)), true);
    }
    if (setup.outcome) await repo.putOutcome({ tenant, transaction_tag: CALL, account_tag: tag, outcome: 'ended', at: 5_000_000 });
  }
}

async function runningState(repo: Repository, tenant: string): Promise<unknown> {
  const perAccount: Record<string, unknown> = {};
  for (const tag of TAGS) perAccount[tag] = (await repo.listRunning(tenant, tag)).map(withoutTenant);
  return {
    byCall: (await repo.findRunningByTransaction(tenant, CALL)).map(withoutTenant),
    earlier: (await repo.findRunningByTransaction(tenant, 'earlier')).map(withoutTenant),
    perAccount,
  };
}

/**
 * Runs the scenario's inserts one by one in one tenant and as one insertRunningAll in another;
 * asserts the answers and the running transactions left are the same, and returns the answers.
 */
async function compareInserts(storage: Storage, scenario: InsertScenario): Promise<boolean[]> {
  const tenants = freshTenants('ins');
  await inTenants(storage, tenants, (repo, tenant) => seedInsertScenario(repo, tenant, scenario));
  const rts = (tenant: string) => scenario.inserts.map((i, n) => running(tenant, TAGS[i], CALL, n));
  const options = { unlessSettled: scenario.unlessSettled };
  const oneByOne = await storage.transaction(async (repo) => {
    const answers: boolean[] = [];
    for (const rt of rts(tenants[0])) answers.push(await repo.insertRunning(rt, options));
    return answers;
  });
  const batched = await storage.transaction(async (repo) => {
    assert.ok(repo.insertRunningAll !== undefined, 'PostgreSQL implements insertRunningAll');
    return repo.insertRunningAll(rts(tenants[1]), options);
  });
  assert.deepEqual(batched, oneByOne, 'answers');
  const [stateOne, stateAll] = await inTenants(storage, tenants, runningState);
  assert.deepEqual(stateAll, stateOne, 'running transactions');
  return batched;
}

const often = fc.constantFrom(true, true, true, false);
const seldom = fc.constantFrom(false, false, false, true);

const fresh: InsertAccount = { exists: true, otherRunning: false, running: false, outcome: false };

describe('postgres insertRunningAll equals insertRunning one by one', { skip }, () => {
  const schema = uniqueSchemaName('insall');
  let storage: Storage;
  before(async () => {
    storage = await openTestStorage(schema);
    await storage.migrate();
  });
  after(async () => {
    await storage.close();
    await dropSchema(schema);
  });

  test('new accounts: all inserted, in the order given', async () => {
    const scenario = { accounts: [fresh, fresh, fresh], inserts: [2, 0, 1], unlessSettled: true };
    assert.deepEqual(await compareInserts(storage, scenario), [true, true, true]);
    const order = await storage.transaction(async (repo) => (await repo.findRunningByTransaction(`ins${tenantCount}-all`, CALL)).map((rt) => rt.account_tag));
    assert.deepEqual(order, ['a2', 'a0', 'a1']);
  });

  test('one account missing: it answers false, the other is inserted', async () => {
    const scenario = { accounts: [fresh, { ...fresh, exists: false }], inserts: [0, 1], unlessSettled: true };
    assert.deepEqual(await compareInserts(storage, scenario), [true, false]);
  });

  test('one account already running with that tag: it answers false and keeps its running transaction', async () => {
    const scenario = { accounts: [{ ...fresh, running: true, otherRunning: true }, fresh], inserts: [0, 1], unlessSettled: false };
    assert.deepEqual(await compareInserts(storage, scenario), [false, true]);
  });

  test('unlessSettled with an outcome stored for one account: that one answers false', async () => {
    const scenario = { accounts: [fresh, { ...fresh, outcome: true }], inserts: [0, 1], unlessSettled: true };
    assert.deepEqual(await compareInserts(storage, scenario), [true, false]);
  });

  test('unlessSettled false: a stored outcome does not stop the insert', async () => {
    const scenario = { accounts: [fresh, { ...fresh, outcome: true }], inserts: [1, 0], unlessSettled: false };
    assert.deepEqual(await compareInserts(storage, scenario), [true, true]);
  });

  test('the same account twice in one batch is refused with a clear error, for both batched writes', async () => {
    const twice = [running('dup-tenant', '1000', 'dup', 1), running('dup-tenant', '1000', 'dup', 2)];
    await assert.rejects(
      storage.transaction((repo) => repo.insertRunningAll?.(twice, { unlessSettled: true }) ?? Promise.resolve([])),
      /insertRunningAll: the same account twice/,
    );
    const settle = (accountTag: string): RunningSettlement => ({ tenant: 'dup-tenant', transactionTag: 'dup', accountTag, record: { fee: 1 }, balanceDelta: -1, at: 1 });
    await assert.rejects(
      storage.transaction((repo) => repo.settleRunningAll?.([settle('1000'), settle('1000')]) ?? Promise.resolve([])),
      /settleRunningAll: the same account twice/,
    );
  });

  test('an empty batch answers [] and changes nothing', async () => {
    assert.deepEqual(await compareInserts(storage, { accounts: [{ ...fresh, running: true }], inserts: [], unlessSettled: true }), []);
  });

  test('property: random small scenarios give the same answers and running transactions', { timeout: 120_000 }, async () => {
    // Weighted towards inserts that succeed, so that most runs insert several (and show their order).
    const account = fc.record({ exists: often, otherRunning: fc.boolean(), running: seldom, outcome: seldom });
    const scenario = fc.record({
      accounts: fc.array(account, { minLength: TAGS.length, maxLength: TAGS.length }),
      inserts: fc.shuffledSubarray([0, 1, 2, 3], { minLength: 2 }),
      unlessSettled: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        await compareInserts(storage, s);
      }),
      { numRuns: 30, seed: 20261202, endOnFailure: true },
    );
  });
});

// ---- 2. settleRunningAll ----

interface SettleAccount {
  exists: boolean;
  /** Has a running transaction of CALL to settle. */
  running: boolean;
  /** Has a running transaction of another call, which must stay. */
  otherRunning: boolean;
  /** A transaction record of CALL exists already (from the authorization). */
  record: boolean;
  /** An outcome of CALL is stored already. */
  outcome: boolean;
}

interface SettleScenario {
  accounts: readonly SettleAccount[];
  /** Distinct indexes into TAGS, in this order, with the balance delta and record shape of each. */
  settlements: ReadonlyArray<{ account: number; delta: number; shape: number }>;
}

async function seedSettleScenario(repo: Repository, tenant: string, scenario: SettleScenario): Promise<void> {
  for (const [i, setup] of scenario.accounts.entries()) {
    const tag = TAGS[i];
    if (setup.exists) {
      await repo.upsert('account', { key: { tenant, account_tag: tag } }, { type: 'POSTPAID', balance: 500 + i, active: true });
      if (setup.otherRunning) assert.equal(await repo.insertRunning(running(tenant, tag, 'earlier', i)), true);
      if (setup.running) assert.equal(await repo.insertRunning(running(tenant, tag, CALL, i)), true);
    }
    if (setup.record) {
      await repo.upsert(
        'transaction',
        { key: { tenant, transaction_tag: CALL, account_tag: tag } },
        { authorized: true, timestamp_auth: 900_000, source: 'sip:auth@x', fee: 99 },
      );
    }
    if (setup.outcome) await repo.putOutcome({ tenant, transaction_tag: CALL, account_tag: tag, outcome: 'rolled_back', at: 800_000 });
  }
}

/** Records of different shapes (fields given or not), so that the batch's statements differ. */
function settlementRecord(shape: number, fee: number): Partial<Transaction> {
  switch (shape % 3) {
    case 0:
      return {
        source: 'sip:1000@x',
        source_ip: null,
        destination: 'sip:39123@y',
        carrier_ip: '10.0.0.1',
        destination_rate: RATE,
        tags: ['VOICE', 'bench'],
        timestamp_begin: 1_000_000,
        timestamp_end: 61_000_000,
        primary: true,
        inbound: false,
        duration: 60,
        fee,
        end_reason: 'BYE',
      };
    case 1:
      return { fee, duration: 3, timestamp_end: 4_000_000, inbound: true, primary: false, end_reason: null };
    default:
      return { fee, tags: null, destination_rate: null, source: 'sip:other@x' };
  }
}

function settlements(tenant: string, scenario: SettleScenario): RunningSettlement[] {
  return scenario.settlements.map(({ account, delta, shape }, n) => ({
    tenant,
    transactionTag: CALL,
    accountTag: TAGS[account],
    record: settlementRecord(shape, -delta),
    balanceDelta: delta,
    at: 61_000_000 + n,
  }));
}

async function settledState(repo: Repository, tenant: string): Promise<unknown> {
  const balances: Record<string, number | null> = {};
  const outcomes: Record<string, Omit<OperationOutcome, 'tenant'> | null> = {};
  for (const tag of TAGS) {
    balances[tag] = (await repo.get('account', { key: { tenant, account_tag: tag } }))?.balance ?? null;
    const outcome = await repo.getOutcome(tenant, CALL, tag);
    outcomes[tag] = outcome === null ? null : withoutTenant(outcome);
  }
  const filter = [{ kind: 'eq', field: 'tenant', value: tenant }] as const;
  const records = await repo.list('transaction', { filter, sortField: 'account_tag', ascending: true, offset: 0, limit: null });
  return {
    balances,
    outcomes,
    // Ids are random: everything else must match.
    records: records.map(({ id: _id, tenant: _tenant, ...rest }) => rest),
    running: await runningState(repo, tenant),
  };
}

async function compareSettlements(storage: Storage, scenario: SettleScenario): Promise<boolean[]> {
  const tenants = freshTenants('set');
  await inTenants(storage, tenants, (repo, tenant) => seedSettleScenario(repo, tenant, scenario));
  const oneByOne = await storage.transaction(async (repo) => {
    assert.ok(repo.settleRunning !== undefined, 'PostgreSQL implements settleRunning');
    const answers: boolean[] = [];
    for (const settlement of settlements(tenants[0], scenario)) answers.push(await repo.settleRunning(settlement));
    return answers;
  });
  const batched = await storage.transaction(async (repo) => {
    assert.ok(repo.settleRunningAll !== undefined, 'PostgreSQL implements settleRunningAll');
    return repo.settleRunningAll(settlements(tenants[1], scenario));
  });
  assert.deepEqual(batched, oneByOne, 'answers');
  const [stateOne, stateAll] = await inTenants(storage, tenants, settledState);
  assert.deepEqual(stateAll, stateOne, 'balances, records, outcomes and running transactions');
  return batched;
}

const toSettle: SettleAccount = { exists: true, running: true, otherRunning: false, record: false, outcome: false };

describe('postgres settleRunningAll equals settleRunning one by one', { skip }, () => {
  const schema = uniqueSchemaName('setall');
  let storage: Storage;
  before(async () => {
    storage = await openTestStorage(schema);
    await storage.migrate();
  });
  after(async () => {
    await storage.close();
    await dropSchema(schema);
  });

  test('a zero delta beside a charge: both succeed, the zero one leaves its balance alone', async () => {
    const scenario = {
      accounts: [toSettle, { ...toSettle, record: true }],
      settlements: [
        { account: 1, delta: 0, shape: 1 },
        { account: 0, delta: -30, shape: 0 },
      ],
    };
    assert.deepEqual(await compareSettlements(storage, scenario), [true, true]);
  });

  test('a missing account charged answers false; the others are settled', async () => {
    const scenario = {
      accounts: [toSettle, { ...toSettle, exists: false }, { ...toSettle, exists: false }],
      settlements: [
        { account: 1, delta: -10, shape: 0 },
        { account: 0, delta: -5, shape: 2 },
        { account: 2, delta: 0, shape: 1 },
      ],
    };
    assert.deepEqual(await compareSettlements(storage, scenario), [false, true, true]);
  });

  test('a settlement whose running transaction is absent still writes record, balance and outcome', async () => {
    const scenario = {
      accounts: [{ ...toSettle, running: false, otherRunning: true, outcome: true }, { ...toSettle, otherRunning: true }],
      settlements: [
        { account: 0, delta: -7, shape: 0 },
        { account: 1, delta: -9, shape: 0 },
      ],
    };
    assert.deepEqual(await compareSettlements(storage, scenario), [true, true]);
  });

  test('three settlements at once, of different record shapes', async () => {
    const scenario = {
      accounts: [toSettle, { ...toSettle, record: true, otherRunning: true }, { ...toSettle, outcome: true }, toSettle],
      settlements: [
        { account: 2, delta: -12, shape: 2 },
        { account: 0, delta: 4, shape: 1 },
        { account: 1, delta: -60, shape: 0 },
      ],
    };
    assert.deepEqual(await compareSettlements(storage, scenario), [true, true, true]);
    const left = await storage.transaction((repo) => repo.findRunningByTransaction(`set${tenantCount}-all`, CALL));
    assert.deepEqual(
      left.map((rt) => rt.account_tag),
      ['a3'],
    );
  });

  test('property: random small scenarios give the same answers and effects', { timeout: 120_000 }, async () => {
    const account = fc.record({ exists: often, running: often, otherRunning: fc.boolean(), record: fc.boolean(), outcome: seldom });
    const scenario = fc
      .record({
        accounts: fc.array(account, { minLength: TAGS.length, maxLength: TAGS.length }),
        order: fc.shuffledSubarray([0, 1, 2, 3], { minLength: 2 }),
        deltas: fc.array(fc.constantFrom(0, -10, -7, 3, -1_000_000), { minLength: TAGS.length, maxLength: TAGS.length }),
        shapes: fc.array(fc.nat(2), { minLength: TAGS.length, maxLength: TAGS.length }),
      })
      .map(({ accounts, order, deltas, shapes }) => ({
        accounts,
        settlements: order.map((account, n) => ({ account, delta: deltas[n], shape: shapes[n] })),
      }));
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        await compareSettlements(storage, s);
      }),
      { numRuns: 30, seed: 20261202, endOnFailure: true },
    );
  });
});

// ---- 3. preloadAccounts ----

describe('postgres preloadAccounts: reads after it are the reads without it', { skip }, () => {
  const schema = uniqueSchemaName('preload');
  const TENANT = 'default';
  const OTHER = 'other';
  let storage: Storage;
  const getAccount = (repo: Repository, tag: string, tenant = TENANT) => repo.get('account', { key: { tenant, account_tag: tag } });
  const preload = async (repo: Repository, tags: readonly string[], transactionTag = CALL, tenant = TENANT): Promise<void> => {
    assert.ok(repo.preloadAccounts !== undefined, 'PostgreSQL implements preloadAccounts');
    await repo.preloadAccounts(tenant, tags, transactionTag);
  };
  /** Everything the engine reads after a preload, for the accounts 1000, 2000 and nobody. */
  const reads = async (repo: Repository): Promise<unknown> => {
    const found: unknown[] = [];
    for (const tag of ['1000', '2000', 'nobody']) {
      found.push(
        await getAccount(repo, tag),
        await repo.getAccountWithRunning(TENANT, tag, { transactionTag: CALL }),
        await repo.getAccountWithRunning(TENANT, tag, { transactionTag: 'earlier' }),
        await repo.getAccountWithRunning(TENANT, tag),
        await getAccount(repo, tag, OTHER),
      );
    }
    return found;
  };
  const undo = (error: unknown) => assert.equal((error as Error).message, 'undo');

  before(async () => {
    storage = await openTestStorage(schema);
    await storage.migrate();
    await storage.transaction(async (repo) => {
      await repo.upsert(
        'account',
        { key: { tenant: TENANT, account_tag: '1000' } },
        { type: 'PREPAID', balance: 100, active: true, tags: ['gold'], linked_accounts: ['2000'], pricelist_tags: ['TESTS'] },
      );
      // Every field set, so that the preloaded row's decoding is compared field by field.
      await repo.upsert(
        'account',
        { key: { tenant: TENANT, account_tag: '2000' } },
        {
          type: 'POSTPAID',
          balance: -(2 ** 53 - 1),
          active: false,
          name: 'Two thousand',
          customer_tag: 'cust',
          notification_email: 'a@example.com',
          notification_mobile: '+39123',
          max_concurrent_transactions: 3,
          max_inbound_transactions: 2,
          max_outbound_transactions: 1,
          carrier_tags: ['TESTS'],
          carrier_tags_override: ['OTHER'],
          pricelist_tags: ['TESTS', 'MORE'],
          tags: ['silver', 'x'],
          linked_accounts: ['1000', 'nobody'],
        },
      );
      await repo.upsert('account', { key: { tenant: OTHER, account_tag: '1000' } }, { type: 'POSTPAID', balance: 7, active: true });
      assert.equal(await repo.insertRunning(running(TENANT, '1000', 'earlier', 1)), true);
      assert.equal(await repo.insertRunning(running(TENANT, '1000', CALL, 2)), true);
      assert.equal(await repo.insertRunning(running(OTHER, '1000', CALL, 3)), true);
    });
  });
  after(async () => {
    await storage.close();
    await dropSchema(schema);
  });

  test('gets by key (a missing account: null) and getAccountWithRunning answer as without it', async () => {
    const without = await storage.transaction(reads);
    const withIt = await storage.transaction(async (repo) => {
      await preload(repo, ['1000', '2000', 'nobody']);
      return reads(repo);
    });
    assert.deepEqual(withIt, without);
    assert.equal((without as unknown[])[10], null, 'the missing account reads null');
    // Preloaded for another call, or twice over: still the same answers.
    const otherCall = await storage.transaction(async (repo) => {
      await preload(repo, ['1000', '1000', '2000'], 'earlier');
      await preload(repo, ['nobody', '2000']);
      return reads(repo);
    });
    assert.deepEqual(otherCall, without);
    // Preloaded in another tenant: this tenant's reads are not answered from it.
    const otherTenant = await storage.transaction(async (repo) => {
      await preload(repo, ['1000', '2000', 'nobody'], CALL, OTHER);
      return reads(repo);
    });
    assert.deepEqual(otherTenant, without);
  });

  test('after a write of the transaction the reads show the write', async () => {
    await storage
      .transaction(async (repo) => {
        await preload(repo, ['1000', '2000', 'nobody']);
        assert.equal((await getAccount(repo, '1000'))?.balance, 100);
        assert.equal(await repo.addToBalance(TENANT, '1000', -10), true);
        assert.equal((await getAccount(repo, '1000'))?.balance, 90);
        assert.equal((await repo.getAccountWithRunning(TENANT, '1000', { transactionTag: CALL }))?.account.balance, 90);

        await preload(repo, ['1000', '2000', 'nobody']);
        assert.deepEqual((await repo.getAccountWithRunning(TENANT, '2000', { transactionTag: CALL }))?.running, []);
        assert.equal(await repo.insertRunning(running(TENANT, '2000', CALL, 4)), true);
        assert.deepEqual((await repo.getAccountWithRunning(TENANT, '2000', { transactionTag: CALL }))?.running, [running(TENANT, '2000', CALL, 4)]);

        await preload(repo, ['1000', '2000', 'nobody']);
        assert.equal(await getAccount(repo, 'nobody'), null);
        await repo.upsert('account', { key: { tenant: TENANT, account_tag: '2000' } }, { active: true, balance: 3 }, { readBack: false });
        await repo.upsert('account', { key: { tenant: TENANT, account_tag: 'nobody' } }, { type: 'PREPAID', balance: 1 });
        const updated = await getAccount(repo, '2000');
        assert.deepEqual([updated?.active, updated?.balance], [true, 3]);
        assert.equal((await getAccount(repo, 'nobody'))?.balance, 1);
        assert.equal((await repo.getAccountWithRunning(TENANT, 'nobody', { transactionTag: CALL }))?.account.balance, 1);

        await preload(repo, ['1000', '2000', 'nobody']);
        assert.ok(repo.insertRunningAll !== undefined && repo.settleRunningAll !== undefined);
        assert.deepEqual(await repo.insertRunningAll([running(TENANT, 'nobody', CALL, 5), running(TENANT, '1000', CALL, 6)], { unlessSettled: true }), [true, false]);
        assert.equal((await repo.getAccountWithRunning(TENANT, 'nobody', { transactionTag: CALL }))?.running.length, 1);
        await preload(repo, ['1000', '2000', 'nobody']);
        const record = { fee: 1 };
        await repo.settleRunningAll([
          { tenant: TENANT, transactionTag: CALL, accountTag: 'nobody', record, balanceDelta: -1, at: 9_000_000 },
          { tenant: TENANT, transactionTag: CALL, accountTag: '2000', record, balanceDelta: -2, at: 9_000_000 },
        ]);
        assert.equal((await getAccount(repo, 'nobody'))?.balance, 0);
        assert.deepEqual((await repo.getAccountWithRunning(TENANT, '2000', { transactionTag: CALL }))?.running, []);
        assert.equal((await getAccount(repo, '2000'))?.balance, 1);

        await preload(repo, ['1000', '2000', 'nobody']);
        await repo.delete('account', { key: { tenant: TENANT, account_tag: 'nobody' } });
        assert.equal(await getAccount(repo, 'nobody'), null);
        assert.equal(await repo.getAccountWithRunning(TENANT, 'nobody', { transactionTag: CALL }), null);
        throw new Error('undo');
      })
      .catch(undo);
  });

  test('a write sent while the preload is under way shows in the reads after it', async () => {
    await storage
      .transaction(async (repo) => {
        const preloading = preload(repo, ['1000', '2000']);
        const writing = repo.addToBalance(TENANT, '1000', -40);
        await Promise.all([preloading, writing]);
        assert.equal((await getAccount(repo, '1000'))?.balance, 60);
        assert.equal((await repo.getAccountWithRunning(TENANT, '1000', { transactionTag: CALL }))?.account.balance, 60);
        throw new Error('undo');
      })
      .catch(undo);
  });

  test('what a caller does to an answer does not change the next one', async () => {
    await storage
      .transaction(async (repo) => {
        await preload(repo, ['1000', '2000']);
        const account = await getAccount(repo, '1000');
        assert.ok(account !== null);
        const pristine = structuredClone(account);
        account.balance = -1;
        account.tags?.push('changed');
        account.linked_accounts = null;
        assert.deepEqual(await getAccount(repo, '1000'), pristine);
        const withRunning = await repo.getAccountWithRunning(TENANT, '1000', { transactionTag: CALL });
        assert.ok(withRunning !== null);
        const pristineWithRunning = structuredClone(withRunning);
        withRunning.account.balance = -2;
        withRunning.running[0].in_progress = false;
        withRunning.running.length = 0;
        assert.deepEqual(await repo.getAccountWithRunning(TENANT, '1000', { transactionTag: CALL }), pristineWithRunning);
        assert.deepEqual(await getAccount(repo, '1000'), pristine);
        throw new Error('undo');
      })
      .catch(undo);
  });

  test('an account preloaded in one transaction is not served in the next one', async () => {
    const before = await storage.transaction(async (repo) => {
      await preload(repo, ['1000']);
      return getAccount(repo, '1000');
    });
    // Another storage (another connection), so this one's state between transactions stays as is.
    const writer = await openTestStorage(schema);
    try {
      await writer.transaction((repo) => repo.addToBalance(TENANT, '1000', 25));
      await writer.transaction((repo) => repo.deleteRunning(TENANT, '1000', CALL));
    } finally {
      await writer.close();
    }
    const next = await storage.transaction(async (repo) => ({
      account: await getAccount(repo, '1000'),
      withRunning: await repo.getAccountWithRunning(TENANT, '1000', { transactionTag: CALL }),
    }));
    assert.equal(next.account?.balance, (before?.balance ?? 0) + 25);
    assert.deepEqual(next.withRunning?.running, []);
  });
});

// ---- 4. the engine on PostgreSQL and on SQLite ----

const NOW = 1_546_336_800_000_000;
const SECOND = 1_000_000;
const ENGINE_TAGS = ['1000', '2000', '3000', '4000', '5000', '6000'] as const;
const CALLS = ['c1', 'c2', 'c3', 'c4', 'c5'] as const;
const OK: OperationResponse = { ok: true, failed_account_tag: null, failed_reason: null };

interface EngineSide {
  engine: RatingEngine;
  storage: Storage;
  close(): Promise<void>;
}

async function seedEngineData(storage: Storage): Promise<void> {
  await storage.transaction(async (repo) => {
    await repo.upsert('carrier', { key: { tenant: 'default', carrier_tag: 'TESTS' } }, { host: 'carrier1.canyan.io', port: 5060, protocol: 'UDP', active: true });
    await repo.upsert('pricelist', { key: { tenant: 'default', pricelist_tag: 'TESTS' } }, { name: 'TESTS', currency: 'EUR' });
    await repo.upsert(
      'pricelist_rate',
      { key: { tenant: 'default', pricelist_tag: 'TESTS', prefix: '39', carrier_tag: 'TESTS' } },
      { active: true, connect_fee: 5, rate: 2, rate_increment: 1, interval_start: 0, description: 'TESTS_ALL_DESTINATIONS' },
    );
    const account = (tag: string, fields: Partial<Account>) =>
      repo.upsert('account', { key: { tenant: 'default', account_tag: tag } }, { type: 'PREPAID', active: true, balance: 10_000, pricelist_tags: ['TESTS'], ...fields });
    await account('1000', { linked_accounts: ['3000'], tags: ['caller'] });
    await account('2000', { linked_accounts: ['4000'], type: 'POSTPAID', balance: 0 });
    await account('3000', { balance: 50_000, tags: ['parent'] });
    await account('4000', { balance: 7 });
    // The callee of c2 is linked to its caller: 1000 is met twice and settled once.
    await account('5000', { linked_accounts: ['1000', '4000'] });
    await account('6000', { active: false, linked_accounts: ['3000'] });
  });
}

const BATCHED = ['preloadAccounts', 'insertRunningAll', 'settleRunningAll', 'settleRunning'] as const;
type Batched = (typeof BATCHED)[number];

/**
 * The storage with its repository's optional batched methods hidden (the engine then makes the
 * contract's one-at-a-time calls), or counted as the engine calls them.
 */
function viewOf(storage: Storage, view: { hide: true } | { count: Record<Batched, number> }): Storage {
  const wrap = (repo: Repository): Repository =>
    new Proxy(repo, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop);
        const batched = (BATCHED as readonly (string | symbol)[]).includes(prop);
        if (batched && 'hide' in view) return undefined;
        if (typeof value !== 'function') return value;
        const method = value as (...args: unknown[]) => unknown;
        if (!batched || !('count' in view)) return method.bind(target);
        return (...args: unknown[]) => {
          view.count[prop as Batched]++;
          return method.apply(target, args);
        };
      },
    });
  return { migrate: () => storage.migrate(), close: () => storage.close(), transaction: (work) => storage.transaction((repo) => work(wrap(repo))) };
}

function engineOn(storage: Storage): RatingEngine {
  return createRatingEngine({ storage, clock: () => NOW, rates: new RateIndexCache(), rethrowUnexpectedErrors: true });
}

/** Every account, record, running transaction and outcome of the calls, without random ids. */
async function engineState(storage: Storage): Promise<unknown> {
  return storage.transaction(async (repo) => {
    const accounts: unknown[] = [];
    const running: Record<string, unknown> = {};
    const outcomes: Record<string, OperationOutcome | null> = {};
    for (const tag of ENGINE_TAGS) {
      const account = await repo.get('account', { key: { tenant: 'default', account_tag: tag } });
      assert.ok(account !== null);
      const { id: _id, ...rest } = account;
      accounts.push(rest);
      running[tag] = await repo.listRunning('default', tag);
      for (const call of CALLS) outcomes[`${call}/${tag}`] = await repo.getOutcome('default', call, tag);
    }
    for (const call of CALLS) running[call] = await repo.findRunningByTransaction('default', call);
    const records = await repo.list('transaction', { filter: [], sortField: null, ascending: true, offset: 0, limit: null });
    const byKey = (t: Transaction) => `${t.transaction_tag}/${t.account_tag}`;
    records.sort((a, b) => (byKey(a) < byKey(b) ? -1 : byKey(a) > byKey(b) ? 1 : 0));
    return { accounts, running, outcomes, records: records.map(({ id: _id, ...rest }) => rest) };
  });
}

function begin(transactionTag: string, accountTag: string, destinationAccountTag: string, at: number): BeginTransactionRequest {
  return {
    tenant: 'default',
    transaction_tag: transactionTag,
    account_tag: accountTag,
    destination_account_tag: destinationAccountTag,
    source: `sip:${accountTag}@example.com`,
    source_ip: '192.0.2.1',
    destination: '393291234567',
    carrier_ip: '10.0.0.1',
    tags: ['VOICE'],
    timestamp_begin: at,
  };
}

function end(transactionTag: string, accountTag: string, destinationAccountTag: string, at: number): EndTransactionRequest {
  return { tenant: 'default', transaction_tag: transactionTag, account_tag: accountTag, destination_account_tag: destinationAccountTag, timestamp_end: at, end_reason: 'BYE' };
}

describe('the engine on PostgreSQL (batched writes) equals the engine on SQLite (one at a time)', { skip }, () => {
  const schema = uniqueSchemaName('engbatch');
  let pg: EngineSide;
  let lite: EngineSide;
  let dir: string;
  const calls: Record<Batched, number> = { preloadAccounts: 0, insertRunningAll: 0, settleRunningAll: 0, settleRunning: 0 };

  before(async () => {
    const pgStorage = await openTestStorage(schema);
    pg = {
      storage: pgStorage,
      engine: engineOn(viewOf(pgStorage, { count: calls })),
      close: async () => {
        await pgStorage.close();
        await dropSchema(schema);
      },
    };
    dir = await mkdtemp(join(tmpdir(), 'batched-writes-'));
    const liteStorage = await openSqliteStorage({ path: join(dir, 'rating.db') });
    lite = { storage: liteStorage, engine: engineOn(viewOf(liteStorage, { hide: true })), close: () => liteStorage.close() };
    for (const side of [pg, lite]) {
      await side.storage.migrate();
      await seedEngineData(side.storage);
    }
  });
  after(async () => {
    await pg?.close();
    await lite?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs one step on both engines; their answers and everything stored must match. */
  async function both(step: (engine: RatingEngine) => Promise<OperationResponse>): Promise<{ answer: OperationResponse; state: unknown }> {
    const answer = await step(pg.engine);
    assert.deepEqual(await step(lite.engine), answer, 'answers');
    const state = await engineState(pg.storage);
    assert.deepEqual(state, await engineState(lite.storage), 'accounts, records, running transactions and outcomes');
    return { answer, state };
  }

  test('the stores start equal', async () => {
    assert.deepEqual(await engineState(pg.storage), await engineState(lite.storage));
  });

  test('a two-party call with linked accounts on both sides: begin, end, a repeated end charging nothing', async () => {
    const began = await both((engine) => engine.beginTransaction(begin('c1', '1000', '2000', NOW)));
    assert.deepEqual(began.answer, OK);
    const ended = await both((engine) => engine.endTransaction(end('c1', '1000', '2000', NOW + 90 * SECOND)));
    assert.deepEqual(ended.answer, OK);
    assert.notDeepEqual(ended.state, began.state);
    const again = await both((engine) => engine.endTransaction(end('c1', '1000', '2000', NOW + 200 * SECOND)));
    assert.deepEqual(again.state, ended.state, 'a repeated end changes nothing');
    const balances = await pg.storage.transaction(async (repo) => {
      const found: Record<string, number | undefined> = {};
      for (const tag of ['1000', '3000']) found[tag] = (await repo.get('account', { key: { tenant: 'default', account_tag: tag } }))?.balance;
      return found;
    });
    // 90 s at 2 a second plus the connect fee of 5, on the caller and its linked account.
    assert.deepEqual(balances, { 1000: 10_000 - 185, 3000: 50_000 - 185 });
    // What is compared is the batched path: one insert and one settlement call per call.
    assert.ok(calls.preloadAccounts > 0);
    assert.deepEqual([calls.insertRunningAll, calls.settleRunningAll], [1, 1]);
  });

  test('a caller that is also the callee’s linked account is begun and settled once', async () => {
    await both((engine) => engine.beginTransaction(begin('c2', '1000', '5000', NOW)));
    const running = await pg.storage.transaction((repo) => repo.findRunningByTransaction('default', 'c2'));
    assert.deepEqual(
      running.map((rt) => rt.account_tag).sort(),
      ['1000', '3000', '4000', '5000'],
    );
    const ended = await both((engine) => engine.endTransaction(end('c2', '1000', '5000', NOW + 30 * SECOND)));
    assert.deepEqual(ended.answer, OK);
    const again = await both((engine) => engine.endTransaction(end('c2', '1000', '5000', NOW + 40 * SECOND)));
    assert.deepEqual(again.state, ended.state, 'a repeated end changes nothing');
    // 30 s at 2 a second plus 5, once, on top of c1's 185.
    const caller = await pg.storage.transaction((repo) => repo.get('account', { key: { tenant: 'default', account_tag: '1000' } }));
    assert.equal(caller?.balance, 10_000 - 185 - 65);
  });

  test('completeTransaction (begin and end in one) equals too, and repeating it changes nothing', async () => {
    const done = await both((engine) => engine.completeTransaction(begin('c3', '3000', '2000', NOW), end('c3', '3000', '2000', NOW + 61 * SECOND)));
    assert.deepEqual(done.answer, OK);
    const again = await both((engine) => engine.completeTransaction(begin('c3', '3000', '2000', NOW), end('c3', '3000', '2000', NOW + 61 * SECOND)));
    assert.deepEqual(again.state, done.state);
  });

  test('a begin for an inactive account refuses with NOT_ACTIVE and writes nothing', async () => {
    const before = await engineState(pg.storage);
    const asCaller = await both((engine) => engine.beginTransaction(begin('c4', '6000', '2000', NOW)));
    assert.deepEqual(asCaller.answer, { ok: false, failed_account_tag: '6000', failed_reason: 'NOT_ACTIVE' });
    assert.deepEqual(asCaller.state, before);
    const asCallee = await both((engine) => engine.beginTransaction(begin('c5', '1000', '6000', NOW)));
    assert.deepEqual(asCallee.answer, { ok: false, failed_account_tag: '6000', failed_reason: 'NOT_ACTIVE' });
    assert.deepEqual(asCallee.state, before);
  });
});

// The SQLite account cache (src/storage/sqlite/account-cache.ts) must never answer anything the
// database would not: after writes of other connections (other processes on the same file),
// after rolled-back transactions, and for accounts too busy to cache.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import type { RunningTransaction } from '../../../src/domain/types.ts';
import { openSqliteStorage } from '../../../src/storage/sqlite/index.ts';
import type { Repository, Storage } from '../../../src/storage/storage.ts';

const TENANT = 'default';

function running(accountTag: string, transactionTag: string, overrides: Partial<RunningTransaction> = {}): RunningTransaction {
  return {
    tenant: TENANT,
    account_tag: accountTag,
    transaction_tag: transactionTag,
    proxy_tag: null,
    source: 'sip:1000@x',
    source_ip: null,
    destination: 'sip:39123@y',
    carrier_ip: null,
    tags: ['t'],
    destination_rate: null,
    in_progress: true,
    inbound: false,
    primary: true,
    timestamp_begin: 1_000_000,
    timestamp_end: null,
    ...overrides,
  };
}

/** What the engine reads of an account, through every cached path, plus the uncached listing. */
async function readsOf(repo: Repository, tag: string, transactionTag: string): Promise<unknown> {
  return {
    get: await repo.get('account', { key: { tenant: TENANT, account_tag: tag } }),
    withAll: await repo.getAccountWithRunning(TENANT, tag),
    withOne: await repo.getAccountWithRunning(TENANT, tag, { transactionTag }),
    list: await repo.listRunning(TENANT, tag),
  };
}

/** The same reads from a fresh connection, which has cached nothing. */
async function freshReadsOf(path: string, tag: string, transactionTag: string): Promise<unknown> {
  const fresh = await openSqliteStorage({ path });
  try {
    return await fresh.transaction((repo) => readsOf(repo, tag, transactionTag));
  } finally {
    await fresh.close();
  }
}

describe('sqlite account cache', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rating-account-cache-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function open(name: string): Promise<{ path: string; storage: Storage }> {
    const path = join(dir, name);
    const storage = await openSqliteStorage({ path });
    await storage.migrate();
    await storage.transaction(async (repo) => {
      await repo.upsert('account', { key: { tenant: TENANT, account_tag: 'a1' } }, { type: 'POSTPAID', balance: 100, tags: ['x'] });
      await repo.insertRunning(running('a1', 'call-1'));
    });
    return { path, storage };
  }

  test('writes of another storage and of a foreign connection on the same file are seen at once', async () => {
    const { path, storage } = await open('shared.db');
    const other = await openSqliteStorage({ path });
    const foreign = new Database(path);
    try {
      assert.equal((await storage.transaction((repo) => repo.get('account', { key: { tenant: TENANT, account_tag: 'a1' } })))?.balance, 100);
      await other.transaction(async (repo) => {
        await repo.addToBalance(TENANT, 'a1', -30);
        await repo.insertRunning(running('a1', 'call-2', { inbound: true }));
        await repo.deleteRunning(TENANT, 'a1', 'call-1');
      });
      const afterOther = await storage.transaction((repo) => readsOf(repo, 'a1', 'call-2'));
      assert.deepEqual(afterOther, await freshReadsOf(path, 'a1', 'call-2'));
      assert.equal((afterOther as { get: { balance: number } }).get.balance, 70);

      foreign.prepare("UPDATE accounts SET balance = 5, tags = '[\"y\"]' WHERE account_tag = 'a1'").run();
      foreign.prepare("DELETE FROM running_transactions WHERE transaction_tag = 'call-2'").run();
      const afterForeign = await storage.transaction((repo) => readsOf(repo, 'a1', 'call-2'));
      assert.deepEqual(afterForeign, await freshReadsOf(path, 'a1', 'call-2'));
      assert.equal((afterForeign as { get: { balance: number } }).get.balance, 5);
    } finally {
      foreign.close();
      await other.close();
      await storage.close();
    }
  });

  test('a rolled-back transaction leaves nothing of its writes in what is read next', async () => {
    const { path, storage } = await open('rollback.db');
    try {
      const before = await storage.transaction((repo) => readsOf(repo, 'a1', 'call-1'));
      // Alone, and in a group with transactions that commit.
      for (const grouped of [false, true]) {
        const failing = storage.transaction(async (repo) => {
          await repo.addToBalance(TENANT, 'a1', -10);
          await repo.insertRunning(running('a1', 'call-9'));
          await repo.deleteRunning(TENANT, 'a1', 'call-1');
          await repo.getAccountWithRunning(TENANT, 'a1');
          throw new Error('undone');
        });
        const others = grouped ? [storage.transaction((repo) => repo.upsert('carrier', { key: { tenant: TENANT, carrier_tag: 'c' } }, {}))] : [];
        await assert.rejects(failing, /undone/);
        await Promise.all(others);
        assert.deepEqual(await storage.transaction((repo) => readsOf(repo, 'a1', 'call-1')), before);
      }
      assert.deepEqual(before, await freshReadsOf(path, 'a1', 'call-1'));
    } finally {
      await storage.close();
    }
  });

  test('balances, running transactions and account writes read back as the database holds them', async () => {
    const { path, storage } = await open('writes.db');
    try {
      const steps: Array<(repo: Repository) => Promise<unknown>> = [
        (repo) => repo.addToBalance(TENANT, 'a1', -7),
        (repo) => repo.insertRunning(running('a1', 'call-2', { destination_rate: { pricelist_tag: 'p', carrier_tag: 'c', prefix: '39', description: null, datetime_start: null, datetime_end: null, connect_fee: 1, rate: 2, rate_increment: 1, interval_start: 0 } })),
        (repo) => repo.insertRunning(running('a1', 'call-2')), // refused: already running
        (repo) => repo.endRunning(TENANT, 'a1', 'call-1', 2_000_000),
        (repo) => repo.deleteRunning(TENANT, 'a1', 'call-1'),
        (repo) => repo.deleteRunning(TENANT, 'a1', 'call-1'), // nothing left to delete
        (repo) => repo.adjustBalances(TENANT, null, ['x'], 'set', 42),
        (repo) => repo.upsert('account', { key: { tenant: TENANT, account_tag: 'a1' } }, { account_tag: 'a2', tags: ['z'] }),
        (repo) => repo.upsert('account', { key: { tenant: TENANT, account_tag: 'a2' } }, { account_tag: 'a1' }),
        (repo) => repo.putOutcome({ tenant: TENANT, transaction_tag: 'call-3', account_tag: 'a1', outcome: 'ended', at: 1 }),
        (repo) => repo.insertRunning(running('a1', 'call-3'), { unlessSettled: true }), // refused: settled
        (repo) => repo.delete('account', { key: { tenant: TENANT, account_tag: 'a1' } }),
        (repo) => repo.upsert('account', { key: { tenant: TENANT, account_tag: 'a1' } }, { type: 'PREPAID' }),
      ];
      for (const [n, step] of steps.entries()) {
        // Read first (filling the cache), write, then compare with a connection that caches nothing.
        const seen = await storage.transaction(async (repo) => {
          await readsOf(repo, 'a1', 'call-2');
          await step(repo);
          return readsOf(repo, 'a1', 'call-2');
        });
        assert.deepEqual(seen, await freshReadsOf(path, 'a1', 'call-2'), `after step ${n}`);
        assert.deepEqual(await storage.transaction((repo) => readsOf(repo, 'a1', 'call-2')), seen, `next transaction, step ${n}`);
      }
    } finally {
      await storage.close();
    }
  });

  test('rates versions follow own writes, rolled-back writes, and other connections\' writes', async () => {
    const { path, storage } = await open('rates.db');
    const other = await openSqliteStorage({ path });
    const foreign = new Database(path);
    const version = (): Promise<number> => storage.transaction((repo) => repo.ratesVersion(TENANT));
    const fresh = async (): Promise<number> => {
      const s = await openSqliteStorage({ path });
      try {
        return await s.transaction((repo) => repo.ratesVersion(TENANT));
      } finally {
        await s.close();
      }
    };
    try {
      assert.equal(await version(), 0);
      const writes: Array<(repo: Repository) => Promise<unknown>> = [
        (repo) => repo.upsert('carrier', { key: { tenant: TENANT, carrier_tag: 'c1' } }, {}),
        (repo) => repo.upsert('pricelist', { key: { tenant: TENANT, pricelist_tag: 'p1' } }, {}, { readBack: false }),
        (repo) => repo.upsert('pricelist_rate', { key: { tenant: TENANT, pricelist_tag: 'p1', carrier_tag: 'c1', prefix: '39' } }, { rate: 1 }),
        (repo) => repo.delete('pricelist_rate', { key: { tenant: TENANT, pricelist_tag: 'p1', carrier_tag: 'c1', prefix: '39' } }),
      ];
      for (const write of writes) {
        const before = await version();
        // Read, write and read again in one transaction: the second read sees the write.
        const [inside, afterWrite] = await storage.transaction(async (repo) => [await repo.ratesVersion(TENANT), (await write(repo), await repo.ratesVersion(TENANT))]);
        assert.equal(inside, before);
        assert.notEqual(afterWrite, before);
        assert.equal(await version(), afterWrite);
        assert.equal(await fresh(), afterWrite);
      }
      const committed = await version();
      await assert.rejects(
        storage.transaction(async (repo) => {
          await writes[0](repo);
          await repo.ratesVersion(TENANT);
          throw new Error('undone');
        }),
        /undone/,
      );
      assert.equal(await version(), committed);
      await other.transaction((repo) => repo.upsert('carrier', { key: { tenant: TENANT, carrier_tag: 'c2' } }, {}));
      assert.equal(await version(), await fresh());
      assert.notEqual(await version(), committed);
      const beforeForeign = await version();
      foreign.prepare("INSERT INTO carriers (id, tenant, carrier_tag) VALUES ('x', ?, 'c3')").run(TENANT);
      assert.notEqual(await version(), beforeForeign);
      assert.equal(await version(), await fresh());
    } finally {
      foreign.close();
      await other.close();
      await storage.close();
    }
  });

  test('a caller passing numbers where the types say text (SQLite compares them as text) reads what the database holds', async () => {
    const { path, storage } = await open('numbers.db');
    try {
      await storage.transaction((repo) => repo.upsert('account', { key: { tenant: TENANT, account_tag: '2001' } }, { type: 'PREPAID', balance: 10 }));
      const number = 2001 as unknown as string;
      const steps: Array<(repo: Repository) => Promise<unknown>> = [
        (repo) => repo.addToBalance(TENANT, number, 5),
        (repo) => repo.insertRunning(running(number, 'n-1')),
        (repo) => repo.insertRunning(running('2001', 77 as unknown as string), { unlessSettled: true }),
        (repo) => repo.deleteRunning(TENANT, number, 'n-1'),
        (repo) => repo.deleteRunning(TENANT, '2001', 77 as unknown as string),
        (repo) => repo.endRunning(TENANT, number, 'n-1', 5),
      ];
      for (const [n, step] of steps.entries()) {
        const seen = await storage.transaction(async (repo) => {
          await readsOf(repo, '2001', 'n-1');
          await readsOf(repo, '2001', '77');
          await step(repo);
          return [await readsOf(repo, '2001', 'n-1'), await readsOf(repo, '2001', '77')];
        });
        assert.deepEqual(seen, [await freshReadsOf(path, '2001', 'n-1'), await freshReadsOf(path, '2001', '77')], `after step ${n}`);
      }
    } finally {
      await storage.close();
    }
  });

  test('an account with more running transactions than are cached reads the same', async () => {
    const { path, storage } = await open('busy-account.db');
    try {
      await storage.transaction(async (repo) => {
        for (let i = 0; i < 100; i++) await repo.insertRunning(running('a1', `many-${i}`, { timestamp_begin: i }));
      });
      for (const step of [
        (repo: Repository) => repo.deleteRunning(TENANT, 'a1', 'many-50'),
        (repo: Repository) => repo.insertRunning(running('a1', 'many-last')),
        (repo: Repository) => repo.addToBalance(TENANT, 'a1', 3),
      ]) {
        const seen = await storage.transaction(async (repo) => {
          await step(repo);
          return readsOf(repo, 'a1', 'many-7');
        });
        assert.deepEqual(seen, await freshReadsOf(path, 'a1', 'many-7'));
      }
      // Back under the limit, it is cached again, and still right.
      await storage.transaction(async (repo) => {
        for (let i = 0; i < 100; i++) await repo.deleteRunning(TENANT, 'a1', `many-${i}`);
      });
      await storage.transaction((repo) => readsOf(repo, 'a1', 'many-last'));
      await storage.transaction((repo) => repo.deleteRunning(TENANT, 'a1', 'many-last'));
      assert.deepEqual(await storage.transaction((repo) => readsOf(repo, 'a1', 'many-last')), await freshReadsOf(path, 'a1', 'many-last'));
    } finally {
      await storage.close();
    }
  });
});

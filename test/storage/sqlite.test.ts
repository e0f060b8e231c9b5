import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { openSqliteStorage } from '../../src/storage/sqlite/index.ts';
import type { Repository } from '../../src/storage/storage.ts';
import { applyMigrations, MIGRATIONS, type Migration } from '../../src/storage/sqlite/migrations.ts';
import { defineStorageContract } from './contract.ts';

defineStorageContract('sqlite (file)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rating-sqlite-'));
  const storage = await openSqliteStorage({ path: join(dir, 'rating.db') });
  return {
    storage,
    cleanup: async () => {
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('sqlite storage file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rating-sqlite-file-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('reopening the same file keeps the data, and migrations are applied only once', async () => {
    const path = join(dir, 'reopen.db');
    const first = await openSqliteStorage({ path });
    await first.migrate();
    await first.transaction(async (repo) => {
      const account = await repo.upsert('account', { key: { tenant: 'default', account_tag: 'a1' } }, { type: 'POSTPAID', balance: -5, tags: ['x'] });
      await repo.insertRunning({
        tenant: 'default',
        account_tag: account.account_tag,
        transaction_tag: 'call-1',
        proxy_tag: null,
        source: null,
        source_ip: null,
        destination: '39',
        carrier_ip: null,
        tags: null,
        destination_rate: null,
        in_progress: true,
        inbound: false,
        primary: true,
        timestamp_begin: 1,
        timestamp_end: null,
      });
      await repo.upsert('carrier', { key: { tenant: 'default', carrier_tag: 'c1' } }, {});
    });
    const versionBefore = await first.transaction((repo) => repo.ratesVersion('default'));
    await first.close();

    const db = new Database(path);
    const migrationsBefore = db.prepare('SELECT version, applied_at FROM schema_migrations ORDER BY version').all();
    db.close();
    assert.deepEqual(
      migrationsBefore.map((m) => (m as { version: number }).version),
      MIGRATIONS.map((m) => m.version),
    );

    const second = await openSqliteStorage({ path });
    await second.migrate();
    await second.migrate();
    await second.transaction(async (repo) => {
      const account = await repo.get('account', { key: { tenant: 'default', account_tag: 'a1' } });
      assert.equal(account?.balance, -5);
      assert.deepEqual(account?.tags, ['x']);
      assert.equal((await repo.listRunning('default', 'a1')).length, 1);
      assert.equal(await repo.ratesVersion('default'), versionBefore);
    });
    await second.close();

    const check = new Database(path);
    try {
      assert.deepEqual(check.prepare('SELECT version, applied_at FROM schema_migrations ORDER BY version').all(), migrationsBefore);
      assert.deepEqual(applyMigrations(check), []);
      assert.equal(check.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      check.close();
    }
  });

  test('a pending migration is applied in order and recorded; a failing one leaves nothing behind', async () => {
    const db = new Database(join(dir, 'migrations.db'));
    try {
      const extra: Migration[] = [
        ...MIGRATIONS,
        { version: 1001, name: 'add a note table', sql: () => 'CREATE TABLE notes (text TEXT) STRICT;' },
      ];
      assert.deepEqual(applyMigrations(db), MIGRATIONS.map((m) => m.version));
      assert.deepEqual(applyMigrations(db, extra), [1001]);
      assert.deepEqual(applyMigrations(db, extra), []);
      const broken: Migration[] = [
        ...extra,
        { version: 1002, name: 'broken', sql: () => 'CREATE TABLE half (x TEXT); THIS IS NOT SQL;' },
      ];
      assert.throws(() => applyMigrations(db, broken));
      assert.equal(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half'").pluck().get(), 0);
      assert.deepEqual(
        db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all(),
        [...MIGRATIONS.map((m) => m.version), 1001],
      );
    } finally {
      db.close();
    }
  });

  test('a database migrated by a newer version is refused, and left untouched', async () => {
    const db = new Database(join(dir, 'newer.db'));
    try {
      const newer: Migration[] = [...MIGRATIONS, { version: 2001, name: 'from the future', sql: () => 'CREATE TABLE future (x TEXT) STRICT;' }];
      applyMigrations(db, newer);
      assert.throws(() => applyMigrations(db), /schema migration\(s\) 2001 .*newer canyan-rating/);
      assert.deepEqual(
        db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all(),
        newer.map((m) => m.version),
      );
    } finally {
      db.close();
    }
  });

  test('migrate() refuses a database whose tables lack a catalogue column', async () => {
    const path = join(dir, 'old-schema.db');
    const storage = await openSqliteStorage({ path });
    await storage.migrate();
    await storage.close();
    const db = new Database(path);
    db.exec('ALTER TABLE transactions DROP COLUMN end_reason');
    db.close();
    const reopened = await openSqliteStorage({ path });
    try {
      await assert.rejects(reopened.migrate(), /transactions\.end_reason.*migration is needed/);
    } finally {
      await reopened.close();
    }
  });

  test('two storages on the same file see each other\'s writes, including rates versions', async () => {
    const path = join(dir, 'shared.db');
    const a = await openSqliteStorage({ path });
    const b = await openSqliteStorage({ path, busyTimeoutMs: 2000 });
    try {
      await a.migrate();
      await b.migrate();
      const before = await b.transaction((repo) => repo.ratesVersion('default'));
      await a.transaction((repo) => repo.upsert('pricelist', { key: { tenant: 'default', pricelist_tag: 'p1' } }, {}));
      assert.notEqual(await b.transaction((repo) => repo.ratesVersion('default')), before);
      await Promise.all([
        ...Array.from({ length: 20 }, () => a.transaction((repo) => repo.adjustBalances('default', null, null, 'increment', 1))),
        b.transaction((repo) => repo.upsert('account', { key: { tenant: 'default', account_tag: 'a1' } }, { type: 'PREPAID' })),
      ]);
      assert.equal(await b.transaction((repo) => repo.count('account', [])), 1);

      // While A holds the write lock across a real wait, B's transaction waits for it (without
      // blocking the event loop that A needs to finish) and then sees A's write.
      const balanceOf = (repo: Repository): Promise<number | undefined> =>
        repo.get('account', { key: { tenant: 'default', account_tag: 'a1' } }).then((account) => account?.balance);
      const initial = await b.transaction(balanceOf);
      let signalLocked: () => void = () => undefined;
      const aHoldsTheLock = new Promise<void>((resolve) => (signalLocked = resolve));
      const slowA = a.transaction(async (repo) => {
        await repo.addToBalance('default', 'a1', 10);
        signalLocked();
        await new Promise((resolve) => setTimeout(resolve, 50));
        return 'a done';
      });
      await aHoldsTheLock;
      const bAfter = b.transaction(balanceOf);
      assert.equal(await slowA, 'a done');
      assert.equal(await bAfter, (initial ?? 0) + 10);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('a transaction gives up with SQLITE_BUSY when another connection keeps the lock past the timeout', async () => {
    const path = join(dir, 'busy.db');
    const holder = await openSqliteStorage({ path });
    const impatient = await openSqliteStorage({ path, busyTimeoutMs: 30 });
    try {
      await holder.migrate();
      let signalLocked: () => void = () => undefined;
      const holderHasTheLock = new Promise<void>((resolve) => (signalLocked = resolve));
      const holding = holder.transaction(async (repo) => {
        await repo.upsert('carrier', { key: { tenant: 'default', carrier_tag: 'c1' } }, {});
        signalLocked();
        await new Promise((resolve) => setTimeout(resolve, 300));
      });
      await holderHasTheLock;
      await assert.rejects(
        impatient.transaction((repo) => repo.count('carrier', [])),
        (error: unknown) => error instanceof Error && 'code' in error && error.code === 'SQLITE_BUSY',
      );
      await holding;
      assert.equal(await impatient.transaction((repo) => repo.count('carrier', [])), 1);
    } finally {
      await holder.close();
      await impatient.close();
    }
  });

  test('a transaction has been committed when its promise resolves, also when committed with others', async () => {
    const path = join(dir, 'durable.db');
    const storage = await openSqliteStorage({ path });
    const observer = new Database(path, { readonly: false });
    try {
      await storage.migrate();
      const visible = observer.prepare('SELECT count(*) FROM accounts WHERE account_tag = ?').pluck();
      const seen: boolean[] = [];
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          storage
            .transaction((repo) => repo.upsert('account', { key: { tenant: 'default', account_tag: `a${i}` } }, { type: 'PREPAID' }))
            .then(() => seen.push(visible.get(`a${i}`) === 1)),
        ),
      );
      assert.deepEqual(seen, Array.from({ length: 10 }, () => true));
    } finally {
      observer.close();
      await storage.close();
    }
  });

  test('a closed storage refuses new transactions but finishes the queued ones', async () => {
    const storage = await openSqliteStorage({ path: join(dir, 'closing.db') });
    await storage.migrate();
    const queued = storage.transaction((repo) => repo.count('account', []));
    const closing = storage.close();
    await assert.rejects(storage.transaction((repo) => repo.count('account', [])), /closed/);
    assert.equal(await queued, 0);
    await closing;
    await storage.close();
  });
});

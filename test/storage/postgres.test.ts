import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import type { RunningTransaction } from '../../src/domain/types.ts';
import { resolvePostgresLocation, sessionStartupOptions } from '../../src/storage/postgres/connection.ts';
import { openPostgresStorage } from '../../src/storage/postgres/index.ts';
import { MIGRATIONS, type Migration } from '../../src/storage/postgres/migrations.ts';
import { PG_TABLE_SPECS } from '../../src/storage/postgres/table-spec.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { skipUnlessServices } from '../support/services.ts';
import { defineStorageContract } from './contract.ts';
import { dropSchema, openTestStorage, POSTGRES_URL, quietLogger, uniqueSchemaName, withAdminClient } from './postgres-support.ts';

const skip = await skipUnlessServices(['postgresql']);

if (skip === false) {
  // One connection: transactions of one storage then run one at a time, in call order, which
  // the contract's interleaving tests observe from inside the work functions.
  defineStorageContract('postgres', async () => {
    const schema = uniqueSchemaName('contract');
    const storage = await openTestStorage(schema);
    return {
      storage,
      cleanup: async () => {
        await storage.close();
        await dropSchema(schema);
      },
    };
  });
} else {
  describe('storage contract: postgres', () => {
    test('needs PostgreSQL', { skip }, () => assert.fail('skipped'));
  });
}

describe('postgres storage', { skip }, () => {
  test('the PostgreSQL table rules (not-null fields, required fields, defaults) are the SQLite ones', async () => {
    const { TABLE_SPECS } = await import('../../src/storage/sqlite/table-spec.ts');
    const { encodeValue: encodeSqlite } = await import('../../src/storage/sqlite/codec.ts');
    for (const [entity, spec] of Object.entries(PG_TABLE_SPECS)) {
      const sqlite = TABLE_SPECS[entity as keyof typeof TABLE_SPECS];
      assert.deepEqual(spec.requiredOnInsert, sqlite.requiredOnInsert, entity);
      assert.deepEqual(
        spec.columns.map((c) => [c.name, c.kind, c.notNull, c.insertDefault === undefined ? undefined : encodeSqlite(c.kind, c.insertDefault)]),
        sqlite.columns.map((c) => [c.name, c.kind, c.notNull, c.insertDefault]),
        entity,
      );
    }
  });

  test('migrating again changes nothing; the schema is created when missing', async () => {
    const schema = uniqueSchemaName('again');
    const storage = await openTestStorage(schema);
    try {
      await storage.migrate();
      const before = await migrationRows(schema);
      assert.deepEqual(
        before.map((row) => row.version),
        MIGRATIONS.map((m) => m.version),
      );
      await storage.migrate();
      await storage.migrate();
      assert.deepEqual(await migrationRows(schema), before);
      const second = await openTestStorage(schema);
      await second.migrate();
      await second.close();
      assert.deepEqual(await migrationRows(schema), before);
    } finally {
      await storage.close();
      await dropSchema(schema);
    }
  });

  test('storages migrating a fresh schema at the same time all succeed, applying each migration once', async () => {
    const schema = uniqueSchemaName('race');
    const storages = await Promise.all(Array.from({ length: 4 }, () => openTestStorage(schema)));
    try {
      await Promise.all(storages.map((s) => s.migrate()));
      assert.deepEqual(
        (await migrationRows(schema)).map((row) => row.version),
        MIGRATIONS.map((m) => m.version),
      );
      await storages[0].transaction((repo) => repo.upsert('account', { key: { tenant: 't', account_tag: 'a' } }, { type: 'PREPAID' }));
      assert.equal(await storages[3].transaction((repo) => repo.count('account', [])), 1);
    } finally {
      await Promise.all(storages.map((s) => s.close()));
      await dropSchema(schema);
    }
  });

  test('a database migrated by a newer version is refused and left untouched; a failing migration leaves nothing', async () => {
    const schema = uniqueSchemaName('newer');
    const newer: Migration[] = [...MIGRATIONS, { version: 2001, name: 'from the future', sql: () => 'CREATE TABLE future (x TEXT);' }];
    const future = await openTestStorage(schema, { migrations: newer });
    const current = await openTestStorage(schema);
    const broken = await openTestStorage(schema, {
      migrations: [...MIGRATIONS, { version: 1001, name: 'broken', sql: () => 'CREATE TABLE half (x TEXT); THIS IS NOT SQL;' }],
    });
    try {
      await broken.migrate().then(
        () => assert.fail('the broken migration was applied'),
        (error: unknown) => assert.match(String(error), /schema migration 1001 \(broken\) failed/),
      );
      assert.equal(await tableExists(schema, 'half'), false);
      assert.deepEqual((await migrationRows(schema)).map((row) => row.version), MIGRATIONS.map((m) => m.version));

      await future.migrate();
      await assert.rejects(current.migrate(), /schema migration\(s\) 2001 .*newer canyan-rating/);
      assert.deepEqual((await migrationRows(schema)).map((row) => row.version), newer.map((m) => m.version));
      assert.equal(await tableExists(schema, 'future'), true);
    } finally {
      await Promise.all([future.close(), current.close(), broken.close()]);
      await dropSchema(schema);
    }
  });

  test('migrate() refuses a schema whose tables lack a catalogue column', async () => {
    const schema = uniqueSchemaName('old');
    const storage = await openTestStorage(schema);
    try {
      await storage.migrate();
      await withAdminClient((client) => client.query(`ALTER TABLE "${schema}".transactions DROP COLUMN end_reason`));
      await assert.rejects(storage.migrate(), /transactions\.end_reason.*migration is needed/);
    } finally {
      await storage.close();
      await dropSchema(schema);
    }
  });

  test('the schema may come from the URL; a conflicting or malformed schema name is refused', async () => {
    const schema = uniqueSchemaName('url');
    const storage = await openPostgresStorage({ url: `${POSTGRES_URL}?schema=${schema}`, poolSize: 2, logger: quietLogger });
    try {
      await storage.migrate();
      assert.equal(await tableExists(schema, 'accounts'), true);
      await assert.rejects(openPostgresStorage({ url: `${POSTGRES_URL}?schema=${schema}`, poolSize: 1, schema: 'other' }), /names schema/);
      await assert.rejects(openPostgresStorage({ url: POSTGRES_URL, poolSize: 1, schema: 'Bad-Name' }), /invalid PostgreSQL schema name/);
      await assert.rejects(openPostgresStorage({ url: 'postgres://127.0.0.1:1/nothing', poolSize: 1 }), /cannot open PostgreSQL storage/);
    } finally {
      await storage.close();
      await dropSchema(schema);
    }
  });

  describe('two storages on one schema (like two processes)', () => {
    let schema: string;
    let a: Storage;
    let b: Storage;
    beforeEach(async () => {
      schema = uniqueSchemaName('pair');
      a = await openTestStorage(schema, { poolSize: 4 });
      b = await openTestStorage(schema, { poolSize: 4 });
      await a.migrate();
      await b.migrate();
    });
    afterEach(async () => {
      await Promise.all([a.close(), b.close()]);
      await dropSchema(schema);
    });

    const LIMIT = 5;
    const callTag = (i: number): string => `call-${i % 20}`;

    function runningCall(tag: string): RunningTransaction {
      return {
        tenant: 'default',
        account_tag: 'a1',
        transaction_tag: tag,
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
      };
    }

    test('parallel begins and ends keep the concurrency limit, exact balances and no duplicates', { timeout: 120_000 }, async () => {
      await a.transaction((repo) => repo.upsert('account', { key: { tenant: 'default', account_tag: 'a1' } }, { type: 'PREPAID', balance: 0 }));
      const storages = [a, b];
      // Begin: within the limit, add the call unless running or settled, and charge 1.
      const begin = (i: number): Promise<boolean> =>
        storages[i % 2].transaction(async (repo) => {
          const found = await repo.getAccountWithRunning('default', 'a1');
          if (found === null || found.running.filter((rt) => rt.in_progress).length >= LIMIT) return false;
          const added = await repo.insertRunning(runningCall(callTag(i)), { unlessSettled: true });
          if (added) assert.equal(await repo.addToBalance('default', 'a1', -1), true);
          return added;
        });
      // End: settle once, charging 10 for a call that was running.
      const end = (i: number): Promise<boolean> =>
        storages[(i + 1) % 2].transaction(async (repo) => {
          const tag = callTag(i);
          if ((await repo.getOutcome('default', tag, 'a1')) !== null) return false;
          const removed = await repo.deleteRunning('default', 'a1', tag);
          await repo.putOutcome({ tenant: 'default', transaction_tag: tag, account_tag: 'a1', outcome: 'ended', at: i });
          if (removed === 1) await repo.addToBalance('default', 'a1', -10);
          return removed === 1;
        });

      const began = await Promise.all(Array.from({ length: 40 }, (_, i) => begin(i)));
      const running = await b.transaction((repo) => repo.listRunning('default', 'a1'));
      const tags = running.map((rt) => rt.transaction_tag);
      assert.equal(running.length, LIMIT, 'the limit is reached, never exceeded');
      assert.equal(new Set(tags).size, tags.length, 'no call runs twice');
      assert.equal(began.filter(Boolean).length, LIMIT, 'one successful begin per running call');
      assert.equal((await a.transaction((repo) => repo.get('account', { key: { tenant: 'default', account_tag: 'a1' } })))?.balance, -LIMIT);

      // Every call ended twice, from both storages at once: each running call is charged once.
      const ended = await Promise.all(Array.from({ length: 40 }, (_, i) => end(i)));
      assert.equal(ended.filter(Boolean).length, LIMIT);
      await a.transaction(async (repo) => {
        assert.deepEqual(await repo.listRunning('default', 'a1'), []);
        assert.equal((await repo.get('account', { key: { tenant: 'default', account_tag: 'a1' } }))?.balance, -LIMIT * 11);
        for (let i = 0; i < 20; i++) assert.notEqual(await repo.getOutcome('default', callTag(i), 'a1'), null);
      });
      // Settled calls are never reopened.
      assert.deepEqual(await Promise.all(Array.from({ length: 20 }, (_, i) => begin(i))), Array.from({ length: 20 }, () => false));
    });

    test('parallel balance changes from both storages add up exactly', async () => {
      await a.transaction((repo) => repo.upsert('account', { key: { tenant: 'default', account_tag: 'a1' } }, { type: 'PREPAID', balance: 0 }));
      await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          [a, b][i % 2].transaction(async (repo) => {
            // A read-modify-write: only serializable execution keeps every increment.
            const account = await repo.get('account', { key: { tenant: 'default', account_tag: 'a1' } });
            await repo.upsert('account', { key: { tenant: 'default', account_tag: 'a1' } }, { balance: (account?.balance ?? 0) + 1 });
            await repo.addToBalance('default', 'a1', 2);
          }),
        ),
      );
      assert.equal((await b.transaction((repo) => repo.get('account', { key: { tenant: 'default', account_tag: 'a1' } })))?.balance, 180);
    });

    test('a third attempt runs alone: on one hot account, three attempts are always enough', async () => {
      const [x, y] = await Promise.all([openTestStorage(schema, { poolSize: 4, maxAttempts: 3 }), openTestStorage(schema, { poolSize: 4, maxAttempts: 3 })]);
      try {
        await x.transaction((repo) => repo.upsert('account', { key: { tenant: 'default', account_tag: 'hot' } }, { type: 'PREPAID', balance: 0 }));
        const results = await Promise.allSettled(
          Array.from({ length: 40 }, (_, i) =>
            [x, y][i % 2].transaction(async (repo) => {
              const account = await repo.get('account', { key: { tenant: 'default', account_tag: 'hot' } });
              await new Promise((resolve) => setTimeout(resolve, 1));
              await repo.upsert('account', { key: { tenant: 'default', account_tag: 'hot' } }, { balance: (account?.balance ?? 0) + 1 });
            }),
          ),
        );
        assert.deepEqual(
          results.filter((r) => r.status === 'rejected'),
          [],
        );
        assert.equal((await y.transaction((repo) => repo.get('account', { key: { tenant: 'default', account_tag: 'hot' } })))?.balance, 40);
      } finally {
        await Promise.all([x.close(), y.close()]);
      }
    });

    test('a serialization failure is retried invisibly: the work runs again and its result is returned', async () => {
      await a.transaction((repo) => repo.upsert('account', { key: { tenant: 'default', account_tag: 'a1' } }, { type: 'PREPAID', balance: 0 }));
      let runs = 0;
      let arrived = 0;
      let release: () => void = () => undefined;
      const bothRead = new Promise<void>((resolve) => (release = resolve));
      const increment = (storage: Storage, label: string): Promise<string> =>
        storage.transaction(async (repo) => {
          runs += 1;
          const account = await repo.get('account', { key: { tenant: 'default', account_tag: 'a1' } });
          // The first attempts of both wait until both have read: one of them must lose.
          if (++arrived <= 2) {
            if (arrived === 2) release();
            await bothRead;
          }
          await repo.upsert('account', { key: { tenant: 'default', account_tag: 'a1' } }, { balance: (account?.balance ?? 0) + 1 });
          return label;
        });
      assert.deepEqual(await Promise.all([increment(a, 'a'), increment(b, 'b')]), ['a', 'b']);
      assert.equal(runs, 3, 'one of the two ran twice');
      assert.equal((await a.transaction((repo) => repo.get('account', { key: { tenant: 'default', account_tag: 'a1' } })))?.balance, 2);
    });

    test('too many conflicts give up with the serialization failure', async () => {
      const impatient = await openTestStorage(schema, { maxAttempts: 1, poolSize: 2 });
      try {
        await a.transaction((repo) => repo.upsert('account', { key: { tenant: 'default', account_tag: 'a1' } }, { type: 'PREPAID', balance: 0 }));
        let arrived = 0;
        let release: () => void = () => undefined;
        const bothRead = new Promise<void>((resolve) => (release = resolve));
        const increment = (storage: Storage): Promise<void> =>
          storage.transaction(async (repo) => {
            const account = await repo.get('account', { key: { tenant: 'default', account_tag: 'a1' } });
            if (++arrived <= 2) {
              if (arrived === 2) release();
              await bothRead;
            }
            await repo.upsert('account', { key: { tenant: 'default', account_tag: 'a1' } }, { balance: (account?.balance ?? 0) + 1 });
          });
        const results = await Promise.allSettled([increment(impatient), increment(impatient)]);
        const rejected = results.filter((r) => r.status === 'rejected');
        assert.equal(rejected.length, 1);
        assert.equal(((rejected[0] as PromiseRejectedResult).reason as { code?: string }).code, '40001');
        assert.equal((await a.transaction((repo) => repo.get('account', { key: { tenant: 'default', account_tag: 'a1' } })))?.balance, 1);
      } finally {
        await impatient.close();
      }
    });
  });

  test('a work function that swallows a failed statement does not commit: it fails with that error', async () => {
    const schema = uniqueSchemaName('swallow');
    const storage = await openTestStorage(schema);
    try {
      await storage.migrate();
      let runs = 0;
      await assert.rejects(
        storage.transaction(async (repo) => {
          runs += 1;
          await repo.upsert('account', { key: { tenant: 'default', account_tag: 'a1' } }, { type: 'PREPAID' });
          // PostgreSQL refuses a NUL character in text: the statement fails and aborts the transaction.
          await repo.get('account', { id: 'bad\u0000id' }).catch(() => null);
          return 'looked fine';
        }),
        (error: unknown) => error instanceof Error && 'code' in error && error.code === '22021',
      );
      assert.equal(runs, 1, 'not retried');
      assert.equal(await storage.transaction((repo) => repo.count('account', [])), 0);
    } finally {
      await storage.close();
      await dropSchema(schema);
    }
  });

  test('close() lets running transactions finish and refuses new ones', async () => {
    const schema = uniqueSchemaName('close');
    const storage = await openTestStorage(schema, { poolSize: 2 });
    await storage.migrate();
    try {
      const slow = storage.transaction(async (repo) => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        return (await repo.upsert('account', { key: { tenant: 'default', account_tag: 'a1' } }, { type: 'PREPAID' })).account_tag;
      });
      const queued = storage.transaction((repo) => repo.count('account', []));
      const closing = storage.close();
      let ranAfterClose = false;
      await assert.rejects(
        storage.transaction(async (repo) => {
          ranAfterClose = true;
          return repo.count('account', []);
        }),
        /closed/,
      );
      assert.equal(ranAfterClose, false);
      await assert.rejects(storage.migrate(), /closed/);
      assert.equal(await slow, 'a1');
      assert.equal(typeof (await queued), 'number');
      await closing;
      await storage.close();
    } finally {
      await dropSchema(schema);
    }
  });

  test('connections killed by the server (a restart) fail their transaction, are logged, and the pool recovers', async () => {
    const schema = uniqueSchemaName('killed');
    const application = `cr_kill_${process.pid}`;
    const logged: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) });
    const storage = await openPostgresStorage({ url: `${POSTGRES_URL}?application_name=${application}`, schema, poolSize: 2, logger });
    const terminate = (): Promise<unknown> =>
      withAdminClient((client) => client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [application]));
    try {
      await storage.migrate();
      // Idle connections killed: reported through the pool, and the next transaction gets a new one.
      await storage.transaction((repo) => repo.count('account', []));
      await terminate();
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(await storage.transaction((repo) => repo.count('account', [])), 0);
      // A connection killed in the middle of a transaction: that transaction fails (not retried:
      // its outcome could be unknown), nothing of it is kept, and the process carries on.
      await assert.rejects(
        storage.transaction(async (repo) => {
          await repo.upsert('account', { key: { tenant: 'default', account_tag: 'a1' } }, { type: 'PREPAID' });
          await terminate();
          await new Promise((resolve) => setTimeout(resolve, 50));
          return repo.count('account', []);
        }),
      );
      assert.equal(await storage.transaction((repo) => repo.count('account', [])), 0);
      assert.ok(logged.some((line) => /PostgreSQL connection/.test(line)), logged.join('\n'));
    } finally {
      await storage.close();
      await dropSchema(schema);
    }
  });
});

async function migrationRows(schema: string): Promise<{ version: number; applied_at: Date }[]> {
  return withAdminClient(async (client) => (await client.query(`SELECT version, applied_at FROM "${schema}".schema_migrations ORDER BY version`)).rows);
}

async function tableExists(schema: string, table: string): Promise<boolean> {
  return withAdminClient(async (client) => (await client.query('SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2', [schema, table])).rowCount === 1);
}

describe('PostgreSQL URL handling', () => {
  test('schema comes from the option or ?schema=, and is set as the search_path; other parameters stay', () => {
    assert.deepEqual(resolvePostgresLocation('postgres://u:p@db:5432/rating?schema=billing&sslmode=require', undefined), {
      connectionString: 'postgres://u:p@db:5432/rating?sslmode=require',
      schema: 'billing',
      startupOptions: '-c search_path=billing',
    });
    assert.equal(resolvePostgresLocation('postgresql://db/rating', undefined).schema, 'public');
    assert.equal(resolvePostgresLocation('postgresql://db/rating', 'tenant_a').schema, 'tenant_a');
    // The URL's own startup options are kept (node-postgres would let them replace ours).
    const withOptions = resolvePostgresLocation('postgres://db/rating?options=-c%20statement_timeout%3D5000', 'x');
    assert.equal(withOptions.startupOptions, '-c statement_timeout=5000 -c search_path=x');
    assert.equal(withOptions.connectionString, 'postgres://db/rating');
  });

  test('pooled sessions prefer index scans and plan each named statement once; PostgreSQL accepts the options', { skip }, async () => {
    const location = resolvePostgresLocation(`${POSTGRES_URL}?options=-c%20statement_timeout%3D5000`, 'public');
    const options = sessionStartupOptions(location);
    assert.match(options, /^-c statement_timeout=5000 -c search_path=public /);
    const client = new pg.Client({ connectionString: location.connectionString, options });
    await client.connect();
    try {
      const setting = async (name: string): Promise<unknown> => (await client.query(`SHOW ${name}`)).rows[0]?.[name];
      assert.equal(await setting('plan_cache_mode'), 'force_generic_plan');
      assert.equal(await setting('enable_seqscan'), 'off');
      assert.equal(await setting('statement_timeout'), '5s');
    } finally {
      await client.end();
    }
  });

  test('bad URLs and schema names are refused with a message that hides the password', () => {
    assert.throws(() => resolvePostgresLocation('postgres://u:secret@db/rating?schema=A-B', undefined), /invalid PostgreSQL schema name "A-B"/);
    assert.throws(() => resolvePostgresLocation('postgres://db/rating?schema=a', 'b'), /names schema "a" but the options name "b"/);
    assert.throws(
      () => resolvePostgresLocation('mysql://u:secret@db/rating', undefined),
      (error: unknown) => error instanceof Error && /expected postgres:\/\//.test(error.message) && !error.message.includes('secret'),
    );
  });
});

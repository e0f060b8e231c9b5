import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openStorage, parseDatabaseUrl } from '../../src/storage/open.ts';
import { skipUnlessServices } from '../support/services.ts';
import { dropSchema, POSTGRES_URL, quietLogger, uniqueSchemaName, withAdminClient } from './postgres-support.ts';

const postgresSkip = await skipUnlessServices(['postgresql']);

describe('parseDatabaseUrl', () => {
  test('sqlite:PATH is relative to the working directory; sqlite:// forms and :memory: are accepted', () => {
    assert.deepEqual(parseDatabaseUrl('sqlite:data/rating.db', '/srv/app'), { kind: 'sqlite', path: '/srv/app/data/rating.db' });
    assert.deepEqual(parseDatabaseUrl('sqlite:/var/lib/rating.db', '/srv/app'), { kind: 'sqlite', path: '/var/lib/rating.db' });
    assert.deepEqual(parseDatabaseUrl('sqlite:///var/lib/rating.db', '/srv/app'), { kind: 'sqlite', path: '/var/lib/rating.db' });
    assert.deepEqual(parseDatabaseUrl('sqlite://rating.db', '/srv/app'), { kind: 'sqlite', path: '/srv/app/rating.db' });
    assert.deepEqual(parseDatabaseUrl('sqlite::memory:', '/srv/app'), { kind: 'sqlite', path: ':memory:' });
    assert.deepEqual(parseDatabaseUrl('  SQLITE:x.db ', '/srv'), { kind: 'sqlite', path: '/srv/x.db' });
  });

  test('postgres:// and postgresql:// URLs name PostgreSQL storage, passed on as they are', () => {
    for (const url of ['postgres://u:p@localhost/rating', 'postgresql://localhost:5432/rating?schema=billing', 'POSTGRES://h/db']) {
      assert.deepEqual(parseDatabaseUrl(` ${url} `), { kind: 'postgres', url });
    }
  });

  test('other schemes and empty paths are refused naming the accepted scheme', () => {
    for (const url of ['mongodb://localhost/rating_api', 'rating.db', '', 'mysql://x', 'postgres:/no-slashes']) {
      assert.throws(() => parseDatabaseUrl(url), /accepted schemes are sqlite:PATH .* or postgres:\/\//);
    }
    assert.throws(() => parseDatabaseUrl('sqlite:'), /names no file/);
  });
});

describe('openStorage', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rating-open-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('creates missing parent directories and returns a migrated, usable storage', async () => {
    const path = join(dir, 'nested', 'deeper', 'rating.db');
    const storage = await openStorage(`sqlite:${path}`);
    try {
      assert.ok(existsSync(path));
      const account = await storage.transaction((repo) =>
        repo.upsert('account', { key: { tenant: 'default', account_tag: 'a1' } }, { type: 'PREPAID', balance: 7 }),
      );
      assert.equal(account.balance, 7);
    } finally {
      await storage.close();
    }
    const reopened = await openStorage(`sqlite:${path}`);
    try {
      const count = await reopened.transaction((repo) => repo.count('account', []));
      assert.equal(count, 1);
    } finally {
      await reopened.close();
    }
  });

  test('sqlite::memory: gives an empty, migrated storage', async () => {
    const storage = await openStorage('sqlite::memory:');
    try {
      assert.equal(await storage.transaction((repo) => repo.count('carrier', [])), 0);
    } finally {
      await storage.close();
    }
  });

  test('an unsupported URL fails before anything is created', async () => {
    await assert.rejects(openStorage(`mongodb://${dir}/x`), /accepted scheme/);
  });

  test('a PostgreSQL URL opens a migrated, usable storage in the schema it names', { skip: postgresSkip }, async () => {
    const schema = uniqueSchemaName('open');
    try {
      const storage = await openStorage(`${POSTGRES_URL}?schema=${schema}`, { poolSize: 2, logger: quietLogger });
      try {
        const account = await storage.transaction((repo) =>
          repo.upsert('account', { key: { tenant: 'default', account_tag: 'a1' } }, { type: 'PREPAID', balance: 7 }),
        );
        assert.equal(account.balance, 7);
      } finally {
        await storage.close();
      }
      const count = await withAdminClient(async (client) => (await client.query(`SELECT count(*)::int AS n FROM "${schema}".accounts`)).rows[0].n);
      assert.equal(count, 1);
    } finally {
      await dropSchema(schema);
    }
  });

  test('a PostgreSQL server that cannot be reached fails with a clear error', async () => {
    await assert.rejects(openStorage('postgres://postgres@127.0.0.1:1/rating', { logger: quietLogger }), /cannot open PostgreSQL storage at postgres:\/\/postgres@127\.0\.0\.1:1\/rating/);
  });
});

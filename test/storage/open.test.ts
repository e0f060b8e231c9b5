import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openStorage, parseDatabaseUrl } from '../../src/storage/open.ts';

describe('parseDatabaseUrl', () => {
  test('sqlite:PATH is relative to the working directory; sqlite:// forms and :memory: are accepted', () => {
    assert.deepEqual(parseDatabaseUrl('sqlite:data/rating.db', '/srv/app'), { kind: 'sqlite', path: '/srv/app/data/rating.db' });
    assert.deepEqual(parseDatabaseUrl('sqlite:/var/lib/rating.db', '/srv/app'), { kind: 'sqlite', path: '/var/lib/rating.db' });
    assert.deepEqual(parseDatabaseUrl('sqlite:///var/lib/rating.db', '/srv/app'), { kind: 'sqlite', path: '/var/lib/rating.db' });
    assert.deepEqual(parseDatabaseUrl('sqlite://rating.db', '/srv/app'), { kind: 'sqlite', path: '/srv/app/rating.db' });
    assert.deepEqual(parseDatabaseUrl('sqlite::memory:', '/srv/app'), { kind: 'sqlite', path: ':memory:' });
    assert.deepEqual(parseDatabaseUrl('  SQLITE:x.db ', '/srv'), { kind: 'sqlite', path: '/srv/x.db' });
  });

  test('PostgreSQL URLs are refused as not available in this version', () => {
    for (const url of ['postgres://u:p@localhost/rating', 'postgresql://localhost:5432/rating']) {
      assert.throws(() => parseDatabaseUrl(url), /PostgreSQL storage is not available in this version/);
    }
  });

  test('other schemes and empty paths are refused naming the accepted scheme', () => {
    for (const url of ['mongodb://localhost/rating_api', 'rating.db', '', 'mysql://x']) {
      assert.throws(() => parseDatabaseUrl(url), /sqlite:PATH/);
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
    await assert.rejects(openStorage('postgres://localhost/rating'), /PostgreSQL storage is not available in this version/);
    await assert.rejects(openStorage(`mongodb://${dir}/x`), /accepted scheme/);
  });
});

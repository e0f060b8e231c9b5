import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStorage } from '../../src/storage/sqlite/index.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { RateIndexCache } from '../../src/rating/rate-cache.ts';

const ALL = { pricelist_tags: null, carrier_tags: null };
let dir: string;
let storage: Storage;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rating-cache-'));
  storage = await openSqliteStorage({ path: join(dir, 'rating.db') });
  await storage.migrate();
});
after(async () => {
  await storage.close();
  await rm(dir, { recursive: true, force: true });
});

function putRate(tenant: string, prefix: string, rate: number): Promise<unknown> {
  return storage.transaction((repo) =>
    repo.upsert('pricelist_rate', { key: { tenant, pricelist_tag: 'P', prefix, carrier_tag: 'C' } }, { active: true, rate }),
  );
}

test('one index per tenant, reused until the tenant rates change', async () => {
  await putRate('t1', '39', 5);
  await putRate('t2', '44', 7);
  const cache = new RateIndexCache();
  const first = await storage.transaction((repo) => cache.forTenant(repo, 't1'));
  assert.equal(first.destinationRate(ALL, '3912', 0)?.rate, 5);
  assert.equal(first.destinationRate(ALL, '4412', 0), null);
  assert.equal(await storage.transaction((repo) => cache.forTenant(repo, 't1')), first);

  const other = await storage.transaction((repo) => cache.forTenant(repo, 't2'));
  assert.equal(other.destinationRate(ALL, '4412', 0)?.rate, 7);

  await putRate('t1', '391', 2);
  const rebuilt = await storage.transaction((repo) => cache.forTenant(repo, 't1'));
  assert.notEqual(rebuilt, first);
  assert.equal(rebuilt.destinationRate(ALL, '3912', 0)?.rate, 2);
  // Another tenant's edit does not invalidate this one.
  await putRate('t2', '441', 1);
  assert.equal(await storage.transaction((repo) => cache.forTenant(repo, 't1')), rebuilt);
});

test('a deleted rate disappears from the rebuilt index', async () => {
  await putRate('t3', '33', 3);
  const cache = new RateIndexCache();
  assert.equal((await storage.transaction((repo) => cache.forTenant(repo, 't3'))).size, 1);
  await storage.transaction((repo) => repo.delete('pricelist_rate', { key: { tenant: 't3', pricelist_tag: 'P', prefix: '33', carrier_tag: 'C' } }));
  assert.equal((await storage.transaction((repo) => cache.forTenant(repo, 't3'))).size, 0);
});

test('a rolled-back rate edit is never served, even when a later edit reaches the same version count', async () => {
  await putRate('t4', '49', 4);
  const cache = new RateIndexCache();
  assert.equal((await storage.transaction((repo) => cache.forTenant(repo, 't4'))).destinationRate(ALL, '4912', 0)?.rate, 4);

  // An edit whose transaction fails after the cache has seen it (and indexed its rates).
  const rolledBack = storage.transaction(async (repo) => {
    await repo.upsert('pricelist_rate', { key: { tenant: 't4', pricelist_tag: 'P', prefix: '491', carrier_tag: 'C' } }, { active: true, rate: 1 });
    assert.equal((await cache.forTenant(repo, 't4')).destinationRate(ALL, '4912', 0)?.rate, 1);
    throw new Error('undo the edit');
  });
  await assert.rejects(rolledBack, /undo the edit/);

  // A different committed edit: with a plain counter it would bring back the rolled-back version.
  await putRate('t4', '4999', 9);
  const index = await storage.transaction((repo) => cache.forTenant(repo, 't4'));
  assert.equal(index.destinationRate(ALL, '4912', 0)?.rate, 4, 'the rolled-back rate 491 must not be served');
  assert.equal(index.destinationRate(ALL, '49991', 0)?.rate, 9);
});

test('carrier addresses are cached with the index and follow carrier edits', async () => {
  const carrier = (host: string) =>
    storage.transaction((repo) => repo.upsert('carrier', { key: { tenant: 't5', carrier_tag: 'C' } }, { host, port: 5060, protocol: 'UDP', active: true }));
  await putRate('t5', '33', 3);
  await carrier('one.example');
  const cache = new RateIndexCache();
  const first = await storage.transaction((repo) => cache.ratesOf(repo, 't5'));
  assert.equal(first.carriers.get('C'), 'UDP:one.example:5060');
  assert.equal(await storage.transaction((repo) => cache.ratesOf(repo, 't5')), first);

  await carrier('two.example');
  assert.equal((await storage.transaction((repo) => cache.ratesOf(repo, 't5'))).carriers.get('C'), 'UDP:two.example:5060');
  await storage.transaction((repo) => repo.delete('carrier', { key: { tenant: 't5', carrier_tag: 'C' } }));
  assert.equal((await storage.transaction((repo) => cache.ratesOf(repo, 't5'))).carriers.has('C'), false);
});

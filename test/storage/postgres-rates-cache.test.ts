// Rates versions cached by a PostgreSQL storage (rates-version-cache.ts): served from memory
// while the notification connection is up, dropped by the trigger's notifications, never
// served stale to the process that wrote the change, and not cached at all without the
// connection. A version written straight into the table (no trigger, no notification) shows
// whether an answer came from the cache or from the database.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { RATES_LISTENER_NAME } from '../../src/storage/postgres/rates-listener.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { skipUnlessServices } from '../support/services.ts';
import { dropSchema, openTestStorage, uniqueSchemaName, withAdminClient } from './postgres-support.ts';

const skip = await skipUnlessServices(['postgresql']);
const TENANT = 'default';

/** The version as a transaction whose first statement asks for it sees it. */
function versionSeenBy(storage: Storage): Promise<number> {
  return storage.transaction((repo) => repo.ratesVersion(TENANT));
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

/** Lets notifications of earlier commits arrive (they drop the cache whenever they do). */
function notificationsDelivered(): Promise<void> {
  return sleep(250);
}

describe('postgres rates version cache', { skip }, () => {
  const schema = uniqueSchemaName('ratescache');
  let storage: Storage;
  let other: Storage;

  const setVersionBehindTheCachesBack = (version: number): Promise<unknown> =>
    withAdminClient((client) => client.query(`UPDATE "${schema}".rates_versions SET version = $1 WHERE tenant = $2`, [version, TENANT]));
  const storedVersion = (): Promise<number> =>
    withAdminClient(async (client) => Number((await client.query(`SELECT version FROM "${schema}".rates_versions WHERE tenant = $1`, [TENANT])).rows[0].version));
  const listenerConnections = (): Promise<number> =>
    withAdminClient(async (client) => (await client.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [`${RATES_LISTENER_NAME} ${schema}`])).rowCount ?? 0);

  before(async () => {
    // The listener's loss is logged as a warning; expected here, so kept out of the test output.
    const logger = pino({ level: 'error' });
    storage = await openTestStorage(schema, { logger });
    await storage.migrate();
    other = await openTestStorage(schema, { logger });
    await other.migrate();
    await storage.transaction(async (repo) => {
      await repo.upsert('pricelist', { key: { tenant: TENANT, pricelist_tag: 'pl' } }, { name: 'pl', currency: 'EUR' });
    });
  });
  after(async () => {
    await storage.close();
    await other.close();
    await dropSchema(schema);
  });

  test('a version is served from memory until a notification drops it', async () => {
    await notificationsDelivered();
    const cached = await versionSeenBy(storage);
    assert.equal(cached, await storedVersion());
    await setVersionBehindTheCachesBack(111);
    assert.equal(await versionSeenBy(storage), cached, 'served from the cache');
    await withAdminClient((client) => client.query('SELECT pg_notify($1, $2)', ['canyan_rating_rates', `${schema}_other`]));
    await sleep(100);
    assert.equal(await versionSeenBy(storage), cached, "another schema's notification changes nothing");
    await withAdminClient((client) => client.query('SELECT pg_notify($1, $2)', ['canyan_rating_rates', schema]));
    await eventually(async () => (await versionSeenBy(storage)) === 111, 'the notification drops the cached version');
  });

  test('a read after the transaction has read something else is never served from memory', async () => {
    await versionSeenBy(storage);
    await setVersionBehindTheCachesBack(222);
    const seen = await storage.transaction(async (repo) => {
      await repo.get('pricelist', { key: { tenant: TENANT, pricelist_tag: 'pl' } });
      return repo.ratesVersion(TENANT);
    });
    assert.equal(seen, 222);
    // ...and it was not remembered: the version read first in a transaction is still the cached one.
    await setVersionBehindTheCachesBack(223);
    assert.equal(await versionSeenBy(storage), 111);
  });

  test("a change written by another process reaches this one's cache through the trigger's notification", async () => {
    await withAdminClient((client) => client.query('SELECT pg_notify($1, $2)', ['canyan_rating_rates', schema]));
    await eventually(async () => (await versionSeenBy(storage)) === (await storedVersion()), 'the cache is dropped');
    const before = await versionSeenBy(storage);
    await other.transaction((repo) => repo.upsert('pricelist_rate', { key: { tenant: TENANT, pricelist_tag: 'pl', carrier_tag: 'c', prefix: '39' } }, { rate: 1, active: true, connect_fee: 0, rate_increment: 1, interval_start: 0 }));
    const after = await storedVersion();
    assert.notEqual(after, before);
    await eventually(async () => (await versionSeenBy(storage)) === after, "the other storage's change is seen");
  });

  test('a change written through this storage is seen by its next transaction at once', async () => {
    await versionSeenBy(storage);
    await storage.transaction((repo) => repo.upsert('pricelist', { key: { tenant: TENANT, pricelist_tag: 'pl' } }, { name: 'renamed' }));
    assert.equal(await versionSeenBy(storage), await storedVersion());
    await storage.transaction((repo) => repo.delete('pricelist', { key: { tenant: TENANT, pricelist_tag: 'pl' } }));
    assert.equal(await versionSeenBy(storage), await storedVersion());
  });

  test('without the notification connection nothing is cached; once it is back, caching resumes', async () => {
    const listenersBefore = await listenerConnections();
    assert.equal(listenersBefore, 2, 'one listener per storage');
    await versionSeenBy(storage);
    await withAdminClient((client) => client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [`${RATES_LISTENER_NAME} ${schema}`]));
    // Until the loss is noticed the cache may answer; after, every answer comes from the table.
    await setVersionBehindTheCachesBack(333);
    await eventually(async () => (await versionSeenBy(storage)) === 333, 'the lost connection stops caching');
    await setVersionBehindTheCachesBack(334);
    assert.equal(await versionSeenBy(storage), 334);
    await eventually(async () => (await listenerConnections()) === 2, 'the listeners reconnect', 10_000);
    await eventually(async () => {
      await setVersionBehindTheCachesBack(335);
      await versionSeenBy(storage);
      await setVersionBehindTheCachesBack(336);
      return (await versionSeenBy(storage)) === 335;
    }, 'caching resumes');
  });
});

describe('postgres rates listener on close', { skip }, () => {
  test('close() settles even when the listening connection is all that keeps the process alive', async () => {
    // That connection is unref'd so that it never holds a process open; ending it on close()
    // must not let the process exit before the server has closed it.
    const schema = uniqueSchemaName('closelast');
    const child = fileURLToPath(new URL('./children/close-with-nothing-else-pending.ts', import.meta.url));
    try {
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', child, schema], { timeout: 30_000 });
      assert.deepEqual(stdout.trim().split('\n'), ['closed', 'exit']);
    } finally {
      await dropSchema(schema);
    }
  });
});

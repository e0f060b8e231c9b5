// Idempotency of repeated operations, and all-or-nothing operations: a storage failure half-way
// leaves nothing behind and answers INTERNAL_ERROR (authorization rethrows).
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Repository, Storage } from '../../src/storage/storage.ts';
import {
  DESTINATION,
  NOW,
  SECOND,
  authRequest,
  beginRequest,
  endRequest,
  openEngineFixture,
  recordRequest,
  rollbackRequest,
  type EngineFixture,
} from './support.ts';

const OK = { ok: true, failed_account_tag: null, failed_reason: null };
type FailurePredicate = (method: string, args: readonly unknown[]) => boolean;

/** A storage whose repositories throw on the calls the test chooses; everything else is real. */
function withInjectedFailures(storage: Storage, shouldFail: () => FailurePredicate | null): Storage {
  return {
    migrate: () => storage.migrate(),
    close: () => storage.close(),
    transaction: (work) =>
      storage.transaction((repo) =>
        work(
          new Proxy(repo, {
            get(target: Repository, property: string | symbol): unknown {
              const value: unknown = Reflect.get(target, property, target);
              if (typeof value !== 'function') return value;
              return (...args: unknown[]): unknown => {
                const predicate = shouldFail();
                if (predicate !== null && predicate(String(property), args)) throw new Error(`injected failure in ${String(property)}`);
                return Reflect.apply(value, target, args);
              };
            },
          }),
        ),
      ),
  };
}

let f: EngineFixture;
let failWhen: FailurePredicate | null = null;
beforeEach(async () => {
  failWhen = null;
  f = await openEngineFixture({ wrap: (storage) => withInjectedFailures(storage, () => failWhen) });
});
afterEach(async () => {
  await f.close();
});

async function beginBoth(): Promise<void> {
  await f.account('parent', { balance: 1000 });
  await f.account('1000', { balance: 1000, linked_accounts: ['parent'] });
  await f.account('1001', { balance: 1000 });
  await f.engine.authorization(authRequest({ account_tag: '1000', destination_account_tag: '1001', destination: DESTINATION, timestamp_auth: NOW }));
  assert.deepEqual(await f.engine.beginTransaction(beginRequest({ account_tag: '1000', destination_account_tag: '1001', destination: DESTINATION, timestamp_begin: NOW })), OK);
}

async function balances(): Promise<Array<number | undefined>> {
  return [(await f.getAccount('1000'))?.balance, (await f.getAccount('parent'))?.balance, (await f.getAccount('1001'))?.balance];
}

describe('idempotency', () => {
  test('a repeated begin changes nothing', async () => {
    await beginBoth();
    const before = await f.running('1000');
    assert.deepEqual(await f.engine.beginTransaction(beginRequest({ account_tag: '1000', destination_account_tag: '1001', destination: DESTINATION, timestamp_begin: NOW + 9 * SECOND })), OK);
    assert.deepEqual(await f.running('1000'), before);
    assert.equal((await f.running('parent')).length, 1);
  });

  test('a repeated end charges nothing again', async () => {
    await beginBoth();
    assert.deepEqual(await f.engine.endTransaction(endRequest({ account_tag: '1000', destination_account_tag: '1001', timestamp_end: NOW + 10 * SECOND })), OK);
    const record = await f.getTransaction('100', '1000');
    assert.deepEqual(await balances(), [990, 990, 1000]);
    assert.deepEqual(await f.engine.endTransaction(endRequest({ account_tag: '1000', destination_account_tag: '1001', timestamp_end: NOW + 50 * SECOND })), OK);
    // With only the tag, the parties come back from the authorization records: still settled.
    assert.deepEqual(await f.engine.endTransaction(endRequest({ timestamp_end: NOW + 50 * SECOND })), OK);
    assert.deepEqual(await balances(), [990, 990, 1000]);
    assert.deepEqual(await f.getTransaction('100', '1000'), record);
  });

  test('a late begin after the end does not reopen the call', async () => {
    await beginBoth();
    await f.engine.endTransaction(endRequest({ account_tag: '1000', destination_account_tag: '1001', timestamp_end: NOW + 10 * SECOND }));
    assert.deepEqual(await f.engine.beginTransaction(beginRequest({ account_tag: '1000', destination_account_tag: '1001', destination: DESTINATION })), OK);
    assert.deepEqual(await f.running('1000'), []);
    assert.deepEqual(await f.running('parent'), []);
  });

  test('a repeated rollback answers ok; an end after a rollback charges nothing', async () => {
    await beginBoth();
    assert.deepEqual(await f.engine.rollbackTransaction(rollbackRequest({ account_tag: '1000', destination_account_tag: '1001' })), { ok: true });
    assert.deepEqual(await f.engine.rollbackTransaction(rollbackRequest({ account_tag: '1000', destination_account_tag: '1001' })), { ok: true });
    assert.deepEqual(await f.engine.endTransaction(endRequest({ account_tag: '1000', destination_account_tag: '1001', timestamp_end: NOW + 10 * SECOND })), OK);
    assert.deepEqual(await balances(), [1000, 1000, 1000]);
    assert.equal((await f.getTransaction('100', '1000'))?.fee, null);
  });

  test('a repeated record charges nothing again', async () => {
    await f.account('1000', { balance: 100 });
    const request = recordRequest({ account_tag: '1000', destination: DESTINATION, timestamp_begin: NOW, timestamp_end: NOW + 5 * SECOND });
    assert.deepEqual(await f.engine.recordTransaction(request), OK);
    assert.deepEqual(await f.engine.recordTransaction({ ...request, timestamp_end: NOW + 50 * SECOND }), OK);
    assert.equal((await f.getAccount('1000'))?.balance, 95);
    assert.equal((await f.getTransaction('100', '1000'))?.fee, 5);
  });
});

describe('all or nothing', () => {
  test('an end failing on its last account undoes the accounts already settled', async () => {
    await beginBoth();
    const runningBefore = [await f.running('1000'), await f.running('parent'), await f.running('1001')];
    // Caller side settles parent then 1000; the failure hits the destination side.
    failWhen = (method, args) => method === 'putOutcome' && (args[0] as { account_tag: string }).account_tag === '1001';
    const response = await f.engine.endTransaction(endRequest({ account_tag: '1000', destination_account_tag: '1001', timestamp_end: NOW + 10 * SECOND }));
    assert.deepEqual(response, { ok: false, failed_account_tag: '1001', failed_reason: 'INTERNAL_ERROR' });
    failWhen = null;
    assert.deepEqual(await balances(), [1000, 1000, 1000]);
    assert.deepEqual([await f.running('1000'), await f.running('parent'), await f.running('1001')], runningBefore);
    assert.equal((await f.getTransaction('100', '1000'))?.fee, null);
    // Once the storage works again the same end succeeds, exactly once.
    assert.deepEqual(await f.engine.endTransaction(endRequest({ account_tag: '1000', destination_account_tag: '1001', timestamp_end: NOW + 10 * SECOND })), OK);
    assert.deepEqual(await balances(), [990, 990, 1000]);
  });

  test('an end whose destination never began fails as a whole (§7.4 ok=false), charging nobody', async () => {
    await f.account('1000', { balance: 100 });
    await f.account('1001', { balance: 100 });
    await f.engine.beginTransaction(beginRequest({ account_tag: '1000', destination: DESTINATION, timestamp_begin: NOW }));
    const response = await f.engine.endTransaction(endRequest({ account_tag: '1000', destination_account_tag: '1001', timestamp_end: NOW + 10 * SECOND }));
    assert.deepEqual(response, { ok: false, failed_account_tag: '1001', failed_reason: 'INTERNAL_ERROR' });
    assert.equal((await f.getAccount('1000'))?.balance, 100);
    assert.equal((await f.running('1000')).length, 1);
  });

  test('a begin failing on a linked account begins nobody', async () => {
    await f.account('parent', { balance: 1000 });
    await f.account('1000', { balance: 1000, linked_accounts: ['parent'] });
    failWhen = (method, args) => method === 'insertRunning' && (args[0] as { account_tag: string }).account_tag === 'parent';
    const response = await f.engine.beginTransaction(beginRequest({ account_tag: '1000', destination: DESTINATION }));
    assert.deepEqual(response, { ok: false, failed_account_tag: 'parent', failed_reason: 'INTERNAL_ERROR' });
    assert.deepEqual(await f.running('1000'), []);
  });

  test('a record failing half-way debits nobody', async () => {
    await f.account('1000', { balance: 100 });
    await f.account('1001', { balance: 100 });
    failWhen = (method) => method === 'putOutcome';
    const response = await f.engine.recordTransaction(
      recordRequest({ account_tag: '1000', destination_account_tag: '1001', destination: DESTINATION, timestamp_begin: NOW, timestamp_end: NOW + 5 * SECOND }),
    );
    assert.deepEqual(response, { ok: false, failed_account_tag: '1000', failed_reason: 'INTERNAL_ERROR' });
    assert.equal((await f.getAccount('1000'))?.balance, 100);
    assert.deepEqual(await f.transactions(), []);
  });

  test('a rollback failing answers ok=false and keeps the running transactions', async () => {
    await beginBoth();
    failWhen = (method, args) => method === 'deleteRunning' && args[1] === 'parent';
    assert.deepEqual(await f.engine.rollbackTransaction(rollbackRequest({ account_tag: '1000', destination_account_tag: '1001' })), { ok: false });
    failWhen = null;
    assert.equal((await f.running('1000')).length, 1);
    assert.equal((await f.running('parent')).length, 1);
  });

  test('an authorization failing in storage rejects and records nothing', async () => {
    await f.account('1000', { balance: 100 });
    failWhen = (method) => method === 'upsert';
    await assert.rejects(f.engine.authorization(authRequest({ account_tag: '1000', destination: DESTINATION })), /injected failure/);
    failWhen = null;
    assert.deepEqual(await f.transactions(), []);
  });
});

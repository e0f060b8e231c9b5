// completeTransaction: a call's begin and end in one atomic step, for bus consumers that may see
// a call's end before (or without) its begin. Whatever was already done is skipped.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DESTINATION, NOW, SECOND, beginRequest, endRequest, openEngineFixture, type EngineFixture } from './support.ts';

const OK = { ok: true, failed_account_tag: null, failed_reason: null };
const BALANCE = 1_000_000;

let f: EngineFixture;
beforeEach(async () => {
  f = await openEngineFixture();
  await f.account('1000', { balance: BALANCE });
});
afterEach(async () => {
  await f.close();
});

const parties = { account_tag: '1000', destination: DESTINATION, source: '1000' };
const begin = (fields = {}) => beginRequest({ ...parties, timestamp_begin: NOW, ...fields });
const end = (fields = {}) => endRequest({ account_tag: '1000', timestamp_end: NOW + 30 * SECOND, ...fields });

describe('completeTransaction', () => {
  test('without a begin, rates the whole call', async () => {
    assert.deepEqual(await f.engine.completeTransaction(begin(), end()), OK);
    assert.deepEqual(await f.running('1000'), []);
    assert.equal((await f.getAccount('1000'))?.balance, BALANCE - 30);
    const record = await f.getTransaction('100', '1000');
    assert.equal(record?.fee, 30);
    assert.equal(record?.duration, 30);
    assert.equal(record?.timestamp_begin, NOW);
    assert.equal(record?.timestamp_end, NOW + 30 * SECOND);
  });

  test('after a begin, ends the running call (the begin is not repeated)', async () => {
    assert.deepEqual(await f.engine.beginTransaction(begin()), OK);
    assert.equal((await f.running('1000')).length, 1);
    assert.deepEqual(await f.engine.completeTransaction(begin(), end()), OK);
    assert.deepEqual(await f.running('1000'), []);
    assert.equal((await f.getAccount('1000'))?.balance, BALANCE - 30);
    assert.equal((await f.transactions()).length, 1);
  });

  test('after the end, changes nothing', async () => {
    await f.engine.beginTransaction(begin());
    assert.deepEqual(await f.engine.endTransaction(end()), OK);
    const settled = await f.getTransaction('100', '1000');
    assert.deepEqual(await f.engine.completeTransaction(begin(), end({ timestamp_end: NOW + 90 * SECOND })), OK);
    assert.equal((await f.getAccount('1000'))?.balance, BALANCE - 30);
    assert.deepEqual(await f.getTransaction('100', '1000'), settled);
    assert.deepEqual(await f.running('1000'), []);
  });

  test('twice, charges once', async () => {
    assert.deepEqual(await f.engine.completeTransaction(begin(), end()), OK);
    assert.deepEqual(await f.engine.completeTransaction(begin(), end()), OK);
    assert.equal((await f.getAccount('1000'))?.balance, BALANCE - 30);
  });

  test('a begin arriving after the complete does not reopen the call', async () => {
    await f.engine.completeTransaction(begin(), end());
    const late = await f.engine.beginTransaction(begin());
    assert.equal(late.failed_reason, null);
    assert.deepEqual(await f.running('1000'), []);
    assert.equal((await f.getAccount('1000'))?.balance, BALANCE - 30);
    // and a late end after that changes nothing either
    await f.engine.endTransaction(end({ timestamp_end: NOW + 300 * SECOND }));
    assert.equal((await f.getAccount('1000'))?.balance, BALANCE - 30);
  });

  test('an inactive or unknown account answers as begin does, and nothing is stored', async () => {
    await f.account('2000', { balance: BALANCE, active: false });
    const inactiveBegin = await f.engine.beginTransaction(begin({ transaction_tag: 'b', account_tag: '2000' }));
    const inactiveComplete = await f.engine.completeTransaction(
      begin({ transaction_tag: 'c', account_tag: '2000' }),
      end({ transaction_tag: 'c', account_tag: '2000' }),
    );
    assert.deepEqual(inactiveComplete, inactiveBegin);
    assert.deepEqual(inactiveComplete, { ok: false, failed_account_tag: '2000', failed_reason: 'NOT_ACTIVE' });

    const unknownBegin = await f.engine.beginTransaction(begin({ transaction_tag: 'd', account_tag: 'nobody' }));
    const unknownComplete = await f.engine.completeTransaction(
      begin({ transaction_tag: 'e', account_tag: 'nobody' }),
      end({ transaction_tag: 'e', account_tag: 'nobody' }),
    );
    assert.deepEqual(unknownComplete, unknownBegin);
    assert.equal(unknownComplete.failed_reason, 'NOT_FOUND');
    assert.equal((await f.getAccount('2000'))?.balance, BALANCE);
    assert.deepEqual(await f.running('2000'), []);
    assert.equal(await f.getTransaction('c', '2000'), null);
  });

  test('a call begun while its account was active still ends after the account is deactivated', async () => {
    assert.deepEqual(await f.engine.beginTransaction(begin()), OK);
    await f.account('1000', { balance: BALANCE, active: false });
    assert.deepEqual(await f.engine.completeTransaction(begin(), end()), OK);
    assert.deepEqual(await f.running('1000'), []);
    assert.equal((await f.getAccount('1000'))?.balance, BALANCE - 30);
  });
});

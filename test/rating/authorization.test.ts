// §7.3 authorization outcomes A1-A17 ("published" becomes "authorization record stored") and
// the authorization fixes (§8.11, §8.12, §8.14, empty-string tags, linked accounts).
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DESTINATION, NOW, SECOND, TESTS_CARRIER, authRequest, beginRequest, openEngineFixture, type EngineFixture } from './support.ts';

const DEFAULT_RESPONSE = {
  authorized: false,
  authorized_destination: false,
  unauthorized_account_tag: null,
  unauthorized_reason: null,
  balance: 0,
  carriers: [],
  max_available_units: 0,
};

function refused(tag: string, reason: string) {
  return { ...DEFAULT_RESPONSE, unauthorized_account_tag: tag, unauthorized_reason: reason };
}

describe('authorization (§7.3)', () => {
  let f: EngineFixture;
  beforeEach(async () => {
    f = await openEngineFixture();
  });
  afterEach(async () => {
    await f.close();
  });

  async function assertNothingRecorded(): Promise<void> {
    assert.deepEqual(await f.transactions(), []);
  }

  test('A1: no accounts named: default response, nothing recorded', async () => {
    assert.deepEqual(await f.engine.authorization(authRequest()), DEFAULT_RESPONSE);
    await assertNothingRecorded();
  });

  test('A2: unknown caller: NOT_FOUND, nothing recorded', async () => {
    assert.deepEqual(await f.engine.authorization(authRequest({ account_tag: '1000', destination: DESTINATION })), refused('1000', 'NOT_FOUND'));
    await assertNothingRecorded();
  });

  test('A3: inactive caller: NOT_ACTIVE', async () => {
    await f.account('1000', { balance: 1_000_000, active: false });
    assert.deepEqual(await f.engine.authorization(authRequest({ account_tag: '1000', destination: DESTINATION })), refused('1000', 'NOT_ACTIVE'));
    await assertNothingRecorded();
  });

  test('A4: no rate in the account pricelists: UNREACHEABLE_DESTINATION', async () => {
    await f.account('1000', { balance: 1_000_000, pricelist_tags: ['DOES_NOT_EXIST'] });
    const response = await f.engine.authorization(authRequest({ account_tag: '1000', destination: DESTINATION }));
    assert.deepEqual(response, refused('1000', 'UNREACHEABLE_DESTINATION'));
    await assertNothingRecorded();
  });

  test('A5: unknown destination account: NOT_FOUND', async () => {
    assert.deepEqual(await f.engine.authorization(authRequest({ destination_account_tag: '1001' })), refused('1001', 'NOT_FOUND'));
    await assertNothingRecorded();
  });

  test('A6: inactive destination account: NOT_ACTIVE', async () => {
    await f.account('1001', { active: false });
    assert.deepEqual(await f.engine.authorization(authRequest({ destination_account_tag: '1001' })), refused('1001', 'NOT_ACTIVE'));
    await assertNothingRecorded();
  });

  test('A7: both unknown: the caller is reported', async () => {
    const response = await f.engine.authorization(authRequest({ account_tag: '1000', destination_account_tag: '1001', destination: DESTINATION }));
    assert.deepEqual(response, refused('1000', 'NOT_FOUND'));
    await assertNothingRecorded();
  });

  test('A8: zero balance: BALANCE_INSUFFICIENT, record stored with the reason (FIX §8.14)', async () => {
    await f.account('1000', { balance: 0 });
    const response = await f.engine.authorization(authRequest({ account_tag: '1000', destination: DESTINATION }));
    assert.deepEqual(response, refused('1000', 'BALANCE_INSUFFICIENT'));
    const records = await f.transactions();
    assert.equal(records.length, 1);
    const [record] = records;
    assert.equal(record.account_tag, '1000');
    assert.equal(record.transaction_tag, '100');
    assert.equal(record.authorized, false);
    assert.equal(record.unauthorized_reason, 'BALANCE_INSUFFICIENT');
    assert.deepEqual(record.tags, []);
    assert.equal(record.destination, DESTINATION);
    assert.equal(record.timestamp_auth, NOW);
    assert.equal(record.primary, true);
    assert.equal(record.inbound, false);
    assert.equal(record.fee, null);
  });

  test('A9: the destination balance is irrelevant; both sides recorded, reason on the caller', async () => {
    await f.account('1000', { balance: 0 });
    await f.account('1001', { balance: 0 });
    const response = await f.engine.authorization(authRequest({ account_tag: '1000', destination_account_tag: '1001', destination: DESTINATION }));
    assert.deepEqual(response, refused('1000', 'BALANCE_INSUFFICIENT'));
    const callee = await f.getTransaction('100', '1001');
    assert.equal(callee?.inbound, true);
    assert.equal(callee?.primary, true);
    assert.equal(callee?.authorized, false);
    assert.equal(callee?.unauthorized_reason, null);
    assert.equal((await f.getTransaction('100', '1000'))?.unauthorized_reason, 'BALANCE_INSUFFICIENT');
  });

  test('A10: a call in progress lowers the virtual balance below zero: BALANCE_INSUFFICIENT', async () => {
    await f.account('1000', { balance: 10 });
    await f.engine.beginTransaction(beginRequest({ transaction_tag: 'earlier', account_tag: '1000', destination: DESTINATION, timestamp_begin: NOW - 15 * SECOND }));
    const response = await f.engine.authorization(authRequest({ account_tag: '1000', destination: DESTINATION, timestamp_auth: NOW }));
    assert.deepEqual(response, refused('1000', 'BALANCE_INSUFFICIENT'));
    assert.equal((await f.getTransaction('100', '1000'))?.authorized, false);
  });

  test('A11: virtual balance rated up to timestamp_auth, exactly (FIX §8.11; the original gave 3 or 4)', async () => {
    await f.account('1000', { balance: 20 });
    await f.engine.beginTransaction(beginRequest({ transaction_tag: 'earlier', account_tag: '1000', destination: DESTINATION, timestamp_begin: NOW - 15 * SECOND }));
    f.now = NOW + 3600 * SECOND; // the engine's clock must not matter
    const response = await f.engine.authorization(authRequest({ account_tag: '1000', destination: DESTINATION, timestamp_auth: NOW }));
    assert.deepEqual(response, {
      authorized: true,
      authorized_destination: false,
      unauthorized_account_tag: null,
      unauthorized_reason: null,
      balance: 5,
      carriers: [TESTS_CARRIER],
      max_available_units: 5,
    });
    const record = await f.getTransaction('100', '1000');
    assert.equal(record?.authorized, true);
    assert.equal(record?.timestamp_auth, NOW);
  });

  test('A12: max_concurrent_transactions 0: TOO_MANY_RUNNING_TRANSACTIONS, recorded', async () => {
    await f.account('1000', { balance: 1_000_000, max_concurrent_transactions: 0 });
    const response = await f.engine.authorization(authRequest({ account_tag: '1000', destination: DESTINATION }));
    assert.deepEqual(response, refused('1000', 'TOO_MANY_RUNNING_TRANSACTIONS'));
    assert.equal((await f.getTransaction('100', '1000'))?.unauthorized_reason, 'TOO_MANY_RUNNING_TRANSACTIONS');
  });

  test('A13: max_outbound_transactions 0: TOO_MANY_RUNNING_OUTBOUND_TRANSACTIONS', async () => {
    await f.account('1000', { balance: 1_000_000, max_outbound_transactions: 0 });
    const response = await f.engine.authorization(authRequest({ account_tag: '1000', destination: DESTINATION }));
    assert.deepEqual(response, refused('1000', 'TOO_MANY_RUNNING_OUTBOUND_TRANSACTIONS'));
    assert.equal((await f.transactions()).length, 1);
  });

  test('A14: destination over its limit refuses both sides; reason stored on the destination', async () => {
    await f.account('1000', { balance: 1_000_000 });
    await f.account('1001', { max_concurrent_transactions: 0 });
    const response = await f.engine.authorization(authRequest({ account_tag: '1000', destination_account_tag: '1001', destination: DESTINATION }));
    assert.deepEqual(response, refused('1001', 'TOO_MANY_RUNNING_TRANSACTIONS'));
    const caller = await f.getTransaction('100', '1000');
    const callee = await f.getTransaction('100', '1001');
    assert.equal(caller?.authorized, false);
    assert.equal(caller?.unauthorized_reason, null);
    assert.equal(callee?.authorized, false);
    assert.equal(callee?.unauthorized_reason, 'TOO_MANY_RUNNING_TRANSACTIONS');
  });

  test('A15: destination only, over its concurrency limit', async () => {
    await f.account('1001', { max_concurrent_transactions: 0 });
    assert.deepEqual(await f.engine.authorization(authRequest({ destination_account_tag: '1001' })), refused('1001', 'TOO_MANY_RUNNING_TRANSACTIONS'));
    const records = await f.transactions();
    assert.deepEqual(records.map((r) => [r.account_tag, r.inbound, r.authorized]), [['1001', true, false]]);
  });

  test('A16: destination only, over its inbound limit', async () => {
    await f.account('1001', { max_inbound_transactions: 0 });
    const response = await f.engine.authorization(authRequest({ destination_account_tag: '1001' }));
    assert.deepEqual(response, refused('1001', 'TOO_MANY_RUNNING_INBOUND_TRANSACTIONS'));
    assert.equal((await f.transactions()).length, 1);
  });

  test('A17: both authorized; records carry side tags, source and source_ip (FIX §8.14)', async () => {
    await f.account('1000', { balance: 20, tags: ['A1'] });
    await f.account('1001', { balance: 20, tags: ['A2'] });
    const response = await f.engine.authorization(
      authRequest({
        account_tag: '1000',
        destination_account_tag: '1001',
        destination: DESTINATION,
        source: 'source',
        source_ip: 'source_ip',
        carrier_ip: 'carrier_ip',
        tags: ['T1'],
        timestamp_auth: NOW,
      }),
    );
    assert.deepEqual(response, {
      authorized: true,
      authorized_destination: true,
      unauthorized_account_tag: null,
      unauthorized_reason: null,
      balance: 20,
      carriers: [TESTS_CARRIER],
      max_available_units: 20,
    });
    const caller = await f.getTransaction('100', '1000');
    const callee = await f.getTransaction('100', '1001');
    assert.deepEqual(caller?.tags, ['T1', 'A1']);
    assert.deepEqual(callee?.tags, ['T1', 'A2']);
    for (const record of [caller, callee]) {
      assert.equal(record?.source, 'source');
      assert.equal(record?.source_ip, 'source_ip');
      assert.equal(record?.carrier_ip, 'carrier_ip');
      assert.equal(record?.destination, DESTINATION);
      assert.equal(record?.authorized, true);
      assert.equal(record?.timestamp_auth, NOW);
      assert.equal(record?.primary, true);
    }
    assert.equal(caller?.inbound, false);
    assert.equal(callee?.inbound, true);
  });
});

describe('authorization fixes and details', () => {
  let f: EngineFixture;
  beforeEach(async () => {
    f = await openEngineFixture();
  });
  afterEach(async () => {
    await f.close();
  });

  test('no destination is UNREACHEABLE_DESTINATION, not a crash (FIX §8.12)', async () => {
    await f.account('1000', { balance: 100 });
    assert.deepEqual(await f.engine.authorization(authRequest({ account_tag: '1000' })), refused('1000', 'UNREACHEABLE_DESTINATION'));
    assert.deepEqual(await f.transactions(), []);
  });

  test('empty-string tags count as absent', async () => {
    assert.deepEqual(await f.engine.authorization(authRequest({ account_tag: '', destination_account_tag: '' })), DEFAULT_RESPONSE);
    await f.account('1001');
    const response = await f.engine.authorization(authRequest({ account_tag: '', destination_account_tag: '1001' }));
    assert.equal(response.authorized, false);
    assert.equal(response.authorized_destination, true);
    assert.equal(response.max_available_units, 14_400);
  });

  test('timestamp_auth defaults to the engine clock', async () => {
    await f.account('1000', { balance: 100 });
    f.now = NOW + 42 * SECOND;
    await f.engine.authorization(authRequest({ account_tag: '1000', destination: DESTINATION }));
    assert.equal((await f.getTransaction('100', '1000'))?.timestamp_auth, NOW + 42 * SECOND);
  });

  test('POSTPAID callers pass without balance; max units stays 14400', async () => {
    await f.account('1000', { type: 'POSTPAID', balance: -500 });
    const response = await f.engine.authorization(authRequest({ account_tag: '1000', destination: DESTINATION }));
    assert.equal(response.authorized, true);
    assert.equal(response.max_available_units, 14_400);
    assert.equal(response.balance, -500);
  });

  test('linked PREPAID accounts are checked with their own rate; a refusal names the linked account', async () => {
    await f.account('parent', { balance: 3 });
    await f.account('1000', { balance: 100, linked_accounts: ['parent', 'missing'] });
    const response = await f.engine.authorization(authRequest({ account_tag: '1000', destination: DESTINATION }));
    assert.equal(response.authorized, true);
    assert.equal(response.max_available_units, 3);
    assert.equal(response.balance, 3);

    await f.account('broke', { balance: 0 });
    await f.account('1002', { balance: 100, linked_accounts: ['broke'] });
    const refusedResponse = await f.engine.authorization(authRequest({ transaction_tag: '101', account_tag: '1002', destination: DESTINATION }));
    assert.deepEqual(refusedResponse, refused('broke', 'BALANCE_INSUFFICIENT'));
    // The record of the side whose linked account failed carries the reason.
    assert.equal((await f.getTransaction('101', '1002'))?.unauthorized_reason, 'BALANCE_INSUFFICIENT');
    assert.equal(await f.getTransaction('101', 'broke'), null);
  });

  test('a rate outside its validity window is not used', async () => {
    await f.write((repo) =>
      repo.upsert('pricelist_rate', { key: { tenant: 'default', pricelist_tag: 'TESTS', prefix: '39', carrier_tag: 'TESTS' } }, { datetime_end: NOW }),
    );
    await f.account('1000', { balance: 100 });
    const late = await f.engine.authorization(authRequest({ account_tag: '1000', destination: DESTINATION, timestamp_auth: NOW }));
    assert.deepEqual(late, refused('1000', 'UNREACHEABLE_DESTINATION'));
    const early = await f.engine.authorization(authRequest({ account_tag: '1000', destination: DESTINATION, timestamp_auth: NOW - 1 }));
    assert.equal(early.authorized, true);
  });

  test('rate edits are seen by the next authorization (index cache follows ratesVersion)', async () => {
    await f.account('1000', { balance: 100 });
    assert.equal((await f.engine.authorization(authRequest({ account_tag: '1000', destination: DESTINATION }))).max_available_units, 100);
    await f.write((repo) =>
      repo.upsert('pricelist_rate', { key: { tenant: 'default', pricelist_tag: 'TESTS', prefix: '3932', carrier_tag: 'TESTS' } }, { active: true, rate: 4, rate_increment: 1 }),
    );
    assert.equal((await f.engine.authorization(authRequest({ account_tag: '1000', destination: DESTINATION }))).max_available_units, 25);
  });

  test('carriers of least-cost routing: cheapest first, duplicates kept, missing carriers dropped', async () => {
    await f.write(async (repo) => {
      await repo.upsert('carrier', { key: { tenant: 'default', carrier_tag: 'CHEAP' } }, { host: 'cheap.example', port: 5070, protocol: 'TCP', active: true });
      await repo.upsert('pricelist', { key: { tenant: 'default', pricelist_tag: 'OTHER' } }, { currency: 'EUR' });
      await repo.upsert('pricelist_rate', { key: { tenant: 'default', pricelist_tag: 'OTHER', prefix: '3', carrier_tag: 'CHEAP' } }, { active: true, rate: 0 });
      await repo.upsert('pricelist_rate', { key: { tenant: 'default', pricelist_tag: 'OTHER', prefix: '39', carrier_tag: 'GONE' } }, { active: true, rate: 0 });
      await repo.upsert('pricelist_rate', { key: { tenant: 'default', pricelist_tag: 'OTHER', prefix: '393', carrier_tag: 'TESTS' } }, { active: true, rate: 2 });
    });
    await f.account('1000', { balance: 100 });
    const response = await f.engine.authorization(authRequest({ account_tag: '1000', destination: DESTINATION }));
    assert.deepEqual(response.carriers, ['TCP:cheap.example:5070', TESTS_CARRIER, TESTS_CARRIER]);
    // The charged rate still comes from the account's own pricelist.
    assert.equal(response.max_available_units, 100);
  });

  test('an account with carrier_tags [] gets no carriers', async () => {
    await f.account('1000', { balance: 100, carrier_tags: [] });
    const response = await f.engine.authorization(authRequest({ account_tag: '1000', destination: DESTINATION }));
    assert.equal(response.authorized, true);
    assert.deepEqual(response.carriers, []);
  });
});

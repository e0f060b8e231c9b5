// §7.3 end-to-end flows and §7.4 begin / end / rollback / record, with the fixes of §8.3,
// §8.15, §8.16 and §8.17.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
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
const NOTHING = { ok: false, failed_account_tag: null, failed_reason: null };

function failedWith(tag: string, reason: string) {
  return { ok: false, failed_account_tag: tag, failed_reason: reason };
}

let f: EngineFixture;
beforeEach(async () => {
  f = await openEngineFixture();
});
afterEach(async () => {
  await f.close();
});

describe('end-to-end flows (§7.3)', () => {
  const call = { source: '393291234557', destination: '393291234557' };

  test('caller and destination: auth, begin, end; the caller pays, the callee does not', async () => {
    await f.account('1000', { balance: 1_000_000 });
    await f.account('1001', { balance: 1_000_000 });
    const parties = { account_tag: '1000', destination_account_tag: '1001', ...call };
    const auth = await f.engine.authorization(authRequest({ ...parties, timestamp_auth: NOW }));
    assert.deepEqual([auth.authorized, auth.authorized_destination], [true, true]);
    assert.deepEqual(await f.engine.beginTransaction(beginRequest({ ...parties, timestamp_begin: NOW })), OK);
    assert.equal((await f.running('1000')).length, 1);
    assert.equal((await f.running('1001')).length, 1);
    assert.deepEqual(await f.engine.endTransaction(endRequest({ account_tag: '1000', destination_account_tag: '1001', timestamp_end: NOW + 30 * SECOND })), OK);
    assert.deepEqual(await f.running('1000'), []);
    assert.deepEqual(await f.running('1001'), []);
    assert.equal((await f.getAccount('1000'))?.balance, 1_000_000 - 30);
    assert.equal((await f.getAccount('1001'))?.balance, 1_000_000);
    const caller = await f.getTransaction('100', '1000');
    assert.equal(caller?.fee, 30);
    assert.equal(caller?.duration, 30);
    assert.equal(caller?.authorized, true);
    assert.equal(caller?.timestamp_auth, NOW);
    assert.equal(caller?.timestamp_begin, NOW);
    assert.equal(caller?.timestamp_end, NOW + 30 * SECOND);
    assert.equal(caller?.destination_rate?.prefix, '39');
    const callee = await f.getTransaction('100', '1001');
    assert.equal(callee?.fee, 0);
    assert.equal(callee?.inbound, true);
    assert.equal(callee?.primary, true);
    assert.equal(callee?.destination_rate, null);
  });

  test('caller only', async () => {
    await f.account('1000', { balance: 1_000_000 });
    const parties = { account_tag: '1000', ...call };
    const auth = await f.engine.authorization(authRequest(parties));
    assert.deepEqual([auth.authorized, auth.authorized_destination], [true, false]);
    assert.deepEqual(await f.engine.beginTransaction(beginRequest({ ...parties, timestamp_begin: NOW })), OK);
    assert.deepEqual(await f.engine.endTransaction(endRequest({ account_tag: '1000', timestamp_end: NOW + 2500 * 1000 })), OK);
    assert.equal((await f.getAccount('1000'))?.balance, 1_000_000 - 3);
  });

  test('destination only', async () => {
    await f.account('1001', { balance: 1_000_000 });
    const parties = { destination_account_tag: '1001', ...call };
    const auth = await f.engine.authorization(authRequest(parties));
    assert.deepEqual([auth.authorized, auth.authorized_destination], [false, true]);
    assert.deepEqual(await f.engine.beginTransaction(beginRequest({ ...parties, timestamp_begin: NOW })), OK);
    assert.deepEqual(await f.engine.endTransaction(endRequest({ destination_account_tag: '1001', timestamp_end: NOW + 10 * SECOND })), OK);
    assert.equal((await f.getAccount('1001'))?.balance, 1_000_000);
    assert.equal((await f.getTransaction('100', '1001'))?.duration, 10);
  });
});

describe('begin (§7.4)', () => {
  test('nothing named and no authorization record: ok=false', async () => {
    assert.deepEqual(await f.engine.beginTransaction(beginRequest()), NOTHING);
  });

  test('unknown or inactive accounts', async () => {
    assert.deepEqual(await f.engine.beginTransaction(beginRequest({ account_tag: '1000' })), failedWith('1000', 'NOT_FOUND'));
    assert.deepEqual(await f.engine.beginTransaction(beginRequest({ account_tag: '1000', destination_account_tag: '1001' })), failedWith('1000', 'NOT_FOUND'));
    assert.deepEqual(await f.engine.beginTransaction(beginRequest({ destination_account_tag: '1001' })), failedWith('1001', 'NOT_FOUND'));
    await f.account('1000', { active: false });
    assert.deepEqual(await f.engine.beginTransaction(beginRequest({ account_tag: '1000' })), failedWith('1000', 'NOT_ACTIVE'));
    await f.account('1001', { active: false });
    assert.deepEqual(await f.engine.beginTransaction(beginRequest({ destination_account_tag: '1001' })), failedWith('1001', 'NOT_ACTIVE'));
    await f.account('1000', { active: true });
    assert.deepEqual(await f.engine.beginTransaction(beginRequest({ account_tag: '1000', destination_account_tag: '1001' })), failedWith('1001', 'NOT_ACTIVE'));
    assert.deepEqual(await f.running('1000'), []);
  });

  test('with only the transaction tag, after an outbound authorization record', async () => {
    await f.account('1000', { balance: 100 });
    await f.write((repo) =>
      repo.upsert(
        'transaction',
        { key: { tenant: 'default', transaction_tag: '100', account_tag: '1000' } },
        { source: '1000', destination: DESTINATION, timestamp_auth: NOW, primary: true, inbound: false },
      ),
    );
    assert.deepEqual(await f.engine.beginTransaction(beginRequest({ timestamp_begin: NOW })), OK);
    const [rt] = await f.running('1000');
    assert.equal(rt.inbound, false);
    assert.equal(rt.primary, true);
    assert.equal(rt.source, '1000');
    assert.equal(rt.destination, DESTINATION);
    assert.equal(rt.destination_rate?.rate, 1);
  });

  test('with only the transaction tag, after an inbound authorization record', async () => {
    await f.account('1000');
    await f.write((repo) =>
      repo.upsert(
        'transaction',
        { key: { tenant: 'default', transaction_tag: '100', account_tag: '1000' } },
        { source: '1000', destination: DESTINATION, timestamp_auth: NOW, primary: true, inbound: true },
      ),
    );
    assert.deepEqual(await f.engine.beginTransaction(beginRequest()), OK);
    const [rt] = await f.running('1000');
    assert.equal(rt.inbound, true);
    assert.equal(rt.destination_rate, null);
  });

  test('restores BOTH sides from the authorization records (FIX §8.3)', async () => {
    await f.account('1000', { balance: 100 });
    await f.account('1001');
    await f.engine.authorization(authRequest({ account_tag: '1000', destination_account_tag: '1001', destination: DESTINATION, source_ip: '10.0.0.1' }));
    assert.deepEqual(await f.engine.beginTransaction(beginRequest({ timestamp_begin: NOW })), OK);
    const [caller] = await f.running('1000');
    const [callee] = await f.running('1001');
    assert.equal(caller.inbound, false);
    assert.equal(caller.source_ip, '10.0.0.1');
    assert.equal(caller.destination, DESTINATION);
    assert.equal(callee.inbound, true);
  });

  test('keeps the request tags on the running transaction (FIX §8.15) and freezes the rate', async () => {
    await f.account('1000', { balance: 100, tags: ['A1'] });
    await f.engine.beginTransaction(beginRequest({ account_tag: '1000', destination: DESTINATION, tags: ['T1'], timestamp_begin: NOW }));
    await f.write((repo) =>
      repo.upsert('pricelist_rate', { key: { tenant: 'default', pricelist_tag: 'TESTS', prefix: '39', carrier_tag: 'TESTS' } }, { rate: 1000 }),
    );
    const [rt] = await f.running('1000');
    assert.deepEqual(rt.tags, ['T1']);
    assert.deepEqual(rt.destination_rate, {
      pricelist_tag: 'TESTS',
      carrier_tag: 'TESTS',
      prefix: '39',
      description: 'TESTS_ALL_DESTINATIONS',
      datetime_start: null,
      datetime_end: null,
      connect_fee: 0,
      rate: 1,
      rate_increment: 1,
      interval_start: 0,
    });
    assert.deepEqual(await f.engine.endTransaction(endRequest({ account_tag: '1000', timestamp_end: NOW + 7 * SECOND })), OK);
    const record = await f.getTransaction('100', '1000');
    assert.deepEqual(record?.tags, ['T1', 'A1']);
    assert.equal(record?.fee, 7); // frozen rate, not the edited one
  });

  test('begins linked accounts with their own rate; the main account is primary', async () => {
    await f.account('parent', { balance: 100, pricelist_tags: null });
    await f.account('1000', { balance: 100, linked_accounts: ['parent'] });
    await f.engine.beginTransaction(beginRequest({ account_tag: '1000', destination: DESTINATION, timestamp_begin: NOW }));
    const [main] = await f.running('1000');
    const [linked] = await f.running('parent');
    assert.equal(main.primary, true);
    assert.equal(linked.primary, false);
    assert.equal(linked.inbound, false);
    assert.equal(linked.destination_rate?.prefix, '39');
  });
});

describe('end (§7.4)', () => {
  test('nothing named and nothing to restore: ok=false', async () => {
    assert.deepEqual(await f.engine.endTransaction(endRequest()), NOTHING);
  });

  test('unknown accounts', async () => {
    assert.deepEqual(await f.engine.endTransaction(endRequest({ account_tag: '1000' })), failedWith('1000', 'NOT_FOUND'));
    assert.deepEqual(await f.engine.endTransaction(endRequest({ destination_account_tag: '1001' })), failedWith('1001', 'NOT_FOUND'));
    assert.deepEqual(await f.engine.endTransaction(endRequest({ account_tag: '1000', destination_account_tag: '1001' })), failedWith('1000', 'NOT_FOUND'));
  });

  test('an account (even inactive) with no running transaction: ok=false', async () => {
    await f.account('1000', { active: false });
    assert.deepEqual(await f.engine.endTransaction(endRequest({ account_tag: '1000' })), failedWith('1000', 'INTERNAL_ERROR'));
  });

  test('with only the transaction tag, after an authorization record and a begin', async () => {
    await f.account('1000', { balance: 100, tags: ['A1'] });
    await f.write((repo) =>
      repo.upsert(
        'transaction',
        { key: { tenant: 'default', transaction_tag: '100', account_tag: '1000' } },
        { source: '1000', destination: DESTINATION, timestamp_auth: NOW, primary: true, inbound: false },
      ),
    );
    await f.engine.beginTransaction(
      beginRequest({ account_tag: '1000', tags: ['T1'], source: '1000', source_ip: '127.0.0.1', destination: DESTINATION, carrier_ip: '192.168.0.1', timestamp_begin: NOW }),
    );
    assert.deepEqual(await f.engine.endTransaction(endRequest({ timestamp_end: NOW + 1 * SECOND })), OK);
    const record = await f.getTransaction('100', '1000');
    assert.ok(record !== null);
    assert.deepEqual(
      {
        account_tag: record.account_tag,
        carrier_ip: record.carrier_ip,
        destination: record.destination,
        duration: record.duration,
        fee: record.fee,
        inbound: record.inbound,
        primary: record.primary,
        source: record.source,
        source_ip: record.source_ip,
        tags: record.tags,
        tenant: record.tenant,
        transaction_tag: record.transaction_tag,
      },
      {
        account_tag: '1000',
        carrier_ip: '192.168.0.1',
        destination: DESTINATION,
        duration: 1,
        fee: 1,
        inbound: false,
        primary: true,
        source: '1000',
        source_ip: '127.0.0.1',
        tags: ['T1', 'A1'],
        tenant: 'default',
        transaction_tag: '100',
      },
    );
    assert.equal((await f.getAccount('1000'))?.balance, 99);
  });

  test('with only the transaction tag, ends BOTH sides from the running transactions (FIX §8.3)', async () => {
    await f.account('1000', { balance: 100 });
    await f.account('1001', { balance: 100 });
    await f.engine.beginTransaction(beginRequest({ account_tag: '1000', destination_account_tag: '1001', destination: DESTINATION, timestamp_begin: NOW }));
    assert.deepEqual(await f.engine.endTransaction(endRequest({ timestamp_end: NOW + 5 * SECOND })), OK);
    assert.deepEqual(await f.running('1000'), []);
    assert.deepEqual(await f.running('1001'), []);
    assert.equal((await f.getAccount('1000'))?.balance, 95);
    assert.equal((await f.getTransaction('100', '1001'))?.inbound, true);
  });

  test('full microsecond precision, POSTPAID charged too, end_reason stored', async () => {
    await f.account('1000', { type: 'POSTPAID', balance: 0 });
    await f.engine.beginTransaction(beginRequest({ account_tag: '1000', destination: DESTINATION, timestamp_begin: NOW + 999_999 }));
    const response = await f.engine.endTransaction(endRequest({ account_tag: '1000', timestamp_end: NOW + 3 * SECOND + 1, end_reason: 'max_duration' }));
    assert.deepEqual(response, OK);
    const record = await f.getTransaction('100', '1000');
    assert.equal(record?.duration, 3); // 2.000002 s billed as 3
    assert.equal(record?.timestamp_begin, NOW + 999_999);
    assert.equal(record?.timestamp_end, NOW + 3 * SECOND + 1);
    assert.equal(record?.end_reason, 'max_duration');
    assert.equal((await f.getAccount('1000'))?.balance, -3);
  });

  test('linked accounts are charged with their own frozen rate', async () => {
    await f.write((repo) =>
      repo.upsert('pricelist_rate', { key: { tenant: 'default', pricelist_tag: 'TESTS', prefix: '39', carrier_tag: 'EXPENSIVE' } }, { active: true, rate: 3 }),
    );
    await f.account('parent', { balance: 1000, carrier_tags: ['EXPENSIVE'] });
    await f.account('1000', { balance: 1000, linked_accounts: ['parent'] });
    await f.engine.beginTransaction(beginRequest({ account_tag: '1000', destination: DESTINATION, timestamp_begin: NOW }));
    await f.engine.endTransaction(endRequest({ account_tag: '1000', timestamp_end: NOW + 10 * SECOND }));
    assert.equal((await f.getAccount('1000'))?.balance, 990);
    assert.equal((await f.getAccount('parent'))?.balance, 970);
    const linked = await f.getTransaction('100', 'parent');
    assert.equal(linked?.primary, false);
    assert.equal(linked?.fee, 30);
  });

  test('a caller that is also linked to the callee is begun and charged once', async () => {
    await f.account('1000', { balance: 1000 });
    await f.account('1001', { balance: 1000, linked_accounts: ['1000'] });
    const parties = { account_tag: '1000', destination_account_tag: '1001', destination: DESTINATION };
    assert.deepEqual(await f.engine.beginTransaction(beginRequest({ ...parties, timestamp_begin: NOW })), OK);
    assert.equal((await f.running('1000')).length, 1);
    assert.deepEqual(await f.engine.endTransaction(endRequest({ ...parties, timestamp_end: NOW + 10 * SECOND })), OK);
    // One running transaction, one record, one debit: not a second one as the callee's linked account.
    assert.equal((await f.getAccount('1000'))?.balance, 990);
    assert.equal((await f.getAccount('1001'))?.balance, 1000);
    assert.equal((await f.getTransaction('100', '1000'))?.fee, 10);
  });

  test('a linked account added after the begin does not block the end', async () => {
    await f.account('1000', { balance: 100 });
    await f.engine.beginTransaction(beginRequest({ account_tag: '1000', destination: DESTINATION, timestamp_begin: NOW }));
    await f.account('late', { balance: 100 });
    await f.write((repo) => repo.upsert('account', { key: { tenant: 'default', account_tag: '1000' } }, { linked_accounts: ['late'] }));
    assert.deepEqual(await f.engine.endTransaction(endRequest({ account_tag: '1000', timestamp_end: NOW + 3 * SECOND })), OK);
    assert.equal((await f.getAccount('1000'))?.balance, 97);
    assert.equal((await f.getAccount('late'))?.balance, 100);
    assert.equal(await f.getTransaction('100', 'late'), null);
  });

  test('end before begin costs nothing', async () => {
    await f.account('1000', { balance: 100 });
    await f.engine.beginTransaction(beginRequest({ account_tag: '1000', destination: DESTINATION, timestamp_begin: NOW }));
    await f.engine.endTransaction(endRequest({ account_tag: '1000', timestamp_end: NOW - 30 * SECOND }));
    assert.equal((await f.getTransaction('100', '1000'))?.fee, 0);
    assert.equal((await f.getAccount('1000'))?.balance, 100);
  });

  test('timestamp_end defaults to the engine clock', async () => {
    await f.account('1000', { balance: 100 });
    await f.engine.beginTransaction(beginRequest({ account_tag: '1000', destination: DESTINATION }));
    f.now = NOW + 12 * SECOND;
    await f.engine.endTransaction(endRequest({ account_tag: '1000' }));
    assert.equal((await f.getAccount('1000'))?.balance, 88);
  });
});

describe('rollback (§7.4)', () => {
  test('nothing named: ok=false', async () => {
    assert.deepEqual(await f.engine.rollbackTransaction(rollbackRequest()), { ok: false });
  });

  test('an account with no running transaction: ok=false', async () => {
    await f.account('1000');
    assert.deepEqual(await f.engine.rollbackTransaction(rollbackRequest({ account_tag: '1000' })), { ok: false });
  });

  test('begin via an inbound authorization record, then rollback with only the tag', async () => {
    await f.account('1000');
    await f.write((repo) =>
      repo.upsert('transaction', { key: { tenant: 'default', transaction_tag: '100', account_tag: '1000' } }, { timestamp_auth: NOW, primary: true, inbound: true }),
    );
    assert.deepEqual(await f.engine.beginTransaction(beginRequest()), OK);
    assert.deepEqual(await f.engine.rollbackTransaction(rollbackRequest()), { ok: true });
    assert.deepEqual(await f.running('1000'), []);
  });

  test('rolls back both sides and linked accounts, charges nothing, keeps the records (FIX §8.16)', async () => {
    await f.account('parent', { balance: 100 });
    await f.account('1000', { balance: 100, linked_accounts: ['parent'] });
    await f.account('1001', { balance: 100 });
    await f.engine.authorization(authRequest({ account_tag: '1000', destination_account_tag: '1001', destination: DESTINATION }));
    await f.engine.beginTransaction(beginRequest({ account_tag: '1000', destination_account_tag: '1001', destination: DESTINATION, timestamp_begin: NOW }));
    assert.equal((await f.running('parent')).length, 1);
    assert.deepEqual(await f.engine.rollbackTransaction(rollbackRequest()), { ok: true });
    for (const tag of ['1000', '1001', 'parent']) {
      assert.deepEqual(await f.running(tag), []);
      assert.equal((await f.getAccount(tag))?.balance, 100);
    }
    assert.equal((await f.transactions()).length, 2);
  });
});

describe('record (§7.4, FIX §8.17)', () => {
  test('nothing named: ok=false', async () => {
    assert.deepEqual(await f.engine.recordTransaction(recordRequest()), NOTHING);
  });

  test('unknown and inactive accounts', async () => {
    assert.deepEqual(await f.engine.recordTransaction(recordRequest({ account_tag: '1000' })), failedWith('1000', 'NOT_FOUND'));
    assert.deepEqual(await f.engine.recordTransaction(recordRequest({ destination_account_tag: '1001' })), failedWith('1001', 'NOT_FOUND'));
    await f.account('1000', { active: false });
    assert.deepEqual(await f.engine.recordTransaction(recordRequest({ account_tag: '1000' })), failedWith('1000', 'NOT_ACTIVE'));
  });

  test('rates, debits and stores the whole call', async () => {
    await f.account('1000', { balance: 100, tags: ['A1'] });
    const response = await f.engine.recordTransaction(
      recordRequest({
        account_tag: '1000',
        tags: ['T1'],
        source: '1000',
        source_ip: 'source_ip',
        destination: DESTINATION,
        carrier_ip: 'carrier_ip',
        authorized: true,
        timestamp_auth: NOW - SECOND,
        timestamp_begin: NOW,
        timestamp_end: NOW + SECOND,
        sip_status: 200,
      }),
    );
    assert.deepEqual(response, OK);
    const record = await f.getTransaction('100', '1000');
    assert.equal(record?.duration, 1);
    assert.equal(record?.fee, 1);
    assert.deepEqual(record?.tags, ['T1', 'A1']);
    assert.equal(record?.primary, true);
    assert.equal(record?.inbound, false);
    assert.equal(record?.carrier_ip, 'carrier_ip');
    assert.equal(record?.source_ip, 'source_ip');
    assert.equal(record?.authorized, true);
    assert.equal(record?.timestamp_auth, NOW - SECOND);
    assert.equal(record?.sip_status, 200);
    assert.equal((await f.getAccount('1000'))?.balance, 99);
    assert.deepEqual(await f.running('1000'), []);
  });

  test('sets inbound on the destination side, null tags are [], failed attempts are free', async () => {
    await f.account('1000', { balance: 100 });
    await f.account('1001', { balance: 100 });
    const response = await f.engine.recordTransaction(
      recordRequest({
        account_tag: '1000',
        destination_account_tag: '1001',
        destination: DESTINATION,
        authorized: false,
        unauthorized_reason: 'BALANCE_INSUFFICIENT',
        timestamp_begin: NOW,
        timestamp_end: NOW,
        sip_status: 486,
        end_reason: 'failed',
      }),
    );
    assert.deepEqual(response, OK);
    const caller = await f.getTransaction('100', '1000');
    const callee = await f.getTransaction('100', '1001');
    assert.equal(caller?.fee, 0);
    assert.deepEqual(caller?.tags, []);
    assert.equal(caller?.unauthorized_reason, 'BALANCE_INSUFFICIENT');
    assert.equal(caller?.sip_status, 486);
    assert.equal(caller?.end_reason, 'failed');
    assert.equal(callee?.inbound, true);
    assert.equal(callee?.primary, true);
    assert.equal((await f.getAccount('1000'))?.balance, 100);
  });

  test('a record settles a call that was begun: its running transaction is removed', async () => {
    await f.account('1000', { balance: 100 });
    await f.engine.beginTransaction(beginRequest({ account_tag: '1000', destination: DESTINATION, timestamp_begin: NOW }));
    await f.engine.recordTransaction(recordRequest({ account_tag: '1000', destination: DESTINATION, timestamp_begin: NOW, timestamp_end: NOW + 2 * SECOND }));
    assert.deepEqual(await f.running('1000'), []);
    assert.deepEqual(await f.engine.endTransaction(endRequest({ account_tag: '1000', timestamp_end: NOW + 60 * SECOND })), OK);
    assert.equal((await f.getAccount('1000'))?.balance, 98);
  });

  test('charges linked accounts too', async () => {
    await f.account('parent', { balance: 100 });
    await f.account('1000', { balance: 100, linked_accounts: ['parent'] });
    await f.engine.recordTransaction(recordRequest({ account_tag: '1000', destination: DESTINATION, timestamp_begin: NOW, timestamp_end: NOW + 4 * SECOND }));
    assert.equal((await f.getAccount('1000'))?.balance, 96);
    assert.equal((await f.getAccount('parent'))?.balance, 96);
    assert.equal((await f.getTransaction('100', 'parent'))?.primary, false);
  });
});

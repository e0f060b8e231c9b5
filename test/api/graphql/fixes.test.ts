// Deliberate fixes of Canyan's API quirks (rating.md §8.22-30) and input validation.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from './harness.ts';

async function withApi(work: (h: Harness) => Promise<void>): Promise<void> {
  const h = await startHarness();
  try {
    await work(h);
  } finally {
    await h.close();
  }
}

async function refused(h: Harness, query: string, message: RegExp, variables?: Record<string, unknown>): Promise<void> {
  const response = await h.gql(query, variables);
  assert.equal(response.status, 400, JSON.stringify(response.body));
  const messages = (response.body.errors ?? []).map((e) => e.message);
  assert.ok(messages.some((m) => message.test(m)), `expected ${String(message)} in ${JSON.stringify(messages)}`);
}

describe('BigInt', () => {
  test('money beyond int32 round-trips as integers on accounts, transactions and rates', () =>
    withApi(async (h) => {
      const data = await h.ok(`mutation {
        upsertAccount(account_tag: "1000", type: PREPAID, balance: -5000000000) { balance }
        upsertCarrier(carrier_tag: "C") { id }
        upsertPricelist(pricelist_tag: "P") { id }
        upsertPricelistRate(pricelist_tag: "P", carrier_tag: "C", prefix: "39", connect_fee: 3000000000, rate: 4000000000) { connect_fee rate }
        upsertTransaction(transaction_tag: "t", account_tag: "1000", fee: 5000000000) { fee }
        commitAccountTransaction(account_tag: "1000", transaction_tag: "none", fee: 3000000000) { ok }
      }`);
      assert.deepEqual(data, {
        upsertAccount: { balance: -5000000000 },
        upsertCarrier: { id: (data.upsertCarrier as { id: string }).id },
        upsertPricelist: { id: (data.upsertPricelist as { id: string }).id },
        upsertPricelistRate: { connect_fee: 3000000000, rate: 4000000000 },
        upsertTransaction: { fee: 5000000000 },
        commitAccountTransaction: { ok: false },
      });
    }));

  test('inputs outside the safe range or not integers are refused, nothing written', () =>
    withApi(async (h) => {
      await refused(h, 'mutation { upsertAccount(account_tag: "1", type: PREPAID, balance: 9007199254740993) { id } }', /BigInt cannot represent/);
      await refused(h, 'mutation { upsertAccount(account_tag: "1", type: PREPAID, balance: 1.5) { id } }', /BigInt cannot represent a non-integer/);
      await refused(h, 'mutation ($b: BigInt) { upsertAccount(account_tag: "1", type: PREPAID, balance: $b) { id } }', /BigInt cannot represent/, { b: 12.5 });
      await refused(h, 'mutation ($b: BigInt) { upsertAccount(account_tag: "1", type: PREPAID, balance: $b) { id } }', /BigInt cannot represent/, { b: 'lots' });
      const fromString = await h.ok('mutation ($b: BigInt) { upsertAccount(account_tag: "2", type: PREPAID, balance: $b) { balance } }', { b: '42' });
      assert.deepEqual(fromString, { upsertAccount: { balance: 42 } });
      assert.deepEqual(await h.ok('{ _allAccountsMeta { count } }'), { _allAccountsMeta: { count: 1 } });
    }));
});

describe('upsert fixes', () => {
  test('an update by id without tenant keeps the stored tenant (§8.24)', () =>
    withApi(async (h) => {
      const created = await h.ok('mutation { upsertAccount(tenant: "acme", account_tag: "1000", type: PREPAID) { id tenant } }');
      const id = (created.upsertAccount as { id: string }).id;
      const updated = await h.ok(`mutation { updateAccount(id: "${id}", type: POSTPAID, name: "renamed") { tenant type name } }`);
      assert.deepEqual(updated, { updateAccount: { tenant: 'acme', type: 'POSTPAID', name: 'renamed' } });
      const moved = await h.ok(`mutation { updateAccount(id: "${id}", tenant: "other", type: POSTPAID) { tenant } }`);
      assert.deepEqual(moved, { updateAccount: { tenant: 'other' } });
    }));

  test('active defaults to true only on insert; an update without it keeps it (§8.24)', () =>
    withApi(async (h) => {
      await h.ok(`mutation {
        upsertAccount(account_tag: "1000", type: PREPAID, active: false) { id }
        upsertCarrier(carrier_tag: "C", active: false) { id }
        upsertCustomer(customer_tag: "CU", active: false) { id }
        upsertSeller(seller_tag: "S", active: false) { id }
        upsertPricelist(pricelist_tag: "P") { id }
        upsertPricelistRate(pricelist_tag: "P", carrier_tag: "C", prefix: "39", active: false) { id }
      }`);
      const updated = await h.ok(`mutation {
        upsertAccount(account_tag: "1000", type: PREPAID, name: "x") { active }
        upsertCarrier(carrier_tag: "C", host: "h") { active }
        upsertCustomer(customer_tag: "CU", city: "Roma") { active }
        upsertSeller(seller_tag: "S", city: "Roma") { active }
        upsertPricelistRate(pricelist_tag: "P", carrier_tag: "C", prefix: "39", rate: 2) { active }
      }`);
      assert.deepEqual(updated, {
        upsertAccount: { active: false },
        upsertCarrier: { active: false },
        upsertCustomer: { active: false },
        upsertSeller: { active: false },
        upsertPricelistRate: { active: false },
      });
      const fresh = await h.ok('mutation { upsertAccount(account_tag: "new", type: PREPAID) { active balance } upsertCarrier(carrier_tag: "new") { active } }');
      assert.deepEqual(fresh, { upsertAccount: { active: true, balance: 0 }, upsertCarrier: { active: true } });
    }));

  test('transaction upserts keep primary and inbound when not passed (§8.24)', () =>
    withApi(async (h) => {
      await h.ok('mutation { upsertAccount(account_tag: "1000", type: PREPAID) { id } }');
      await h.ok('mutation { upsertTransaction(transaction_tag: "t", account_tag: "1000", primary: true, inbound: true) { id } }');
      const updated = await h.ok('mutation { upsertTransaction(transaction_tag: "t", account_tag: "1000", fee: 3) { primary inbound fee } }');
      assert.deepEqual(updated, { upsertTransaction: { primary: true, inbound: true, fee: 3 } });
      const fresh = await h.ok('mutation { upsertTransaction(transaction_tag: "u", account_tag: "1000") { primary inbound } }');
      assert.deepEqual(fresh, { upsertTransaction: { primary: false, inbound: false } });
    }));

  test('Account.customer_tag returns the tag (§8.22)', () =>
    withApi(async (h) => {
      await h.ok('mutation { upsertCustomer(customer_tag: "CU") { id } }');
      const data = await h.ok('mutation { upsertAccount(account_tag: "1000", type: PREPAID, customer_tag: "CU") { customer_tag } }');
      assert.deepEqual(data, { upsertAccount: { customer_tag: 'CU' } });
    }));

  test('a duplicate natural key is a GraphQL error and changes nothing', () =>
    withApi(async (h) => {
      await h.ok('mutation { a: upsertAccount(account_tag: "1000", type: PREPAID) { id } b: upsertAccount(account_tag: "1001", type: PREPAID) { id } }');
      const first = await h.ok('{ Account(account_tag: "1000") { id } }');
      const id = (first.Account as { id: string }).id;
      await refused(h, `mutation { upsertAccount(id: "${id}", account_tag: "1001", type: PREPAID) { id } }`, /^Duplicate key: another account already has/);
      assert.deepEqual(await h.ok(`{ Account(id: "${id}") { account_tag } }`), { Account: { account_tag: '1000' } });
    }));

  test('creating by a new id needs the natural key', () =>
    withApi(async (h) => {
      await refused(h, 'mutation { upsertAccount(id: "new-id", type: PREPAID, balance: 5) { id } }', /Cannot create account new-id: account_tag required/);
      await refused(h, 'mutation { upsertInvoice(invoice_number: "1") { id } }', /Cannot create invoice: invoice_date required/);
      const created = await h.ok('mutation { upsertAccount(id: "new-id", account_tag: "9", type: PREPAID) { id tenant } }');
      assert.deepEqual(created, { upsertAccount: { id: 'new-id', tenant: 'default' } });
    }));
});

describe('account transaction fixes', () => {
  test('beginAccountTransaction returns the transaction just added (§8.23); a repeated tag is refused', () =>
    withApi(async (h) => {
      await h.ok('mutation { upsertAccount(account_tag: "1000", type: PREPAID) { id } }');
      const begin = (tag: string) =>
        `mutation { beginAccountTransaction(account_tag: "1000", transaction: { transaction_tag: "${tag}", destination: "39", timestamp_begin: "2019-02-05T20:00:00.25Z", inbound: true, primary: true }) { ok transaction { transaction_tag timestamp_begin inbound primary } } }`;
      await h.ok(begin('first'));
      const second = await h.ok(begin('second'));
      assert.deepEqual(second, {
        beginAccountTransaction: {
          ok: true,
          transaction: { transaction_tag: 'second', timestamp_begin: '2019-02-05T20:00:00.250000', inbound: true, primary: true },
        },
      });
      await refused(h, begin('second'), /already has a running transaction with tag second/);
      const running = await h.ok('{ Account(account_tag: "1000") { running_transactions { transaction_tag } } }');
      assert.deepEqual(running, { Account: { running_transactions: [{ transaction_tag: 'first' }, { transaction_tag: 'second' }] } });
    }));

  test('endAccountTransaction without timestamp_end ends at the API clock', () =>
    withApi(async (h) => {
      await h.ok('mutation { upsertAccount(account_tag: "1000", type: PREPAID) { id } }');
      await h.ok('mutation { beginAccountTransaction(account_tag: "1000", transaction: { transaction_tag: "t", destination: "39", timestamp_begin: "2019-02-05T19:00:00Z" }) { ok } }');
      h.now.micros = Date.UTC(2019, 1, 5, 19, 30, 0) * 1000;
      const ended = await h.ok('mutation { endAccountTransaction(account_tag: "1000", transaction_tag: "t") { ok transaction { timestamp_end in_progress } } }');
      assert.deepEqual(ended, { endAccountTransaction: { ok: true, transaction: { timestamp_end: '2019-02-05T19:30:00', in_progress: false } } });
    }));

  test('commit and balance mutations need their amounts', () =>
    withApi(async (h) => {
      await refused(h, 'mutation { commitAccountTransaction(account_tag: "1000", transaction_tag: "t") { ok } }', /^fee is required$/);
      await refused(h, 'mutation { setAccountBalance(account_tag: "1000") { ok } }', /^balance is required$/);
    }));
});

describe('references to deleted records resolve to null (§8.28)', () => {
  test('lists keep working after a referenced record is deleted', () =>
    withApi(async (h) => {
      await h.ok(`mutation {
        upsertCustomer(customer_tag: "CU") { id }
        upsertAccount(account_tag: "1000", type: PREPAID, customer_tag: "CU") { id }
        upsertInvoice(invoice_number: "I1", invoice_date: "2019-08-01", customer_tag: "CU") { id }
        upsertTransaction(transaction_tag: "t", account_tag: "1000", invoice_number: "I1") { id }
        upsertCarrier(carrier_tag: "C") { id }
        upsertPricelist(pricelist_tag: "P") { id }
        upsertPricelistRate(pricelist_tag: "P", carrier_tag: "C", prefix: "39") { id }
      }`);
      await h.ok(`mutation {
        deleteCustomer(customer_tag: "CU") { id }
        deleteAccount(account_tag: "1000") { id }
        deleteInvoice(invoice_number: "I1") { id }
        deleteCarrier(carrier_tag: "C") { id }
        deletePricelist(pricelist_tag: "P") { id }
      }`);
      const data = await h.ok(`{
        allTransactions { transaction_tag account { id } invoice { id } }
        allPricelistRates { prefix pricelist_id carrier_id }
      }`);
      assert.deepEqual(data, {
        allTransactions: [{ transaction_tag: 't', account: null, invoice: null }],
        allPricelistRates: [{ prefix: '39', pricelist_id: null, carrier_id: null }],
      });
    }));
});

describe('input validation', () => {
  test('invalid values are clear GraphQL errors and nothing is written', () =>
    withApi(async (h) => {
      await h.ok('mutation { upsertCarrier(carrier_tag: "C") { id } upsertPricelist(pricelist_tag: "P") { id } }');
      const rate = (extra: string) => `mutation { upsertPricelistRate(pricelist_tag: "P", carrier_tag: "C", prefix: "39", ${extra}) { id } }`;
      await refused(h, rate('rate_increment: 0'), /^rate_increment must be a positive integer \(got 0\)$/);
      await refused(h, rate('rate_increment: -60'), /^rate_increment must be a positive integer/);
      await refused(h, rate('connect_fee: -1'), /^connect_fee must not be negative/);
      await refused(h, rate('rate: -1'), /^rate must not be negative/);
      await refused(h, rate('interval_start: -1'), /^interval_start must not be negative/);
      await refused(h, rate('datetime_start: "2019-13-01T00:00:00Z"'), /DateTime cannot represent "2019-13-01T00:00:00Z"/);
      await refused(h, rate('datetime_end: "yesterday"'), /DateTime cannot represent/);
      await refused(h, 'mutation { upsertAccount(account_tag: "1", type: GOLD) { id } }', /GOLD/);
      await refused(h, 'mutation ($t: AccountType!) { upsertAccount(account_tag: "1", type: $t) { id } }', /GOLD/, { t: 'GOLD' });
      await refused(h, 'mutation { upsertCarrier(carrier_tag: "X", protocol: SCTP) { id } }', /SCTP/);
      await refused(h, 'mutation { upsertCarrier(carrier_tag: "X", port: 70000) { id } }', /port must be between 0 and 65535/);
      await refused(h, 'mutation { upsertInvoice(invoice_number: "1", invoice_date: "2019-02-30") { id } }', /Date cannot represent "2019-02-30"/);
      await refused(h, 'mutation { upsertAccount(account_tag: "1", type: PREPAID, max_concurrent_transactions: -1) { id } }', /max_concurrent_transactions must not be negative/);
      await refused(
        h,
        'mutation { upsertAccount(account_tag: "1", type: PREPAID) { id } beginAccountTransaction(account_tag: "1", transaction: { transaction_tag: "t", destination: "39", timestamp_begin: "2019-02-05T20:00:00Z", destination_rate: { pricelist_tag: "P", prefix: "39", rate_increment: -1 } }) { ok } }',
        /destination_rate.rate_increment must not be negative/,
      );
      const counts = await h.ok('{ _allPricelistRatesMeta { count } _allInvoicesMeta { count } c: _allCarriersMeta { count } a: Account(account_tag: "1") { running_transactions { transaction_tag } } }');
      assert.deepEqual(counts, {
        _allPricelistRatesMeta: { count: 0 },
        _allInvoicesMeta: { count: 0 },
        c: { count: 1 },
        a: { running_transactions: [] },
      });
    }));

  test('frozen copies accept rate_increment 0, which the Canyan engine sends for a missing increment', () =>
    withApi(async (h) => {
      await h.ok('mutation { upsertAccount(account_tag: "1000", type: PREPAID) { id } }');
      const data = await h.ok(`mutation { beginAccountTransaction(account_tag: "1000", transaction: { transaction_tag: "t", destination: "39",
        timestamp_begin: "2019-02-05T20:00:00Z", destination_rate: { pricelist_tag: "", prefix: "", connect_fee: 0, rate: 0, rate_increment: 0, interval_start: 0 } }) {
        ok transaction { destination_rate { rate_increment } } } }`);
      assert.deepEqual(data, { beginAccountTransaction: { ok: true, transaction: { destination_rate: { rate_increment: 0 } } } });
    }));

  test('DateTime accepts basic and extended ISO with offsets and prints naive UTC', () =>
    withApi(async (h) => {
      await h.ok('mutation { upsertAccount(account_tag: "1000", type: PREPAID) { id } }');
      const data = await h.ok(`mutation {
        a: upsertTransaction(transaction_tag: "a", account_tag: "1000", timestamp_begin: "2019-02-05T21:00:00+01:00", timestamp_end: "20190205T200010Z") { timestamp_begin timestamp_end timestamp_auth }
        b: upsertTransaction(transaction_tag: "b", account_tag: "1000", timestamp_begin: "2019-02-05T20:00:00.123456Z") { timestamp_begin }
      }`);
      assert.deepEqual(data, {
        a: { timestamp_begin: '2019-02-05T20:00:00', timestamp_end: '2019-02-05T20:00:10', timestamp_auth: null },
        b: { timestamp_begin: '2019-02-05T20:00:00.123456' },
      });
    }));
});

describe('computed views', () => {
  test('linked accounts never show id, customer or customer_tag (as in Canyan)', () =>
    withApi(async (h) => {
      await h.ok(`mutation {
        upsertCustomer(customer_tag: "CU") { id }
        a: upsertAccount(account_tag: "1001", type: PREPAID, customer_tag: "CU") { id }
        b: upsertAccount(account_tag: "1000", type: PREPAID, linked_accounts: ["1001"]) { id }
      }`);
      const data = await h.ok('{ Account(account_tag: "1000") { linked_accounts { id account_tag customer_tag customer { id } destination_rate { id } } } }');
      assert.deepEqual(data, {
        Account: { linked_accounts: [{ id: null, account_tag: '1001', customer_tag: null, customer: null, destination_rate: null }] },
      });
    }));

  test('a transaction shows its frozen rate as a PricelistRate of its tenant', () =>
    withApi(async (h) => {
      await h.ok(`mutation {
        upsertCarrier(carrier_tag: "C") { id }
        upsertPricelist(pricelist_tag: "P") { id }
        upsertAccount(account_tag: "1000", type: PREPAID) { id }
        upsertTransaction(transaction_tag: "t", account_tag: "1000",
          destination_rate: { pricelist_tag: "P", carrier_tag: "C", prefix: "39", rate: 5, rate_increment: 60 }) { id }
      }`);
      const ids = await h.ok('{ Carrier(carrier_tag: "C") { id } Pricelist(pricelist_tag: "P") { id } }');
      const data = await h.ok('{ Transaction(transaction_tag: "t", account_tag: "1000") { destination_rate { id tenant pricelist_tag pricelist_id carrier_id prefix rate rate_increment connect_fee interval_start active } } }');
      assert.deepEqual(data, {
        Transaction: {
          destination_rate: {
            id: null,
            tenant: 'default',
            pricelist_tag: 'P',
            pricelist_id: (ids.Pricelist as { id: string }).id,
            carrier_id: (ids.Carrier as { id: string }).id,
            prefix: '39',
            rate: 5,
            rate_increment: 60,
            connect_fee: null,
            interval_start: null,
            active: null,
          },
        },
      });
    }));
});

// Canyan's API test vectors (rating.md §7.6), each on a fresh database.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from './harness.ts';

const ID = '469f8e15-0f5b-4a8f-9c1e-c52d2d491b24';

async function withApi(work: (h: Harness) => Promise<void>): Promise<void> {
  const h = await startHarness();
  try {
    await work(h);
  } finally {
    await h.close();
  }
}

async function expectError(h: Harness, query: string, message: string | RegExp): Promise<Record<string, unknown> | null | undefined> {
  const response = await h.gql(query);
  assert.equal(response.status, 400, JSON.stringify(response.body));
  const messages = (response.body.errors ?? []).map((e) => e.message);
  assert.ok(
    messages.some((m) => (typeof message === 'string' ? m === message : message.test(m))),
    `expected ${String(message)} in ${JSON.stringify(messages)}`,
  );
  return response.body.data;
}

const ACCOUNT_1000 = `upsertAccount(id: "${ID}", tenant: "default", account_tag: "1000", name: "Fabio Tranchitella", type: PREPAID,
  balance: 100, pricelist_tags: ["ITALY", "ANTIFRAUD"], tags: ["account", "sample"], linked_accounts: [], customer_tag: "TESTS_C1")`;

describe('§7.6 accounts', () => {
  test('upsertAccount echoes its values, with the customer', () =>
    withApi(async (h) => {
      await h.ok('mutation { upsertCustomer(customer_tag: "TESTS_C1") { id } }');
      const data = await h.ok(`mutation { ${ACCOUNT_1000} { id tenant account_tag name type balance pricelist_tags tags linked_accounts { account_tag } customer { customer_tag } } }`);
      assert.deepEqual(data.upsertAccount, {
        id: ID,
        tenant: 'default',
        account_tag: '1000',
        name: 'Fabio Tranchitella',
        type: 'PREPAID',
        balance: 100,
        pricelist_tags: ['ITALY', 'ANTIFRAUD'],
        tags: ['account', 'sample'],
        linked_accounts: [],
        customer: { customer_tag: 'TESTS_C1' },
      });
    }));

  test('linked accounts resolve to the linked records', () =>
    withApi(async (h) => {
      await h.ok('mutation { upsertAccount(account_tag: "1001", name: "Alex Sosic", type: PREPAID) { id } }');
      await h.ok('mutation { upsertAccount(account_tag: "1002", name: "John Doe", type: POSTPAID) { id } }');
      const data = await h.ok(
        'mutation { upsertAccount(account_tag: "1000", type: PREPAID, linked_accounts: ["1001", "1002", "missing"]) { linked_accounts { account_tag name type } } }',
      );
      assert.deepEqual(data.upsertAccount, {
        linked_accounts: [
          { account_tag: '1001', name: 'Alex Sosic', type: 'PREPAID' },
          { account_tag: '1002', name: 'John Doe', type: 'POSTPAID' },
        ],
      });
    }));

  test('an unknown customer_tag is refused', () =>
    withApi(async (h) => {
      await expectError(
        h,
        'mutation { upsertAccount(account_tag: "1000", type: PREPAID, customer_tag: "NOPE") { id } }',
        'Customer with tag = NOPE not found in tenant default!',
      );
      assert.deepEqual(await h.ok('{ _allAccountsMeta { count } }'), { _allAccountsMeta: { count: 0 } });
    }));

  test('getters, upserts and deletes need the id or the complete natural key', () =>
    withApi(async (h) => {
      const cases: [string, string][] = [
        ['{ Account(tenant: "default") { id } }', 'Provide either the id or tenant and account_tag!'],
        ['mutation { upsertAccount(tenant: "default", type: PREPAID) { id } }', 'Provide either the id or tenant and account_tag!'],
        ['mutation { deleteAccount(tenant: "default") { id } }', 'Provide either the id or tenant and account_tag!'],
        ['{ Carrier(tenant: "default") { id } }', 'Provide either the id or tenant and carrier_tag!'],
        ['mutation { upsertCarrier(host: "x") { id } }', 'Provide either the id or tenant and carrier_tag!'],
        ['mutation { deleteCarrier { id } }', 'Provide either the id or tenant and carrier_tag!'],
        ['{ Pricelist { id } }', 'Provide either the id or tenant and pricelist_tag!'],
        ['mutation { upsertPricelist(name: "x") { id } }', 'Provide either the id or tenant and pricelist_tag!'],
        ['{ Customer { id } }', 'Provide either the id or tenant and customer_tag!'],
        ['{ Seller { id } }', 'Provide either the id or tenant and seller_tag!'],
        ['{ Invoice { id } }', 'Provide either the id or tenant and invoice_number!'],
        ['{ PricelistRate(pricelist_tag: "P", prefix: "39") { id } }', 'Provide either the id or tenant, pricelist_tag, carrier_tag and prefix!'],
        ['mutation { upsertPricelistRate(pricelist_tag: "P", carrier_tag: "C") { id } }', 'Provide either the id or tenant, pricelist_tag, carrier_tag and prefix!'],
        ['mutation { deletePricelistRate(prefix: "39") { id } }', 'Provide either the id or tenant, pricelist_tag, carrier_tag and prefix!'],
        ['{ Transaction(transaction_tag: "100") { id } }', 'Provide either the id or tenant, transaction_tag and account_tag!'],
        ['mutation { upsertTransaction(account_tag: "1000") { id } }', 'Provide either the id or tenant, transaction_tag and account_tag!'],
        ['mutation { deleteTransaction(account_tag: "1000") { id } }', 'Provide either the id or tenant, transaction_tag and account_tag!'],
      ];
      for (const [query, message] of cases) await expectError(h, query, message);
    }));

  test('partial updates by id or by key keep the other fields', () =>
    withApi(async (h) => {
      await h.ok('mutation { upsertCustomer(customer_tag: "TESTS_C1") { id } }');
      await h.ok(`mutation { ${ACCOUNT_1000} { id } }`);
      const byId = await h.ok(`mutation { upsertAccount(id: "${ID}", type: PREPAID, balance: 200) { account_tag name balance tags pricelist_tags } }`);
      assert.deepEqual(byId.upsertAccount, {
        account_tag: '1000',
        name: 'Fabio Tranchitella',
        balance: 200,
        tags: ['account', 'sample'],
        pricelist_tags: ['ITALY', 'ANTIFRAUD'],
      });
      const byKey = await h.ok('mutation { updateAccount(tenant: "default", account_tag: "1000", type: PREPAID, balance: 250) { id name balance } }');
      assert.deepEqual(byKey.updateAccount, { id: ID, name: 'Fabio Tranchitella', balance: 250 });
    }));

  test('setAccountBalance and incrementAccountBalance', () =>
    withApi(async (h) => {
      await h.ok('mutation { upsertCustomer(customer_tag: "TESTS_C1") { id } }');
      await h.ok(`mutation { ${ACCOUNT_1000} { id } }`);
      const set = await h.ok('mutation { setAccountBalance(tenant: "default", account_tag: "1000", tags: ["account"], balance: 300) { ok } }');
      assert.deepEqual(set, { setAccountBalance: { ok: true } });
      assert.deepEqual(await h.ok('{ Account(account_tag: "1000") { balance } }'), { Account: { balance: 300 } });
      await h.ok('mutation { setAccountBalance(account_tag: "1000", balance: 100) { ok } }');
      const inc = await h.ok('mutation { incrementAccountBalance(tenant: "default", account_tag: "1000", tags: ["account"], balance: 300) { ok } }');
      assert.deepEqual(inc, { incrementAccountBalance: { ok: true } });
      assert.deepEqual(await h.ok('{ Account(account_tag: "1000") { balance } }'), { Account: { balance: 400 } });
      const none = await h.ok('mutation { setAccountBalance(account_tag: "1000", tags: ["other"], balance: 1) { ok } }');
      assert.deepEqual(none, { setAccountBalance: { ok: false } });
    }));

  test('deleteAccount returns the record; then the getter answers null with 200', () =>
    withApi(async (h) => {
      await h.ok('mutation { upsertCustomer(customer_tag: "TESTS_C1") { id } }');
      await h.ok(`mutation { ${ACCOUNT_1000} { id } }`);
      assert.deepEqual(await h.ok(`mutation { deleteAccount(id: "${ID}") { id } }`), { deleteAccount: { id: ID } });
      const after = await h.gql(`{ Account(id: "${ID}") { id } }`);
      assert.equal(after.status, 200);
      assert.deepEqual(after.body, { data: { Account: null } });
      assert.deepEqual(await h.ok(`mutation { deleteAccount(id: "${ID}") { id } }`), { deleteAccount: null });
    }));
});

describe('§7.6 destination rate and least-cost routing', () => {
  test('Account.destination_rate, least_cost_routing and linked accounts', () =>
    withApi(async (h) => {
      await h.ok(`mutation {
        a: upsertAccount(id: "${ID}", account_tag: "1000", type: PREPAID, pricelist_tags: ["ITALY", "ANTIFRAUD"], linked_accounts: ["1001"]) { id }
        b: upsertAccount(account_tag: "1001", type: PREPAID, pricelist_tags: ["ITALY", "ANTIFRAUD"]) { id }
        upsertCarrier(carrier_tag: "CARRIER_1", protocol: TCP, host: "carriers.canyan.io", port: 5061, active: true) { id }
        upsertPricelist(pricelist_tag: "ITALY") { id }
        upsertPricelistRate(pricelist_tag: "ITALY", carrier_tag: "CARRIER_1", prefix: "39", rate: 180, active: true) { id }
      }`);
      const rate = await h.ok('{ PricelistRate(pricelist_tag: "ITALY", carrier_tag: "CARRIER_1", prefix: "39") { id } }');
      const rateId = (rate.PricelistRate as { id: string }).id;
      const carrier = await h.ok('{ Carrier(carrier_tag: "CARRIER_1") { id } }');
      const carrierId = (carrier.Carrier as { id: string }).id;
      const data = await h.ok(`{ Account(id: "${ID}") {
        destination_rate(destination: "390401234567") { id rate pricelist_id carrier_id }
        least_cost_routing(destination: "390401234567") { id carrier_tag }
        linked_accounts { destination_rate(destination: "390401234567") { id rate } }
      } }`);
      const pricelist = await h.ok('{ Pricelist(pricelist_tag: "ITALY") { id } }');
      assert.deepEqual(data.Account, {
        destination_rate: { id: rateId, rate: 180, pricelist_id: (pricelist.Pricelist as { id: string }).id, carrier_id: carrierId },
        least_cost_routing: [{ id: carrierId, carrier_tag: 'CARRIER_1' }],
        linked_accounts: [{ destination_rate: { id: rateId, rate: 180 } }],
      });
      const unreachable = await h.ok(`{ Account(id: "${ID}") { destination_rate(destination: "490401234567") { id } least_cost_routing(destination: "490401234567") { id } } }`);
      assert.deepEqual(unreachable.Account, { destination_rate: null, least_cost_routing: [] });
    }));

  test('leastCostRouting query, with and without carrier_tags', () =>
    withApi(async (h) => {
      await h.ok(`mutation {
        upsertCarrier(carrier_tag: "TESTS_C1", protocol: UDP, host: "carrier1.canyan.io", port: 5060) { id }
        upsertPricelist(pricelist_tag: "TESTS_P1") { id }
        upsertPricelistRate(pricelist_tag: "TESTS_P1", carrier_tag: "TESTS_C1", prefix: "39", rate: 1) { id }
      }`);
      const q = (extra: string) => `{ leastCostRouting(tenant: "default", destination: "393292166164"${extra}) { carrier_tag } }`;
      assert.deepEqual(await h.ok(q('')), { leastCostRouting: [{ carrier_tag: 'TESTS_C1' }] });
      assert.deepEqual(await h.ok(q(', carrier_tags: ["TESTS_C1"]')), { leastCostRouting: [{ carrier_tag: 'TESTS_C1' }] });
      assert.deepEqual(await h.ok(q(', carrier_tags: ["TESTS_C2"]')), { leastCostRouting: [] });
    }));
});

const BEGIN_100 = `beginAccountTransaction(tenant: "default", account_tag: "1000", transaction: {
  destination_rate: { pricelist_tag: "39329_ITALY_MOBILE_WIND_0", prefix: "39329", connect_fee: 0, rate: 0, rate_increment: 1, interval_start: 0, carrier_tag: "TELECOM" },
  transaction_tag: "100", proxy_tag: "1111", source: "39040123123", source_ip: "1.2.3.4", destination: "393292166164",
  carrier_ip: "5.6.7.8", tags: ["A", "B"], timestamp_begin: "20190205T200000Z" })`;

const RUNNING_FIELDS = `transaction_tag proxy_tag source source_ip destination carrier_ip tags in_progress inbound primary timestamp_begin timestamp_end
  destination_rate { pricelist_tag prefix connect_fee rate rate_increment interval_start carrier_tag }`;

describe('§7.6 running transactions', () => {
  test('begin, read, filter, end, commit', () =>
    withApi(async (h) => {
      await h.ok('mutation { upsertAccount(account_tag: "1000", name: "Fabio", type: PREPAID, balance: 100) { id } }');
      const begun = await h.ok(`mutation { ${BEGIN_100} { ok transaction { transaction_tag } } }`);
      assert.deepEqual(begun, { beginAccountTransaction: { ok: true, transaction: { transaction_tag: '100' } } });
      const expected = {
        transaction_tag: '100',
        proxy_tag: '1111',
        source: '39040123123',
        source_ip: '1.2.3.4',
        destination: '393292166164',
        carrier_ip: '5.6.7.8',
        tags: ['A', 'B'],
        in_progress: true,
        inbound: false,
        primary: false,
        timestamp_begin: '2019-02-05T20:00:00',
        timestamp_end: null,
        destination_rate: {
          pricelist_tag: '39329_ITALY_MOBILE_WIND_0',
          prefix: '39329',
          connect_fee: 0,
          rate: 0,
          rate_increment: 1,
          interval_start: 0,
          carrier_tag: 'TELECOM',
        },
      };
      const account = await h.ok(`{ Account(account_tag: "1000") { running_transactions { ${RUNNING_FIELDS} } } }`);
      assert.deepEqual(account.Account, { running_transactions: [expected] });
      const single = await h.ok(`{ AccountTransaction(tenant: "default", account_tag: "1000", transaction_tag: "100") { ${RUNNING_FIELDS} } }`);
      assert.deepEqual(single.AccountTransaction, expected);
      assert.deepEqual(await h.ok('{ AccountTransaction(account_tag: "1000", transaction_tag: "nope") { transaction_tag } }'), {
        AccountTransaction: null,
      });

      // Three hours after the begin the transaction counts as long running.
      h.now.micros = Date.UTC(2019, 1, 6, 0, 0, 0) * 1000;
      const meta = await h.ok('{ _allAccountsMeta(filter: { with_running_transactions: true, with_long_running_transactions: true }) { count } }');
      assert.deepEqual(meta, { _allAccountsMeta: { count: 1 } });
      h.now.micros = Date.UTC(2019, 1, 5, 22, 0, 0) * 1000;
      const notYet = await h.ok('{ _allAccountsMeta(filter: { with_long_running_transactions: true }) { count } }');
      assert.deepEqual(notYet, { _allAccountsMeta: { count: 0 } });

      const ended = await h.ok(
        'mutation { endAccountTransaction(tenant: "default", account_tag: "1000", transaction_tag: "100", timestamp_end: "20190205T200010Z") { ok transaction { in_progress timestamp_end } } }',
      );
      assert.deepEqual(ended, {
        endAccountTransaction: { ok: true, transaction: { in_progress: false, timestamp_end: '2019-02-05T20:00:10' } },
      });
      const running = await h.ok('{ _allAccountsMeta(filter: { with_running_transactions: true }) { count } }');
      assert.deepEqual(running, { _allAccountsMeta: { count: 0 } });

      const committed = await h.ok('mutation { commitAccountTransaction(tenant: "default", account_tag: "1000", transaction_tag: "100", fee: 10) { ok } }');
      assert.deepEqual(committed, { commitAccountTransaction: { ok: true } });
      assert.deepEqual(await h.ok('{ Account(account_tag: "1000") { balance running_transactions { transaction_tag } } }'), {
        Account: { balance: 90, running_transactions: [] },
      });
    }));

  test('rollback removes the running transaction and keeps the balance', () =>
    withApi(async (h) => {
      await h.ok('mutation { upsertAccount(account_tag: "1000", type: PREPAID, balance: 100) { id } }');
      await h.ok(`mutation { ${BEGIN_100} { ok } }`);
      const rolled = await h.ok('mutation { rollbackAccountTransaction(tenant: "default", account_tag: "1000", transaction_tag: "100") { ok } }');
      assert.deepEqual(rolled, { rollbackAccountTransaction: { ok: true } });
      assert.deepEqual(await h.ok('{ Account(account_tag: "1000") { balance running_transactions { transaction_tag } } }'), {
        Account: { balance: 100, running_transactions: [] },
      });
    }));

  test('unknown accounts or transactions', () =>
    withApi(async (h) => {
      const begin = await h.gql(`mutation { ${BEGIN_100} { ok transaction { transaction_tag } } }`);
      assert.equal(begin.status, 200);
      assert.deepEqual(begin.body, { data: { beginAccountTransaction: { ok: null, transaction: null } } });
      await h.ok('mutation { upsertAccount(account_tag: "1000", type: PREPAID, balance: 100) { id } }');
      const end = await h.gql('mutation { endAccountTransaction(account_tag: "1000", transaction_tag: "100", timestamp_end: "20190205T200010Z") { ok transaction { transaction_tag } } }');
      assert.equal(end.status, 200);
      assert.deepEqual(end.body, { data: { endAccountTransaction: { ok: null, transaction: null } } });
      assert.deepEqual(await h.ok('mutation { commitAccountTransaction(account_tag: "1000", transaction_tag: "100", fee: 10) { ok } }'), {
        commitAccountTransaction: { ok: false },
      });
      assert.deepEqual(await h.ok('mutation { rollbackAccountTransaction(account_tag: "1000", transaction_tag: "100") { ok } }'), {
        rollbackAccountTransaction: { ok: false },
      });
      assert.deepEqual(await h.ok('{ Account(account_tag: "1000") { balance } }'), { Account: { balance: 100 } });
    }));
});

async function seedLists(h: Harness): Promise<void> {
  await h.ok(`mutation {
    upsertCustomer(customer_tag: "100", company_name: "Canyan") { id }
    upsertAccount(id: "${ID}", tenant: "default", account_tag: "1000", name: "Fabio Tranchitella", type: PREPAID, active: true) { id }
    upsertCarrier(id: "${ID}", carrier_tag: "TESTS_C1", host: "carriers.canyan.io", port: 5060, protocol: UDP) { id }
    upsertPricelist(id: "${ID}", pricelist_tag: "TESTS_P1") { id }
    upsertPricelistRate(id: "${ID}", tenant: "default", pricelist_tag: "TESTS_P1", carrier_tag: "TESTS_C1", prefix: "39", rate: 180) { id }
    upsertInvoice(id: "${ID}", invoice_number: "2019/001", invoice_date: "2019-08-01", customer_tag: "100") { id }
    upsertTransaction(id: "${ID}", transaction_tag: "100", account_tag: "1000", invoice_number: "2019/001", inbound: true, primary: true) { id }
  }`);
}

describe('§7.6 lists', () => {
  test('filters of every entity match the seeded record', () =>
    withApi(async (h) => {
      await seedLists(h);
      const data = await h.ok(`{
        ids: allAccounts(filter: { ids: ["${ID}"] }) { id }
        accounts: _allAccountsMeta(filter: { id: "${ID}", tenant: "default", account_tag: "1000", type: PREPAID, active: true, q: "Fabio" }) { count }
        transactions: _allTransactionsMeta(filter: { id: "${ID}", tenant: "default", transaction_tag: "100", account_tag: "1000", invoice_number: "2019/001", q: "1000", inbound: true, primary: true }) { count }
        ratesByTag: _allPricelistRatesMeta(filter: { id: "${ID}", tenant: "default", pricelist_tag: "TESTS_P1", carrier_tag: "TESTS_C1", prefix: "39", q: "39", active: true }) { count }
        ratesById: _allPricelistRatesMeta(filter: { id: "${ID}", tenant: "default", pricelist_id: "${ID}", carrier_id: "${ID}", prefix: "39", q: "39", active: true }) { count }
        carriers: _allCarriersMeta(filter: { id: "${ID}", tenant: "default", carrier_tag: "TESTS_C1", q: "carriers.canyan.io" }) { count }
        invoices: _allInvoicesMeta(filter: { id: "${ID}", tenant: "default", invoice_number: "2019/001", invoice_date: "2019-08-01", q: "2019" }) { count }
      }`);
      assert.deepEqual(data, {
        ids: [{ id: ID }],
        accounts: { count: 1 },
        transactions: { count: 1 },
        ratesByTag: { count: 1 },
        ratesById: { count: 1 },
        carriers: { count: 1 },
        invoices: { count: 1 },
      });
      const misses = await h.ok(`{
        a: _allAccountsMeta(filter: { q: "nobody" }) { count }
        t: _allTransactionsMeta(filter: { inbound: false }) { count }
        r: _allPricelistRatesMeta(filter: { prefix: "3" }) { count }
        c: _allCarriersMeta(filter: { tenant: "other" }) { count }
        i: _allInvoicesMeta(filter: { invoice_date: "2019-08-02" }) { count }
      }`);
      assert.deepEqual(misses, { a: { count: 0 }, t: { count: 0 }, r: { count: 0 }, c: { count: 0 }, i: { count: 0 } });
    }));
});

describe('§7.6 pricelist rates', () => {
  test('upsert by id, missing references, partial update by id and by key', () =>
    withApi(async (h) => {
      await h.ok('mutation { upsertCarrier(carrier_tag: "TESTS_C1") { id } upsertPricelist(pricelist_tag: "TESTS_P1") { id } }');
      const created = await h.ok(
        `mutation { upsertPricelistRate(id: "${ID}", tenant: "default", pricelist_tag: "TESTS_P1", carrier_tag: "TESTS_C1", prefix: "39", rate: 180) { id } }`,
      );
      assert.deepEqual(created, { upsertPricelistRate: { id: ID } });
      await expectError(
        h,
        'mutation { upsertPricelistRate(pricelist_tag: "NOPE", carrier_tag: "TESTS_C1", prefix: "39") { id } }',
        'Price list with id = None and tag = NOPE not found in tenant default!',
      );
      await expectError(
        h,
        'mutation { upsertPricelistRate(pricelist_tag: "TESTS_P1", carrier_tag: "NOPE", prefix: "39") { id } }',
        'Carrier with id = None and tag = NOPE not found in tenant default!',
      );
      const fields = 'id tenant pricelist_tag carrier_tag prefix rate active';
      const byId = await h.ok(`mutation { upsertPricelistRate(id: "${ID}", active: false) { ${fields} } }`);
      assert.deepEqual(byId.upsertPricelistRate, {
        id: ID, tenant: 'default', pricelist_tag: 'TESTS_P1', carrier_tag: 'TESTS_C1', prefix: '39', rate: 180, active: false,
      });
      const byKey = await h.ok(
        `mutation { upsertPricelistRate(tenant: "default", pricelist_tag: "TESTS_P1", carrier_tag: "TESTS_C1", prefix: "39", active: true) { ${fields} } }`,
      );
      assert.deepEqual(byKey.upsertPricelistRate, {
        id: ID, tenant: 'default', pricelist_tag: 'TESTS_P1', carrier_tag: 'TESTS_C1', prefix: '39', rate: 180, active: true,
      });
      assert.deepEqual(await h.ok('{ _allPricelistRatesMeta { count } }'), { _allPricelistRatesMeta: { count: 1 } });
    }));
});

describe('§7.6 transactions and invoices', () => {
  test('upsertTransaction needs an existing account and invoice', () =>
    withApi(async (h) => {
      await expectError(
        h,
        `mutation { upsertTransaction(id: "${ID}", tenant: "default", transaction_tag: "100", account_tag: "1000") { id } }`,
        'Account with id = 1000 not found in tenant default!',
      );
      await h.ok('mutation { upsertAccount(account_tag: "1000", type: PREPAID) { id } }');
      await expectError(
        h,
        `mutation { upsertTransaction(id: "${ID}", transaction_tag: "100", account_tag: "1000", invoice_number: "2019/001") { id } }`,
        'Invoice with number = 2019/001 not found in tenant default!',
      );
      assert.deepEqual(await h.ok('{ _allTransactionsMeta { count } }'), { _allTransactionsMeta: { count: 0 } });
    }));

  test('partial updates, invoice reference, deletes', () =>
    withApi(async (h) => {
      await seedLists(h);
      await h.ok(`mutation { upsertTransaction(id: "${ID}", source: "1000", destination: "393292166164", tags: ["T1"]) { id } }`);
      const byId = await h.ok(`mutation { upsertTransaction(id: "${ID}", duration: 10, fee: 100) { transaction_tag account_tag source destination tags duration fee inbound primary } }`);
      assert.deepEqual(byId.upsertTransaction, {
        transaction_tag: '100', account_tag: '1000', source: '1000', destination: '393292166164', tags: ['T1'],
        duration: 10, fee: 100, inbound: true, primary: true,
      });
      const byKey = await h.ok('mutation { upsertTransaction(tenant: "default", transaction_tag: "100", account_tag: "1000", duration: 20) { id duration fee } }');
      assert.deepEqual(byKey.upsertTransaction, { id: ID, duration: 20, fee: 100 });
      const invoice = await h.ok(`{ Transaction(id: "${ID}") { invoice { invoice_number invoice_date } account { account_tag } } }`);
      assert.deepEqual(invoice.Transaction, { invoice: { invoice_number: '2019/001', invoice_date: '2019-08-01' }, account: { account_tag: '1000' } });

      assert.deepEqual(await h.ok(`mutation { deleteTransaction(id: "${ID}") { id } }`), { deleteTransaction: { id: ID } });
      assert.deepEqual(await h.ok(`{ Transaction(id: "${ID}") { id } }`), { Transaction: null });
      await h.ok('mutation { upsertTransaction(transaction_tag: "101", account_tag: "1000") { id } }');
      const deleted = await h.ok('mutation { deleteTransaction(tenant: "default", transaction_tag: "101", account_tag: "1000") { transaction_tag } }');
      assert.deepEqual(deleted, { deleteTransaction: { transaction_tag: '101' } });
      assert.deepEqual(await h.ok('{ Transaction(transaction_tag: "101", account_tag: "1000") { id } }'), { Transaction: null });
    }));

  test('upsertInvoice stores rows and totals; an unknown customer is refused', () =>
    withApi(async (h) => {
      await h.ok('mutation { upsertCustomer(customer_tag: "100") { id } }');
      const created = await h.ok(`mutation { upsertInvoice(id: "${ID}", tenant: "default", invoice_number: "2019/001", invoice_date: "2019-08-01",
        customer_tag: "100", rows: [{ prefix: "39", description: "Italy", quantity: 1000, unit_price: 2, total: 2000 }],
        net_total: 2000, vat_rate: 22, total: 2440) { id invoice_date customer { customer_tag } rows { prefix description quantity unit_price total } net_total vat_rate total } }`);
      assert.deepEqual(created.upsertInvoice, {
        id: ID,
        invoice_date: '2019-08-01',
        customer: { customer_tag: '100' },
        rows: [{ prefix: '39', description: 'Italy', quantity: 1000, unit_price: 2, total: 2000 }],
        net_total: 2000,
        vat_rate: 22,
        total: 2440,
      });
      await expectError(
        h,
        'mutation { upsertInvoice(invoice_number: "2019/002", invoice_date: "2019-08-01", customer_tag: "NOPE") { id } }',
        'Customer with id = NOPE not found in tenant default!',
      );
    }));
});

describe('§7.6 BigInt', () => {
  test('values beyond int32 stay JSON integers (fix: Canyan printed floats)', () =>
    withApi(async (h) => {
      const response = await h.app.inject({
        method: 'POST',
        url: '/graphql',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({
          query: 'mutation { a: upsertAccount(account_tag: "A", type: PREPAID, balance: 2147483648) { balance } b: upsertAccount(account_tag: "B", type: PREPAID, balance: 2147483647) { balance } }',
        }),
      });
      assert.equal(response.statusCode, 200);
      assert.equal(response.body, '{"data":{"a":{"balance":2147483648},"b":{"balance":2147483647}}}');
      const big = await h.ok('mutation { upsertAccount(account_tag: "A", type: PREPAID, balance: 9007199254740991) { balance } }');
      assert.deepEqual(big, { upsertAccount: { balance: 9007199254740991 } });
    }));
});

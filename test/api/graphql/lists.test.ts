// List semantics of allX / _allXMeta (Canyan §3.3): sorting (nulls, case of sortOrder, unknown
// fields), paging (defaults, perPage 0) and filters (tenant default, q, id/ids, flags).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from './harness.ts';

function tags(data: Record<string, unknown>, field: string): string[] {
  const list = data[field];
  assert.ok(Array.isArray(list));
  return list.map((item: { carrier_tag?: string; account_tag?: string }) => item.carrier_tag ?? item.account_tag ?? '');
}

describe('list semantics', () => {
  let h: Harness;

  before(async () => {
    h = await startHarness();
    // Insertion order c1..c5; ports with nulls; one carrier in another tenant.
    await h.ok(`mutation {
      c1: upsertCarrier(carrier_tag: "c1", port: 5062, host: "Alpha.example") { id }
      c2: upsertCarrier(carrier_tag: "c2", host: "beta.example") { id }
      c3: upsertCarrier(carrier_tag: "c3", port: 5060, host: "a.c") { id }
      c4: upsertCarrier(carrier_tag: "c4", port: 5061, host: "abc") { id }
      c5: upsertCarrier(carrier_tag: "c5", port: 5060) { id }
      o1: upsertCarrier(tenant: "other", carrier_tag: "o1", port: 1) { id }
    }`);
  });
  after(async () => h.close());

  test('ascending puts nulls first, descending last; ties keep insertion order', async () => {
    const asc = await h.ok('{ allCarriers(sortField: "port", sortOrder: "asc", filter: {}) { carrier_tag } }');
    assert.deepEqual(tags(asc, 'allCarriers'), ['c2', 'c3', 'c5', 'c4', 'c1']);
    const desc = await h.ok('{ allCarriers(sortField: "port", sortOrder: "desc", filter: {}) { carrier_tag } }');
    assert.deepEqual(tags(desc, 'allCarriers'), ['c1', 'c4', 'c3', 'c5', 'c2']);
  });

  test('sortOrder "asc" in any case is ascending, anything else descending', async () => {
    for (const order of ['ASC', 'Asc']) {
      const data = await h.ok(`{ allCarriers(sortField: "carrier_tag", sortOrder: "${order}", filter: {}) { carrier_tag } }`);
      assert.deepEqual(tags(data, 'allCarriers'), ['c1', 'c2', 'c3', 'c4', 'c5']);
    }
    const other = await h.ok('{ allCarriers(sortField: "carrier_tag", sortOrder: "ascending", filter: {}) { carrier_tag } }');
    assert.deepEqual(tags(other, 'allCarriers'), ['c5', 'c4', 'c3', 'c2', 'c1']);
  });

  test('an unknown sort field keeps insertion order; the default sorts by id', async () => {
    const unknown = await h.ok('{ allCarriers(sortField: "no_such_field", filter: {}) { carrier_tag } }');
    assert.deepEqual(tags(unknown, 'allCarriers'), ['c1', 'c2', 'c3', 'c4', 'c5']);
    const byId = await h.ok('{ allCarriers(filter: {}) { id } }');
    const ids = (byId.allCarriers as { id: string }[]).map((c) => c.id);
    assert.deepEqual(ids, [...ids].sort());
  });

  test('paging: page * perPage skipped, perPage 0 means no limit, count ignores paging', async () => {
    const page = await h.ok('{ allCarriers(page: 1, perPage: 2, sortField: "carrier_tag", filter: {}) { carrier_tag } _allCarriersMeta(page: 1, perPage: 2, filter: {}) { count } }');
    assert.deepEqual(tags(page, 'allCarriers'), ['c3', 'c4']);
    assert.deepEqual(page._allCarriersMeta, { count: 5 });
    const all = await h.ok('{ allCarriers(perPage: 0, sortField: "carrier_tag") { carrier_tag } }');
    assert.deepEqual(tags(all, 'allCarriers'), ['c1', 'c2', 'c3', 'c4', 'c5', 'o1']);
    const beyond = await h.ok('{ allCarriers(page: 9, perPage: 2) { carrier_tag } }');
    assert.deepEqual(beyond, { allCarriers: [] });
  });

  test('the default page size is 25', async () => {
    const mutations = Array.from({ length: 27 }, (_, i) => `a${i}: upsertAccount(account_tag: "p${i}", type: POSTPAID) { id }`);
    await h.ok(`mutation { ${mutations.join('\n')} }`);
    const data = await h.ok('{ allAccounts { id } _allAccountsMeta { count } }');
    assert.equal((data.allAccounts as unknown[]).length, 25);
    assert.deepEqual(data._allAccountsMeta, { count: 27 });
    await h.ok(`mutation { ${Array.from({ length: 27 }, (_, i) => `d${i}: deleteAccount(account_tag: "p${i}") { id }`).join('\n')} }`);
  });

  test('no filter lists every tenant; a filter object defaults to tenant "default"', async () => {
    const counts = await h.ok(`{
      all: _allCarriersMeta { count }
      empty: _allCarriersMeta(filter: {}) { count }
      other: _allCarriersMeta(filter: { tenant: "other" }) { count }
    }`);
    assert.deepEqual(counts, { all: { count: 6 }, empty: { count: 5 }, other: { count: 1 } });
  });

  test('q is a case-insensitive plain substring (no pattern syntax)', async () => {
    const data = await h.ok(`{
      upper: allCarriers(filter: { q: "ALPHA" }) { carrier_tag }
      dot: allCarriers(filter: { q: "a.c" }) { carrier_tag }
      tag: allCarriers(filter: { q: "C5" }) { carrier_tag }
    }`);
    assert.deepEqual(tags(data, 'upper'), ['c1']);
    assert.deepEqual(tags(data, 'dot'), ['c3']);
    assert.deepEqual(tags(data, 'tag'), ['c5']);
  });

  test('id and ids apply together, except for pricelists and transactions where id wins', async () => {
    await h.ok('mutation { a: upsertPricelist(pricelist_tag: "P1") { id } b: upsertPricelist(pricelist_tag: "P2") { id } }');
    const lists = await h.ok('{ allPricelists(sortField: "pricelist_tag") { id pricelist_tag } allCarriers(sortField: "carrier_tag", filter: {}) { id } }');
    const [p1, p2] = lists.allPricelists as { id: string }[];
    const [c1, c2] = lists.allCarriers as { id: string }[];
    const data = await h.ok(`{
      pricelists: _allPricelistsMeta(filter: { id: "${p1?.id}", ids: ["${p2?.id}"] }) { count }
      carriers: _allCarriersMeta(filter: { id: "${c1?.id}", ids: ["${c2?.id}"] }) { count }
      carriersBoth: _allCarriersMeta(filter: { id: "${c1?.id}", ids: ["${c1?.id}", "${c2?.id}"] }) { count }
      carriersIds: _allCarriersMeta(filter: { ids: ["${c1?.id}", "${c2?.id}"] }) { count }
    }`);
    assert.deepEqual(data, {
      pricelists: { count: 1 },
      carriers: { count: 0 },
      carriersBoth: { count: 1 },
      carriersIds: { count: 2 },
    });
  });

  test('flags: active applies only when true; transaction primary/inbound apply when false too', async () => {
    await h.ok(`mutation {
      a: upsertAccount(account_tag: "on", type: PREPAID, active: true) { id }
      b: upsertAccount(account_tag: "off", type: PREPAID, active: false) { id }
      t1: upsertTransaction(transaction_tag: "t", account_tag: "on", primary: true, inbound: false) { id }
      t2: upsertTransaction(transaction_tag: "t", account_tag: "off", primary: false, inbound: true) { id }
    }`);
    const data = await h.ok(`{
      activeTrue: _allAccountsMeta(filter: { active: true }) { count }
      activeFalse: _allAccountsMeta(filter: { active: false }) { count }
      prepaid: _allAccountsMeta(filter: { type: PREPAID }) { count }
      postpaid: _allAccountsMeta(filter: { type: POSTPAID }) { count }
      notPrimary: allTransactions(filter: { primary: false }) { account_tag }
      outbound: allTransactions(filter: { inbound: false }) { account_tag }
      both: _allTransactionsMeta(filter: { transaction_tag: "t" }) { count }
    }`);
    assert.deepEqual(data, {
      activeTrue: { count: 1 },
      activeFalse: { count: 2 },
      prepaid: { count: 2 },
      postpaid: { count: 0 },
      notPrimary: [{ account_tag: 'off' }],
      outbound: [{ account_tag: 'on' }],
      both: { count: 2 },
    });
    await h.ok('mutation { a: deleteAccount(account_tag: "on") { id } b: deleteAccount(account_tag: "off") { id } }');
  });

  test('pricelist rate filters: unknown carrier_id adds no condition; prefix is exact', async () => {
    await h.ok(`mutation {
      r1: upsertPricelistRate(pricelist_tag: "P1", carrier_tag: "c1", prefix: "39", rate: 1) { id }
      r2: upsertPricelistRate(pricelist_tag: "P1", carrier_tag: "c2", prefix: "390", rate: 2, active: false) { id }
    }`);
    const data = await h.ok(`{
      unknownCarrier: _allPricelistRatesMeta(filter: { carrier_id: "nope" }) { count }
      exact: allPricelistRates(filter: { prefix: "39" }) { carrier_tag }
      active: allPricelistRates(filter: { active: true }) { carrier_tag }
      inactiveIgnored: _allPricelistRatesMeta(filter: { active: false }) { count }
      q: allPricelistRates(filter: { q: "390" }) { carrier_tag }
    }`);
    assert.deepEqual(data, {
      unknownCarrier: { count: 2 },
      exact: [{ carrier_tag: 'c1' }],
      active: [{ carrier_tag: 'c1' }],
      inactiveIgnored: { count: 2 },
      q: [{ carrier_tag: 'c2' }],
    });
  });

  test('customer and seller filters: q over tag, company, tax and VAT numbers; exact tag', async () => {
    await h.ok(`mutation {
      a: upsertCustomer(customer_tag: "cu1", company_name: "Canyan Srl", tax_number: "TAX-1", vat_number: "IT001") { id }
      b: upsertCustomer(customer_tag: "cu2", company_name: "Other", tax_number: "TAX-2", vat_number: "IT002", vat_policy: EXEMPT) { id }
      c: upsertSeller(seller_tag: "se1", company_name: "Seller Spa", vat_number: "IT003") { id }
      d: upsertSeller(tenant: "other", seller_tag: "se2", company_name: "Seller Two") { id }
    }`);
    const data = await h.ok(`{
      company: allCustomers(filter: { q: "canyan" }) { customer_tag }
      tax: allCustomers(filter: { q: "tax-2" }) { customer_tag vat_policy }
      vat: _allCustomersMeta(filter: { q: "IT00" }) { count }
      tag: allCustomers(filter: { customer_tag: "cu1" }) { customer_tag }
      sellerVat: allSellers(filter: { q: "it003" }) { seller_tag }
      sellersDefault: _allSellersMeta(filter: { q: "seller" }) { count }
      sellersAll: _allSellersMeta { count }
      sellerTag: allSellers(filter: { tenant: "other", seller_tag: "se2" }) { seller_tag tenant }
    }`);
    assert.deepEqual(data, {
      company: [{ customer_tag: 'cu1' }],
      tax: [{ customer_tag: 'cu2', vat_policy: 'EXEMPT' }],
      vat: { count: 2 },
      tag: [{ customer_tag: 'cu1' }],
      sellerVat: [{ seller_tag: 'se1' }],
      sellersDefault: { count: 1 },
      sellersAll: { count: 2 },
      sellerTag: [{ seller_tag: 'se2', tenant: 'other' }],
    });
  });

  test('the same tag in two tenants: getters and keys are per tenant', async () => {
    await h.ok(`mutation {
      a: upsertPricelist(tenant: "t1", pricelist_tag: "SAME", name: "one") { id }
      b: upsertPricelist(tenant: "t2", pricelist_tag: "SAME", name: "two") { id }
    }`);
    const data = await h.ok(`{
      one: Pricelist(tenant: "t1", pricelist_tag: "SAME") { name }
      two: Pricelist(tenant: "t2", pricelist_tag: "SAME") { name }
      none: Pricelist(pricelist_tag: "SAME") { name }
      byName: allPricelists(filter: { tenant: "t2", q: "SAME" }) { name }
    }`);
    assert.deepEqual(data, { one: { name: 'one' }, two: { name: 'two' }, none: null, byName: [{ name: 'two' }] });
  });

  test('GET passes JSON variables from the query string', async () => {
    const query = encodeURIComponent('query ($tag: String) { Pricelist(tenant: "t1", pricelist_tag: $tag) { name } }');
    const variables = encodeURIComponent(JSON.stringify({ tag: 'SAME' }));
    const response = await h.app.inject({ method: 'GET', url: `/graphql?query=${query}&variables=${variables}` });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { data: { Pricelist: { name: 'one' } } });
  });

  test('negative page or perPage is refused', async () => {
    const response = await h.gql('{ allCarriers(page: -1) { id } }');
    assert.equal(response.status, 400);
    assert.equal(response.body.errors?.[0]?.message, 'page must not be negative (got -1)');
  });
});

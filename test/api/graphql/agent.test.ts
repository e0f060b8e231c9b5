// The agent's GraphQL operations (rating.md §6.2, §7.7): against a stub engine, to pin the
// mapping of arguments and answers, and against the real engine on the same SQLite file.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type {
  AuthorizationRequest,
  BeginTransactionRequest,
  EndTransactionRequest,
  RatingEngine,
  RecordTransactionRequest,
  RollbackTransactionRequest,
} from '../../../src/rating/engine-types.ts';
import { createRatingEngine } from '../../../src/rating/engine.ts';
import { startHarness, type Harness } from './harness.ts';

interface Calls {
  authorization: AuthorizationRequest[];
  begin: BeginTransactionRequest[];
  end: EndTransactionRequest[];
  rollback: RollbackTransactionRequest[];
  record: RecordTransactionRequest[];
}

function stubEngine(fail: boolean): { engine: RatingEngine; calls: Calls } {
  const calls: Calls = { authorization: [], begin: [], end: [], rollback: [], record: [] };
  const maybeFail = () => {
    if (fail) throw new Error('test');
  };
  const ok = { ok: true, failed_account_tag: null, failed_reason: null };
  const engine: RatingEngine = {
    async authorization(request) {
      calls.authorization.push(request);
      maybeFail();
      return {
        authorized: true,
        authorized_destination: false,
        unauthorized_account_tag: null,
        unauthorized_reason: null,
        balance: 0,
        carriers: [],
        max_available_units: 0,
      };
    },
    async beginTransaction(request) {
      calls.begin.push(request);
      maybeFail();
      return ok;
    },
    async endTransaction(request) {
      calls.end.push(request);
      maybeFail();
      return ok;
    },
    async rollbackTransaction(request) {
      calls.rollback.push(request);
      maybeFail();
      return { ok: true };
    },
    async recordTransaction(request) {
      calls.record.push(request);
      maybeFail();
      return ok;
    },
    async completeTransaction() {
      throw new Error('not used by the GraphQL agent');
    },
  };
  return { engine, calls };
}

async function withApi(options: Parameters<typeof startHarness>[0], work: (h: Harness) => Promise<void>): Promise<void> {
  const h = await startHarness(options);
  try {
    await work(h);
  } finally {
    await h.close();
  }
}

const PARTIES = 'tenant: "default", transaction_tag: "100", account_tag: "1000", destination_account_tag: "1001"';
const PARTIES_OUT = { tenant: 'default', transaction_tag: '100', account_tag: '1000', destination_account_tag: '1001' };

describe('agent GraphQL with a stub engine', () => {
  test('version is 1', () =>
    withApi({}, async (h) => {
      assert.deepEqual(await h.ok('{ version }'), { version: 1 });
    }));

  test('authorization answers the engine fields merged with the request parties', () => {
    const { engine, calls } = stubEngine(false);
    return withApi({ engine }, async (h) => {
      const data = await h.ok(`mutation { authorization(${PARTIES}, source: "sip:10.0.0.1:5060", destination: "sip:10.0.0.2:5060", timestamp_auth: "2019-02-05T20:00:00Z") {
        tenant transaction_tag account_tag destination_account_tag authorized authorized_destination unauthorized_account_tag
        unauthorized_reason max_available_units balance carriers } }`);
      assert.deepEqual(data.authorization, {
        ...PARTIES_OUT,
        authorized: true,
        authorized_destination: false,
        unauthorized_account_tag: null,
        unauthorized_reason: null,
        max_available_units: 0,
        balance: 0,
        carriers: [],
      });
      assert.deepEqual(calls.authorization, [
        {
          ...PARTIES_OUT,
          source: 'sip:10.0.0.1:5060',
          source_ip: null,
          destination: 'sip:10.0.0.2:5060',
          carrier_ip: null,
          tags: null,
          timestamp_auth: Date.UTC(2019, 1, 5, 20) * 1000,
        },
      ]);
    });
  });

  test('begin, end, rollback and record answer ok with the parties', () => {
    const { engine, calls } = stubEngine(false);
    return withApi({ engine }, async (h) => {
      const fields = 'ok tenant transaction_tag account_tag destination_account_tag';
      const data = await h.ok(`mutation {
        beginTransaction(${PARTIES}, tags: ["T1"], timestamp_begin: "2019-02-05T20:00:00Z") { ${fields} }
        endTransaction(${PARTIES}, timestamp_end: "2019-02-05T20:00:10Z") { ${fields} }
        rollbackTransaction(${PARTIES}) { ${fields} }
        recordTransaction(${PARTIES}, authorized: true, timestamp_auth: "2019-02-05T19:59:59Z",
          timestamp_begin: "2019-02-05T20:00:00Z", timestamp_end: "2019-02-05T20:00:10Z") { ${fields} failed_reason }
      }`);
      const okAnswer = { ok: true, ...PARTIES_OUT };
      assert.deepEqual(data, {
        beginTransaction: okAnswer,
        endTransaction: okAnswer,
        rollbackTransaction: okAnswer,
        recordTransaction: { ...okAnswer, failed_reason: null },
      });
      assert.equal(calls.begin[0]?.timestamp_begin, Date.UTC(2019, 1, 5, 20) * 1000);
      assert.deepEqual(calls.begin[0]?.tags, ['T1']);
      assert.equal(calls.end[0]?.timestamp_end, Date.UTC(2019, 1, 5, 20, 0, 10) * 1000);
      assert.deepEqual(calls.rollback, [PARTIES_OUT]);
      // Fix: record uses begin and end, not timestamp_auth twice.
      const record = calls.record[0];
      assert.equal(record?.timestamp_auth, Date.UTC(2019, 1, 5, 19, 59, 59) * 1000);
      assert.equal(record?.timestamp_begin, Date.UTC(2019, 1, 5, 20) * 1000);
      assert.equal(record?.timestamp_end, Date.UTC(2019, 1, 5, 20, 0, 10) * 1000);
      assert.equal(record?.authorized, true);
    });
  });

  test('an engine failure is HTTP 400 with a null field', () => {
    const { engine } = stubEngine(true);
    return withApi({ engine }, async (h) => {
      const response = await h.gql('mutation { authorization(transaction_tag: "100", account_tag: "1000") { authorized } }');
      assert.equal(response.status, 400);
      assert.deepEqual(response.body.data, { authorization: null });
      assert.equal(response.body.errors?.[0]?.message, 'test');
    });
  });
});

describe('agent GraphQL with the real engine', () => {
  test('authorize, begin, end and record a call', () =>
    withApi({ engine: (parts) => createRatingEngine(parts) }, async (h) => {
      await h.ok(`mutation {
        upsertAccount(account_tag: "1000", type: PREPAID, balance: 1000000, pricelist_tags: ["TESTS"]) { id }
        upsertCarrier(carrier_tag: "TESTS", protocol: UDP, host: "carrier1.canyan.io", port: 5060) { id }
        upsertPricelist(pricelist_tag: "TESTS", currency: EUR) { id }
        upsertPricelistRate(pricelist_tag: "TESTS", carrier_tag: "TESTS", prefix: "39", rate: 1, rate_increment: 1, connect_fee: 0, interval_start: 0) { id }
      }`);
      const auth = await h.ok(`mutation { authorization(transaction_tag: "100", account_tag: "1000", destination: "393291234567",
        timestamp_auth: "2019-02-05T20:00:00Z") { authorized authorized_destination unauthorized_reason carriers max_available_units balance } }`);
      assert.deepEqual(auth.authorization, {
        authorized: true,
        authorized_destination: false,
        unauthorized_reason: null,
        carriers: ['UDP:carrier1.canyan.io:5060'],
        max_available_units: 14400,
        balance: 1000000,
      });
      const begin = await h.ok(`mutation { beginTransaction(transaction_tag: "100", account_tag: "1000", destination: "393291234567",
        timestamp_begin: "2019-02-05T20:00:00Z") { ok failed_reason } }`);
      assert.deepEqual(begin, { beginTransaction: { ok: true, failed_reason: null } });
      const running = await h.ok('{ AccountTransaction(account_tag: "1000", transaction_tag: "100") { in_progress destination_rate { prefix rate } } }');
      assert.deepEqual(running, { AccountTransaction: { in_progress: true, destination_rate: { prefix: '39', rate: 1 } } });
      const end = await h.ok('mutation { endTransaction(transaction_tag: "100", account_tag: "1000", timestamp_end: "2019-02-05T20:01:30Z") { ok } }');
      assert.deepEqual(end, { endTransaction: { ok: true } });
      const after = await h.ok('{ Account(account_tag: "1000") { balance running_transactions { transaction_tag } } Transaction(transaction_tag: "100", account_tag: "1000") { duration fee } }');
      assert.deepEqual(after, { Account: { balance: 1000000 - 90, running_transactions: [] }, Transaction: { duration: 90, fee: 90 } });

      const record = await h.ok(`mutation { recordTransaction(transaction_tag: "200", account_tag: "1000", destination: "393291234567",
        timestamp_auth: "2019-02-05T21:00:00Z", timestamp_begin: "2019-02-05T21:00:00Z", timestamp_end: "2019-02-05T21:00:10Z") { ok } }`);
      assert.deepEqual(record, { recordTransaction: { ok: true } });
      const recorded = await h.ok('{ Transaction(transaction_tag: "200", account_tag: "1000") { duration fee timestamp_begin timestamp_end } }');
      assert.deepEqual(recorded, {
        Transaction: { duration: 10, fee: 10, timestamp_begin: '2019-02-05T21:00:00', timestamp_end: '2019-02-05T21:00:10' },
      });
    }));
});

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { RatingEngine } from '../../../src/rating/engine-types.ts';
import { seedAccount, seedTestsPricelist, startHarness, type Harness } from './harness.ts';

const DESTINATION = '393291234567';

describe('POST /v1/* against the real engine and a SQLite file', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await seedTestsPricelist(h.storage);
    await seedAccount(h.storage, '1000', { balance: 20, tags: ['A1'] });
    await seedAccount(h.storage, '1001', { balance: 20, tags: ['A2'] });
    await seedAccount(h.storage, '2000', { balance: 100, tags: ['A1'] });
    await seedAccount(h.storage, '3000', { active: false });
  });
  after(async () => {
    await h.close();
  });

  test('authorization of caller and destination answers the merged response (7.7, 7.3 A17)', async () => {
    const response = await h.post('/v1/authorization', {
      tenant: 'default',
      transaction_tag: '100',
      account_tag: '1000',
      destination_account_tag: '1001',
      source: 'sip:10.0.0.1:5060',
      destination: DESTINATION,
      tags: ['T1'],
    });
    assert.equal(response.status, 200, response.text);
    assert.deepEqual(response.body, {
      tenant: 'default',
      transaction_tag: '100',
      account_tag: '1000',
      destination_account_tag: '1001',
      authorized: true,
      authorized_destination: true,
      unauthorized_account_tag: null,
      unauthorized_reason: null,
      max_available_units: 20,
      balance: 20,
      carriers: ['UDP:carrier1.canyan.io:5060'],
    });
  });

  test('authorization with only a transaction tag leaves every default (7.3 A1)', async () => {
    const response = await h.post('/v1/authorization', { transaction_tag: '101' });
    assert.equal(response.status, 200, response.text);
    assert.deepEqual(response.body, {
      tenant: 'default',
      transaction_tag: '101',
      account_tag: null,
      destination_account_tag: null,
      authorized: false,
      authorized_destination: false,
      unauthorized_account_tag: null,
      unauthorized_reason: null,
      max_available_units: 0,
      balance: 0,
      carriers: [],
    });
  });

  test('authorization of an unknown caller is NOT_FOUND (7.3 A2)', async () => {
    const response = await h.post('/v1/authorization', { transaction_tag: '102', account_tag: '9999', destination: DESTINATION });
    assert.equal(response.status, 200, response.text);
    const body = response.body as Record<string, unknown>;
    assert.equal(body.authorized, false);
    assert.equal(body.unauthorized_account_tag, '9999');
    assert.equal(body.unauthorized_reason, 'NOT_FOUND');
  });

  test('begin then end rates the call; responses keep failed_account_tag and failed_reason (§8.21)', async () => {
    const parties = { tenant: 'default', transaction_tag: '200', account_tag: '2000', destination_account_tag: null };
    const begin = await h.post('/v1/begin_transaction', {
      ...parties,
      source: '2000',
      source_ip: '127.0.0.1',
      destination: DESTINATION,
      carrier_ip: '192.168.0.1',
      tags: ['T1'],
      timestamp_begin: '2019-01-01T10:00:00Z',
      an_unknown_key: 'is ignored',
    });
    assert.equal(begin.status, 200, begin.text);
    assert.deepEqual(begin.body, { ...parties, ok: true, failed_account_tag: null, failed_reason: null });

    const end = await h.post('/v1/end_transaction', { ...parties, timestamp_end: 1546336801 }); // 10:00:01Z as epoch seconds
    assert.equal(end.status, 200, end.text);
    assert.deepEqual(end.body, { ...parties, ok: true, failed_account_tag: null, failed_reason: null });

    const transaction = await h.storage.transaction((repo) =>
      repo.get('transaction', { key: { tenant: 'default', transaction_tag: '200', account_tag: '2000' } }),
    );
    assert.ok(transaction !== null);
    assert.equal(transaction.duration, 1);
    assert.equal(transaction.fee, 1);
    assert.equal(transaction.primary, true);
    assert.equal(transaction.inbound, false);
    assert.equal(transaction.carrier_ip, '192.168.0.1');
  });

  test('begin for an unknown caller answers NOT_FOUND with the failed account (7.4)', async () => {
    const response = await h.post('/v1/begin_transaction', { transaction_tag: '201', account_tag: '9999', destination: DESTINATION });
    assert.equal(response.status, 200, response.text);
    assert.deepEqual(response.body, {
      tenant: 'default',
      transaction_tag: '201',
      account_tag: '9999',
      destination_account_tag: null,
      ok: false,
      failed_account_tag: '9999',
      failed_reason: 'NOT_FOUND',
    });
  });

  test('begin for an inactive caller answers NOT_ACTIVE (7.4)', async () => {
    const response = await h.post('/v1/begin_transaction', { transaction_tag: '202', account_tag: '3000', destination: DESTINATION });
    assert.equal(response.status, 200, response.text);
    const body = response.body as Record<string, unknown>;
    assert.equal(body.ok, false);
    assert.equal(body.failed_account_tag, '3000');
    assert.equal(body.failed_reason, 'NOT_ACTIVE');
  });

  test('end without any account is not ok (7.4)', async () => {
    const response = await h.post('/v1/end_transaction', { transaction_tag: '203' });
    assert.equal(response.status, 200, response.text);
    assert.equal((response.body as Record<string, unknown>).ok, false);
  });

  test('begin then rollback; the rollback response has only ok and the parties', async () => {
    const parties = { tenant: 'default', transaction_tag: '300', account_tag: '2000', destination_account_tag: null };
    const begin = await h.post('/v1/begin_transaction', { ...parties, destination: DESTINATION });
    assert.equal((begin.body as Record<string, unknown>).ok, true, begin.text);
    const rollback = await h.post('/v1/rollback_transaction', parties);
    assert.equal(rollback.status, 200, rollback.text);
    assert.deepEqual(rollback.body, { ...parties, ok: true });
  });

  test('rollback with nothing running is not ok (7.4)', async () => {
    const response = await h.post('/v1/rollback_transaction', { transaction_tag: '301', account_tag: '2000' });
    assert.equal(response.status, 200, response.text);
    assert.deepEqual(response.body, {
      tenant: 'default',
      transaction_tag: '301',
      account_tag: '2000',
      destination_account_tag: null,
      ok: false,
    });
  });

  test('record rates a finished call in one request (7.4)', async () => {
    const response = await h.post('/v1/record_transaction', {
      transaction_tag: '400',
      account_tag: '2000',
      tags: ['T1'],
      source: '2000',
      source_ip: 'source_ip',
      destination: DESTINATION,
      carrier_ip: 'carrier_ip',
      authorized: 'yes',
      timestamp_begin: '2019-01-01T10:00:00',
      timestamp_end: '2019-01-01T10:00:01',
    });
    assert.equal(response.status, 200, response.text);
    assert.deepEqual(response.body, {
      tenant: 'default',
      transaction_tag: '400',
      account_tag: '2000',
      destination_account_tag: null,
      ok: true,
      failed_account_tag: null,
      failed_reason: null,
    });
    const transaction = await h.storage.transaction((repo) =>
      repo.get('transaction', { key: { tenant: 'default', transaction_tag: '400', account_tag: '2000' } }),
    );
    assert.ok(transaction !== null);
    assert.equal(transaction.duration, 1);
    assert.equal(transaction.fee, 1);
    assert.equal(transaction.source_ip, 'source_ip');
  });
});

describe('POST /v1/* validation (422, FastAPI format)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  const endpoints = ['authorization', 'begin_transaction', 'end_transaction', 'rollback_transaction', 'record_transaction'];
  for (const endpoint of endpoints) {
    test(`${endpoint} without transaction_tag is 422`, async () => {
      const response = await h.post(`/v1/${endpoint}`, { account_tag: '1000' });
      assert.equal(response.status, 422, response.text);
      assert.deepEqual(response.body, {
        detail: [{ loc: ['body', 'transaction_tag'], msg: 'field required', type: 'value_error.missing' }],
      });
    });
  }

  test('every bad field is reported at once', async () => {
    const response = await h.post('/v1/record_transaction', {
      transaction_tag: null,
      account_tag: { nested: true },
      tags: 'T1',
      timestamp_begin: 'yesterday',
      authorized: 'maybe',
    });
    assert.equal(response.status, 422, response.text);
    assert.deepEqual(response.body, {
      detail: [
        { loc: ['body', 'transaction_tag'], msg: 'none is not an allowed value', type: 'type_error.none.not_allowed' },
        { loc: ['body', 'account_tag'], msg: 'str type expected', type: 'type_error.str' },
        { loc: ['body', 'tags'], msg: 'value is not a valid list', type: 'type_error.list' },
        { loc: ['body', 'authorized'], msg: 'value could not be parsed to a boolean', type: 'type_error.bool' },
        { loc: ['body', 'timestamp_begin'], msg: 'invalid datetime format', type: 'value_error.datetime' },
      ],
    });
  });

  test('a list item of the wrong type names its index', async () => {
    const response = await h.post('/v1/begin_transaction', { transaction_tag: '1', tags: ['ok', false] });
    assert.equal(response.status, 422, response.text);
    assert.deepEqual(response.body, {
      detail: [{ loc: ['body', 'tags', 1], msg: 'str type expected', type: 'type_error.str' }],
    });
  });

  test('a body that is not an object is 422', async () => {
    const response = await h.post('/v1/authorization', [1, 2]);
    assert.equal(response.status, 422, response.text);
    assert.deepEqual(response.body, { detail: [{ loc: ['body'], msg: 'value is not a valid dict', type: 'type_error.dict' }] });
  });

  test('numbers are accepted as text, as pydantic does', async () => {
    const response = await h.post('/v1/rollback_transaction', { transaction_tag: 100, account_tag: 1000 });
    assert.equal(response.status, 200, response.text);
    const body = response.body as Record<string, unknown>;
    assert.equal(body.transaction_tag, '100');
    assert.equal(body.account_tag, '1000');
  });

  test('malformed JSON is a 400 with a JSON message and no stack', async () => {
    const response = await h.post('/v1/authorization', '{"transaction_tag": ');
    assert.equal(response.status, 400, response.text);
    assert.ok(typeof (response.body as Record<string, unknown>).detail === 'string');
    assert.doesNotMatch(response.text, /\bat .*\.(ts|js):\d+/);
  });
});

describe('HTTP server limits and failures', () => {
  test('a body over api_body_limit is refused with 413 and a clear message', async () => {
    const h = await startHarness({ bodyLimit: 1024 });
    try {
      const response = await h.post('/v1/authorization', { transaction_tag: '1', source: 'x'.repeat(2000) });
      assert.equal(response.status, 413, response.text);
      assert.deepEqual(response.body, { detail: 'Request body is larger than the limit of 1024 bytes' });
      const small = await h.post('/v1/authorization', { transaction_tag: '1' });
      assert.equal(small.status, 200, small.text);
    } finally {
      await h.close();
    }
  });

  test('an engine that throws gives 500 with a plain JSON message and no stack trace', async () => {
    const failing = async (): Promise<never> => {
      throw new Error('secret database detail');
    };
    const engine: RatingEngine = {
      authorization: failing,
      beginTransaction: failing,
      endTransaction: failing,
      rollbackTransaction: failing,
      recordTransaction: failing,
      completeTransaction: failing,
    };
    const h = await startHarness({ engine: () => engine });
    try {
      for (const endpoint of ['authorization', 'begin_transaction', 'end_transaction', 'rollback_transaction', 'record_transaction']) {
        const response = await h.post(`/v1/${endpoint}`, { transaction_tag: '100', account_tag: '1000' });
        assert.equal(response.status, 500, response.text);
        assert.match(response.contentType, /application\/json/);
        assert.deepEqual(response.body, { detail: `Internal Server Error: the rating engine failed on ${endpoint}` });
        assert.doesNotMatch(response.text, /secret|\.ts:\d+/);
      }
    } finally {
      await h.close();
    }
  });
});

describe('closing the server', () => {
  test('close() lets an in-flight request finish, then stops accepting', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered: () => void = () => undefined;
    const inEngine = new Promise<void>((resolve) => (entered = resolve));
    const slow = async () => {
      entered();
      await gate;
      return { ok: true };
    };
    const engine: RatingEngine = {
      authorization: async () => {
        throw new Error('not used');
      },
      beginTransaction: async () => ({ ...(await slow()), failed_account_tag: null, failed_reason: null }),
      endTransaction: async () => ({ ...(await slow()), failed_account_tag: null, failed_reason: null }),
      rollbackTransaction: slow,
      recordTransaction: async () => ({ ...(await slow()), failed_account_tag: null, failed_reason: null }),
      completeTransaction: async () => ({ ...(await slow()), failed_account_tag: null, failed_reason: null }),
    };
    const h = await startHarness({ engine: () => engine });
    const pending = h.post('/v1/rollback_transaction', { transaction_tag: '1' });
    await inEngine;
    const closing = h.close();
    release();
    const response = await pending;
    assert.equal(response.status, 200, response.text);
    assert.equal((response.body as Record<string, unknown>).ok, true);
    await closing;
    await assert.rejects(fetch(`${h.baseUrl}/status`));
  });
});

describe('status routes, CORS and unknown routes', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ agent: { stats: () => ({ packets_received: 3, calls_open: 1 }) } });
  });
  after(async () => {
    await h.close();
  });

  test('GET /status is 204 with an empty body', async () => {
    const response = await fetch(`${h.baseUrl}/status`);
    assert.equal(response.status, 204);
    assert.equal(await response.text(), '');
  });

  test('GET /status/agent gives the agent counters', async () => {
    const response = await fetch(`${h.baseUrl}/status/agent`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { packets_received: 3, calls_open: 1 });
  });

  test('GET /status/agent is 404 with a clear message when no agent runs', async () => {
    const bare = await startHarness();
    try {
      const response = await fetch(`${bare.baseUrl}/status/agent`);
      assert.equal(response.status, 404);
      const body = (await response.json()) as Record<string, unknown>;
      assert.match(String(body.detail), /No HEP agent runs in this process/);
    } finally {
      await bare.close();
    }
  });

  test('CORS: any origin is allowed, with credentials, and preflights succeed', async () => {
    const preflight = await fetch(`${h.baseUrl}/v1/authorization`, {
      method: 'OPTIONS',
      headers: { origin: 'https://ui.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    assert.equal(preflight.status, 200);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://ui.example');
    assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.equal(preflight.headers.get('access-control-allow-headers'), 'content-type');

    const graphqlPreflight = await fetch(`${h.baseUrl}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: 'https://ui.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(graphqlPreflight.status, 200);

    const simple = await h.post('/v1/authorization', { transaction_tag: '1' }, { origin: 'https://ui.example' });
    assert.equal(simple.status, 200);
  });

  test('GraphQL answers on the same server', async () => {
    const response = await h.post('/graphql', { query: '{ version }' });
    assert.equal(response.status, 200, response.text);
    assert.deepEqual(response.body, { data: { version: 1 } });
  });

  test('an unknown route is a JSON 404', async () => {
    const response = await fetch(`${h.baseUrl}/v2/nothing?x=1`);
    assert.equal(response.status, 404);
    assert.deepEqual(await response.json(), { detail: 'Not Found: GET /v2/nothing' });
  });
});

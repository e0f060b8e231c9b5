import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { runApiStep, runXhttpStep, StepFailure, type ApiContext } from '../../src/scenarios/api-step.ts';
import { apiStepSchema, xhttpStepSchema } from '../../src/scenarios/schema.ts';
import { startFakeApi, type FakeApi } from './api-server.ts';

function step(raw: Record<string, unknown>) {
  return apiStepSchema.parse(raw);
}

describe('API steps against a real HTTP server', () => {
  let api: FakeApi;
  const lines: string[] = [];
  const context = (): ApiContext => ({
    apiUrl: api.url,
    stores: new Map(),
    verbose: false,
    log: (line) => lines.push(line),
    requestTimeoutMs: 5000,
  });

  before(async () => {
    api = await startFakeApi((request) => {
      if (request.url === '/fail') return { status: 500, body: { error: 'boom' } };
      if (request.url === '/text') return { body: 'not json at all' };
      if (request.url === '/list') return { body: [1, 2] };
      if (request.url.startsWith('/accounts/')) return { body: { deleted: request.url } };
      if (request.url === '/graphql') {
        const query = (request.body as { query?: string } | undefined)?.query ?? '';
        if (query.includes('upsertAccount')) return { body: { data: { upsertAccount: { id: 'acc-1' } } } };
        if (query.includes('broken')) return { body: { data: null, errors: [{ message: 'Cannot query field "broken"' }] } };
        return { body: { data: { Transaction: { tenant: 'default', primary: true, account_tag: '2000' } } } };
      }
      return { status: 404, body: {} };
    });
  });
  after(() => api.close());

  test('POST sends the JSON payload to apiUrl + uri and stores the response', async () => {
    const ctx = context();
    await runApiStep(step({ uri: '/graphql', payload: { query: 'mutation { upsertAccount }' }, store_response: 'acc' }), ctx, {
      label: '[setup 1/1]',
      honourDelay: false,
    });
    const last = api.requests.at(-1);
    assert.deepEqual(last, { method: 'POST', url: '/graphql', body: { query: 'mutation { upsertAccount }' } });
    assert.deepEqual(ctx.stores.get('acc'), { data: { upsertAccount: { id: 'acc-1' } } });

    // A later entry uses the stored value in its uri and payload.
    await runApiStep(step({ method: 'delete', uri: '/accounts/{acc.data.upsertAccount.id}', payload: { who: '{acc.data.upsertAccount.id}' } }), ctx, {
      label: '[teardown 1/1]',
      honourDelay: false,
    });
    assert.deepEqual(api.requests.at(-1), { method: 'DELETE', url: '/accounts/acc-1', body: { who: 'acc-1' } });
  });

  test('built-in stores: {random.uuid4} and {ipaddr.ip}', async () => {
    const ctx = context();
    await runApiStep(step({ uri: '/graphql', payload: { query: 'q', id: '{random.uuid4}', ip: '{ipaddr.ip}' } }), ctx, {
      label: '[x]',
      honourDelay: false,
    });
    const body = api.requests.at(-1)?.body as { id: string; ip: string };
    assert.match(body.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.match(body.ip, /^\d+\.\d+\.\d+\.\d+$/);
  });

  test('expected_response: an exact match passes', async () => {
    lines.length = 0;
    const expected = '{"data": {"Transaction": {"account_tag": "2000", "primary": true, "tenant": "default"}}}';
    await runApiStep(step({ uri: '/graphql', payload: { query: '{ Transaction }' }, expected_response: expected }), context(), {
      label: '[check 1/1]',
      honourDelay: true,
    });
    assert.ok(lines.includes('  OK: Results match!'));
  });

  test('expected_response: a mismatch fails with a structural diff', async () => {
    lines.length = 0;
    const expected = JSON.stringify({ data: { Transaction: { tenant: 'default', primary: false, account_tag: '2000', destination: 'sip:49' } } });
    const failure = await runApiStep(step({ uri: '/graphql', payload: { query: '{ Transaction }' }, expected_response: expected }), context(), {
      label: '[check 1/1]',
      honourDelay: true,
    }).then(
      () => assert.fail('no failure'),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof StepFailure);
    assert.match(failure.message, /^NO Match! POST http:\/\/127\.0\.0\.1:\d+\/graphql: the response differs from expected_response in 2 place\(s\):/);
    assert.match(failure.message, /\n {2}data\.Transaction\.primary: expected false, actual true\n/);
    assert.match(failure.message, /\n {2}data\.Transaction\.destination: expected "sip:49", actual \(absent\)\n/);
    assert.ok(lines.some((line) => line.startsWith('NO Match!')));
  });

  test('a status other than 200 fails with the status and body', async () => {
    await assert.rejects(
      runApiStep(step({ uri: '/fail', payload: {} }), context(), { label: '[setup 1/1]', honourDelay: false }),
      /POST http:\/\/127\.0\.0\.1:\d+\/fail answered HTTP 500 \(expected 200\): \{"error":"boom"\}/,
    );
  });

  test('a 200 that is not JSON fails; a list body is not stored unless it matched', async () => {
    await assert.rejects(runApiStep(step({ uri: '/text' }), context(), { label: '[x]', honourDelay: false }), /not JSON: not json at all/);
    const ctx = context();
    await runApiStep(step({ uri: '/list', store_response: 'l' }), ctx, { label: '[x]', honourDelay: false });
    assert.equal(ctx.stores.get('l'), null);
    await runApiStep(step({ uri: '/list', store_response: 'l', expected_response: '[1, 2]' }), ctx, { label: '[x]', honourDelay: false });
    assert.deepEqual(ctx.stores.get('l'), [1, 2]);
  });

  test('GraphQL errors in a 200 answer are reported as a warning, as the original ignored them', async () => {
    lines.length = 0;
    await runApiStep(step({ uri: '/graphql', payload: { query: '{ broken }' } }), context(), { label: '[setup 1/1]', honourDelay: false });
    assert.ok(lines.includes('  warning: the response carries 1 GraphQL error(s), first: Cannot query field "broken"'), lines.join('\n'));
  });

  test('delay is honoured (in seconds) for checks only', async () => {
    const started = Date.now();
    await runApiStep(step({ uri: '/graphql', payload: { query: 'q' }, delay: 0.3 }), context(), { label: '[check]', honourDelay: true });
    assert.ok(Date.now() - started >= 290);
    const again = Date.now();
    await runApiStep(step({ uri: '/graphql', payload: { query: 'q' }, delay: 5 }), context(), { label: '[setup]', honourDelay: false });
    assert.ok(Date.now() - again < 2000);
  });

  test('host replaces the base URL for this entry and every later one', async () => {
    const ctx = context();
    ctx.apiUrl = 'http://127.0.0.1:1';
    await runApiStep(step({ uri: '/graphql', payload: { query: 'q' }, host: api.url }), ctx, { label: '[setup 1/2]', honourDelay: false });
    assert.equal(ctx.apiUrl, api.url);
    await runApiStep(step({ uri: '/graphql', payload: { query: 'q' } }), ctx, { label: '[setup 2/2]', honourDelay: false });
  });

  test('methods other than POST and DELETE are skipped with a warning', async () => {
    lines.length = 0;
    const before = api.requests.length;
    await runApiStep(step({ method: 'GET', uri: '/graphql' }), context(), { label: '[setup 1/1]', honourDelay: false });
    assert.equal(api.requests.length, before);
    assert.ok(lines.some((line) => line.includes('method GET is not supported')));
  });

  test('verbose mode logs payloads and responses', async () => {
    lines.length = 0;
    await runApiStep(step({ uri: '/graphql', payload: { query: 'q' } }), { ...context(), verbose: true }, { label: '[x]', honourDelay: false });
    assert.ok(lines.some((line) => line.startsWith('  payload: ')));
    assert.ok(lines.some((line) => line.startsWith('  response 200: ')));
  });

  test('an unreachable API is a failure naming the URL and the cause', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const ctx = { ...context(), apiUrl: `http://127.0.0.1:${address.port}` };
    await assert.rejects(runApiStep(step({ uri: '/graphql' }), ctx, { label: '[x]', honourDelay: false }), /failed: ECONNREFUSED/);
  });

  test('kamailio_xhttp posts its payload to the full URL and requires 200', async () => {
    await runXhttpStep(xhttpStepSchema.parse({ type: 'kamailio_xhttp', uri: `${api.url}/graphql`, payload: { method: 'pv.shvSet' } }), context(), {
      label: '[x]',
    });
    assert.deepEqual(api.requests.at(-1), { method: 'POST', url: '/graphql', body: { method: 'pv.shvSet' } });
    await assert.rejects(runXhttpStep(xhttpStepSchema.parse({ type: 'kamailio_xhttp', uri: `${api.url}/fail` }), context(), { label: '[x]' }), /HTTP 500/);
  });
});

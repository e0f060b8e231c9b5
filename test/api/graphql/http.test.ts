// HTTP behaviour of /graphql (Canyan §3.1), over a real socket.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from './harness.ts';

describe('GraphQL HTTP behaviour', () => {
  let h: Harness;
  let base: string;

  before(async () => {
    h = await startHarness();
    const address = await h.app.listen({ host: '127.0.0.1', port: 0 });
    base = `${address}/graphql`;
  });
  after(async () => h.close());

  test('POST application/json runs the query and omits errors on success', async () => {
    const response = await fetch(base, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ version }' }),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /application\/json/);
    assert.deepEqual(await response.json(), { data: { version: 1 } });
  });

  test('POST application/json with variables and operationName', async () => {
    const response = await fetch(base, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({
        query: 'query A { version } query B($tag: String) { Account(account_tag: $tag) { id } }',
        variables: { tag: 'nobody' },
        operationName: 'B',
      }),
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { data: { Account: null } });
  });

  test('POST application/graphql takes the raw query as the body', async () => {
    const response = await fetch(base, { method: 'POST', headers: { 'content-type': 'application/graphql' }, body: '{ version }' });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { data: { version: 1 } });
  });

  test('POST with ?query= works with any content type', async () => {
    const response = await fetch(`${base}?query=${encodeURIComponent('{ version }')}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'ignored',
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { data: { version: 1 } });
  });

  test('POST with another content type and no ?query= is 415 plain text', async () => {
    const response = await fetch(base, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{ version }' });
    assert.equal(response.status, 415);
    assert.match(response.headers.get('content-type') ?? '', /text\/plain/);
    assert.equal(await response.text(), 'Unsupported Media Type');
  });

  test('a JSON body without query is 400 plain text', async () => {
    const response = await fetch(base, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ variables: {} }),
    });
    assert.equal(response.status, 400);
    assert.match(response.headers.get('content-type') ?? '', /text\/plain/);
    assert.equal(await response.text(), 'No GraphQL query found in the request');
  });

  test('GET ?query= runs the query; GET without one is 400 plain text', async () => {
    const ok = await fetch(`${base}?query=${encodeURIComponent('{ version }')}`);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { data: { version: 1 } });
    const missing = await fetch(base);
    assert.equal(missing.status, 400);
    assert.equal(await missing.text(), 'No GraphQL query found in the request');
  });

  test('GET from a browser (Accept text/html) shows GraphiQL', async () => {
    const response = await fetch(base, { headers: { accept: 'text/html,application/xhtml+xml' } });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/html/);
    const page = await response.text();
    assert.match(page, /GraphiQL/);
    // The page's assets resolve relative to /graphql and are served.
    const config = await fetch(new URL('./graphiql/config.js', base));
    assert.equal(config.status, 200);
    assert.match(await config.text(), /\/graphql/);
  });

  test('other methods are 405 plain text', async () => {
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      const response = await fetch(base, { method });
      assert.equal(response.status, 405, method);
      assert.match(response.headers.get('content-type') ?? '', /text\/plain/);
      assert.equal(await response.text(), 'Method Not Allowed');
    }
  });

  test('any error is HTTP 400 with data and errors {message, locations, path}, no stack', async () => {
    const response = await fetch(base, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ version Account(tenant: "default") { id } }' }),
    });
    assert.equal(response.status, 400);
    const body = await response.json();
    assert.deepEqual(body, {
      data: { version: 1, Account: null },
      errors: [{ message: 'Provide either the id or tenant and account_tag!', locations: [{ line: 1, column: 11 }], path: ['Account'] }],
    });
  });

  test('a query that does not validate is 400 with errors and null data', async () => {
    const response = await h.gql('{ nosuchfield }');
    assert.equal(response.status, 400);
    assert.equal(response.body.data, null);
    assert.equal(response.body.errors?.length, 1);
    assert.match(response.body.errors?.[0]?.message ?? '', /nosuchfield/);
    assert.deepEqual(Object.keys(response.body.errors?.[0] ?? {}).sort(), ['locations', 'message']);
  });

  test('a syntax error is 400 with a message', async () => {
    const response = await h.gql('{ version ');
    assert.equal(response.status, 400);
    assert.match(response.body.errors?.[0]?.message ?? '', /Syntax Error/);
    assert.equal(JSON.stringify(response.body).includes('    at '), false);
  });

  test('a missing entity is null with 200', async () => {
    const response = await h.gql('{ Account(account_tag: "nobody") { id } Carrier(id: "nothing") { id } }');
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, { data: { Account: null, Carrier: null } });
  });
});

describe('unexpected resolver failures', () => {
  test('the client gets the message without a stack; the log gets the stack', async () => {
    const { Writable } = await import('node:stream');
    const { default: Fastify } = await import('fastify');
    const { registerGraphql } = await import('../../../src/api/graphql/index.ts');
    const { RateIndexCache } = await import('../../../src/rating/rate-cache.ts');
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const app = Fastify({ logger: { level: 'error', stream } });
    const failing = new Error('disk on fire');
    const brokenStorage = {
      migrate: async () => undefined,
      transaction: async () => {
        throw failing;
      },
      close: async () => undefined,
    };
    const engine = {
      authorization: () => Promise.reject(failing),
      beginTransaction: () => Promise.reject(failing),
      endTransaction: () => Promise.reject(failing),
      rollbackTransaction: () => Promise.reject(failing),
      recordTransaction: () => Promise.reject(failing),
      completeTransaction: () => Promise.reject(failing),
    };
    await registerGraphql(app, { storage: brokenStorage, rates: new RateIndexCache(), engine, clock: () => 0 });
    try {
      const response = await app.inject({
        method: 'POST',
        url: '/graphql',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ query: '{ Account(account_tag: "1000") { id } }' }),
      });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json(), {
        data: { Account: null },
        errors: [{ message: 'disk on fire', locations: [{ line: 1, column: 3 }], path: ['Account'] }],
      });
      const logged = lines.join('');
      assert.match(logged, /GraphQL resolver failed/);
      assert.match(logged, /disk on fire/);
      assert.match(logged, /at /);
    } finally {
      await app.close();
    }
  });
});

describe('body size limit', () => {
  test('a body over the limit keeps Fastify 413, in the GraphQL error shape', async () => {
    const { default: Fastify } = await import('fastify');
    const { registerGraphql } = await import('../../../src/api/graphql/index.ts');
    const { RateIndexCache } = await import('../../../src/rating/rate-cache.ts');
    const h = await startHarness();
    const app = Fastify({ bodyLimit: 100 });
    await registerGraphql(app, {
      storage: h.storage,
      rates: new RateIndexCache(),
      engine: {
        authorization: () => Promise.reject(new Error('unused')),
        beginTransaction: () => Promise.reject(new Error('unused')),
        endTransaction: () => Promise.reject(new Error('unused')),
        rollbackTransaction: () => Promise.reject(new Error('unused')),
        recordTransaction: () => Promise.reject(new Error('unused')),
        completeTransaction: () => Promise.reject(new Error('unused')),
      },
      clock: () => 0,
    });
    try {
      for (const contentType of ['application/json', 'application/graphql', 'text/plain']) {
        const payload = contentType === 'application/json' ? JSON.stringify({ query: '{ version }'.padEnd(300) }) : '{ version }'.padEnd(300);
        const response = await app.inject({ method: 'POST', url: '/graphql', headers: { 'content-type': contentType }, payload });
        assert.equal(response.statusCode, 413, contentType);
        assert.equal(response.json().errors.length, 1);
      }
      const small = await app.inject({ method: 'POST', url: '/graphql', headers: { 'content-type': 'application/graphql' }, payload: '{ version }' });
      assert.equal(small.statusCode, 200);
    } finally {
      await app.close();
      await h.close();
    }
  });
});

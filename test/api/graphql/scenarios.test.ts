// The Canyan integration scenarios (fixtures/canyan/scenarios/*.yaml) must run unchanged against
// this API: every setup request answers 200 without errors, and each check query, after the
// records a call would leave behind, returns exactly the expected document.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { startHarness, type Harness } from './harness.ts';

function scenariosDir(): string {
  const besideRepo = fileURLToPath(new URL('../../../../shared/fixtures/canyan/scenarios', import.meta.url));
  return existsSync(besideRepo) ? besideRepo : '/work/shared/fixtures/canyan/scenarios';
}

interface ApiEntry {
  type?: string;
  uri?: string;
  method?: string;
  payload?: { query?: string; variables?: Record<string, unknown> };
  expected_response?: string;
}

interface Scenario {
  setup?: ApiEntry[];
  check?: ApiEntry[];
}

function isApiEntry(entry: ApiEntry): boolean {
  return (entry.type ?? 'api') === 'api' && (entry.method ?? 'POST') === 'POST' && entry.uri === '/graphql';
}

const dir = scenariosDir();
const files = readdirSync(dir)
  .filter((name) => name.endsWith('.yaml'))
  .sort();

function load(file: string): Scenario {
  return parse(readFileSync(join(dir, file), 'utf8')) as Scenario;
}

async function post(h: Harness, entry: ApiEntry) {
  const response = await h.app.inject({
    method: 'POST',
    url: entry.uri ?? '/graphql',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(entry.payload ?? {}),
  });
  return { status: response.statusCode, body: response.json() as Record<string, unknown> };
}

async function runSetup(h: Harness, file: string): Promise<void> {
  for (const entry of (load(file).setup ?? []).filter(isApiEntry)) {
    const { status, body } = await post(h, entry);
    assert.equal(status, 200, `${file}: ${JSON.stringify(body)}`);
    assert.equal(body.errors, undefined, file);
  }
}

/** What the engine would have written for the call each checking scenario places. */
const CALL_RECORDS: Readonly<Record<string, string>> = {
  'test_kamailio_call.yaml': `mutation {
    a: upsertTransaction(transaction_tag: "call-1", account_tag: "1000", source: "sip:1000@sip.canyan.io", destination: "sip:1001@sip.canyan.io",
      primary: true, inbound: false, timestamp_begin: "2021-01-01T10:00:00Z") { id }
    b: upsertTransaction(transaction_tag: "call-1", account_tag: "1001", source: "sip:1000@sip.canyan.io", destination: "sip:1001@sip.canyan.io",
      primary: true, inbound: true, timestamp_begin: "2021-01-01T10:00:00Z") { id }
  }`,
  'test_opensips_call.yaml': `mutation {
    a: upsertTransaction(transaction_tag: "call-1", account_tag: "2000", source: "sip:2000@sip.canyan.io", destination: "sip:2001@sip.canyan.io",
      primary: true, inbound: false, timestamp_begin: "2021-01-01T10:00:00Z") { id }
    b: upsertTransaction(transaction_tag: "call-1", account_tag: "2001", source: "sip:2000@sip.canyan.io", destination: "sip:2001@sip.canyan.io",
      primary: true, inbound: true, timestamp_begin: "2021-01-01T10:00:00Z") { id }
  }`,
  'test_unauthorized_check_transaction.yaml': `mutation {
    upsertTransaction(transaction_tag: "unauthorized_check_transaction", account_tag: "2000", source: "sip:2000@127.0.0.1:5060",
      destination: "sip:49040112233@testdomain.com:5060", authorized: false, unauthorized_reason: "", primary: true, inbound: false,
      timestamp_auth: "2021-01-01T10:00:00Z") { id }
  }`,
};

describe('Canyan integration scenarios', () => {
  test('the fixtures are there', () => {
    assert.ok(files.length >= 10, `found ${files.length} scenario files in ${dir}`);
  });

  for (const file of files) {
    test(`${file}: setup runs with 200 and no errors, twice`, async () => {
      const h = await startHarness();
      try {
        await runSetup(h, file);
        // The integration suite runs scenarios one after another on the same database.
        await runSetup(h, file);
      } finally {
        await h.close();
      }
    });
  }

  test('every setup runs in sequence on one database', async () => {
    const h = await startHarness();
    try {
      for (const file of files) await runSetup(h, file);
      const counts = await h.ok('{ _allAccountsMeta { count } _allCarriersMeta { count } _allPricelistsMeta { count } }');
      assert.deepEqual(counts, { _allAccountsMeta: { count: 4 }, _allCarriersMeta: { count: 3 }, _allPricelistsMeta: { count: 1 } });
    } finally {
      await h.close();
    }
  });

  for (const file of files.filter((name) => (load(name).check ?? []).length > 0)) {
    test(`${file}: check queries answer exactly the expected response`, async () => {
      const h = await startHarness();
      try {
        await runSetup(h, file);
        const records = CALL_RECORDS[file];
        assert.ok(records !== undefined, `no call records written for ${file}`);
        await h.ok(records);
        for (const entry of (load(file).check ?? []).filter(isApiEntry)) {
          const { status, body } = await post(h, entry);
          assert.equal(status, 200, JSON.stringify(body));
          assert.deepEqual(body, JSON.parse(entry.expected_response ?? 'null'));
        }
      } finally {
        await h.close();
      }
    });
  }
});

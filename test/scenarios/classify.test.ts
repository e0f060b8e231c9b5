import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyScenario } from '../../src/scenarios/runner.ts';
import { ScenarioError } from '../../src/scenarios/load.ts';

const FIXTURES = new URL('../../../shared/fixtures/canyan/scenarios/', import.meta.url).pathname;

describe('classifyScenario', () => {
  test('the catalogue: §2.1 scenarios need the authorization path, §2.2 are passive HEP', () => {
    const kinds = Object.fromEntries(
      readdirSync(FIXTURES)
        .filter((name) => name.endsWith('.yaml'))
        .sort()
        .map((name) => [name, classifyScenario(join(FIXTURES, name)).kind]),
    );
    assert.deepEqual(kinds, {
      'test_authorized.yaml': 'authorization',
      'test_carrier_failover.yaml': 'authorization',
      'test_kamailio_call.yaml': 'passive-hep',
      'test_multiple_carriers.yaml': 'authorization',
      'test_opensips_call.yaml': 'passive-hep',
      'test_unauthorized_balance_insufficient.yaml': 'authorization',
      'test_unauthorized_check_transaction.yaml': 'authorization',
      'test_unauthorized_not_active.yaml': 'authorization',
      'test_unauthorized_not_found.yaml': 'authorization',
      'test_unauthorized_too_many_transactions.yaml': 'authorization',
      'test_unauthorized_unreachable.yaml': 'authorization',
    });
  });

  test('the reason names the evidence', () => {
    assert.match(classifyScenario(join(FIXTURES, 'test_unauthorized_not_found.yaml')).reason, /403/);
    assert.match(classifyScenario(join(FIXTURES, 'test_opensips_call.yaml')).reason, /P-Asserted-Identity/);
  });

  test('an optional 403 is not a refusal; an unreadable YAML throws ScenarioError', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'scenario-classify-'));
    try {
      await writeFile(join(folder, 'uac.xml'), '<recv response="403" optional="true"/>\n<send><![CDATA[\nP-Asserted-Identity: <sip:1@x>\n]]></send>');
      await writeFile(join(folder, 's.yaml'), 'workers:\n  - scenario: uac.xml\n');
      assert.equal(classifyScenario(join(folder, 's.yaml')).kind, 'passive-hep');
      assert.throws(() => classifyScenario(join(folder, 'missing.yaml')), ScenarioError);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});

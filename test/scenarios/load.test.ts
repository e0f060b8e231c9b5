import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenarioFile, ScenarioError } from '../../src/scenarios/load.ts';

const FIXTURES = new URL('../../../shared/fixtures/canyan/scenarios/', import.meta.url).pathname;

describe('loadScenarioFile', () => {
  let folder = '';
  before(() => {
    folder = mkdtempSync(join(tmpdir(), 'scenario-load-'));
  });
  after(() => rmSync(folder, { recursive: true, force: true }));

  const write = (name: string, text: string): string => {
    const file = join(folder, name);
    writeFileSync(file, text);
    return file;
  };

  const problemsOf = (file: string): { message: string; problems: readonly string[] } => {
    try {
      loadScenarioFile(file);
    } catch (error) {
      assert.ok(error instanceof ScenarioError, `expected ScenarioError, got ${String(error)}`);
      return { message: error.message, problems: error.problems };
    }
    assert.fail('the scenario was accepted');
  };

  test('every original Canyan scenario loads unchanged', () => {
    const files = readdirSync(FIXTURES).filter((name) => name.endsWith('.yaml'));
    assert.equal(files.length, 11);
    for (const name of files) {
      const scenario = loadScenarioFile(join(FIXTURES, name));
      assert.equal(scenario.basedir, FIXTURES.replace(/\/$/, ''), name);
      assert.ok(scenario.workers.length >= 1, name);
    }
  });

  test('defaults follow canyan-tester', () => {
    const scenario = loadScenarioFile(join(FIXTURES, 'test_unauthorized_check_transaction.yaml'));
    const worker = scenario.workers[0];
    assert.ok(worker !== undefined && worker.type === 'sipp');
    assert.equal(worker.number, 1);
    assert.equal(worker.repeat, 1);
    assert.equal(worker.delay, 0);
    assert.equal(worker.max_errors, 0);
    assert.deepEqual(worker.extra_args, ['-cid_str', 'unauthorized_check_transaction']);
    const check = scenario.check[0];
    assert.ok(check !== undefined && check.type === 'api');
    assert.equal(check.method, 'POST');
    assert.equal(check.delay, 0);
    assert.deepEqual(scenario.teardown, []);
    const notFound = loadScenarioFile(join(FIXTURES, 'test_unauthorized_not_found.yaml'));
    assert.deepEqual(notFound.setup, []);
  });

  test('an unknown key is named with its place and the file', () => {
    const file = write('typo.yaml', 'workers:\n  - scenario: a.xml\n    repeats: 2\n');
    const { message, problems } = problemsOf(file);
    assert.deepEqual(problems, ['unknown key "repeats" in workers[0]']);
    assert.match(message, /typo\.yaml/);
  });

  test('an unknown root key is rejected', () => {
    const { problems } = problemsOf(write('root.yaml', 'worker:\n  - scenario: a.xml\n'));
    assert.deepEqual(problems, ['unknown key "worker"']);
  });

  test('bad values name the key path', () => {
    const file = write(
      'bad.yaml',
      [
        'workers:',
        '  - scenario: a.xml',
        '    repeat: many',
        '    number: {min: 5, max: 2}',
        '    values:',
        '      to_user: {nested: true}',
        'check:',
        '  - uri: /graphql',
        '    expected_response: "{not json"',
        '    delay: {min: 1, max: 2}',
      ].join('\n'),
    );
    const { problems } = problemsOf(file);
    assert.ok(problems.includes('workers[0].repeat: must be a whole number or {min, max}'), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('workers[0].number')), problems.join('\n'));
    assert.ok(problems.includes('workers[0].values.to_user: must be text, a number, a non-empty list or {min, max}'), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('check[0].expected_response: must be JSON text')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('check[0].delay')), problems.join('\n'));
  });

  test('a worker timeout must be a plain number, not a range', () => {
    const { problems } = problemsOf(write('timeout.yaml', 'workers:\n  - timeout: {min: 1, max: 2}\n'));
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^workers\[0\]\.timeout: /);
  });

  test('unknown entry types are kept as ignored entries, as the original skipped them', () => {
    const scenario = loadScenarioFile(write('types.yaml', 'workers:\n  - type: pjsua\n    anything: 1\nsetup:\n  - type: shell\n'));
    assert.deepEqual(scenario.workers, [{ type: 'ignored', declaredType: 'pjsua' }]);
    assert.deepEqual(scenario.setup, [{ type: 'ignored', declaredType: 'shell' }]);
  });

  test('kamailio_xhttp entries are validated with their own keys', () => {
    const scenario = loadScenarioFile(
      write('xhttp.yaml', 'workers:\n  - type: kamailio_xhttp\n    uri: http://k/RPC\n    payload: {method: x}\n'),
    );
    assert.deepEqual(scenario.workers, [{ type: 'kamailio_xhttp', uri: 'http://k/RPC', method: 'POST', payload: { method: 'x' }, delay: 0 }]);
    const { problems } = problemsOf(write('xhttp-bad.yaml', 'teardown:\n  - type: kamailio_xhttp\n    scenario: x\n'));
    assert.ok(problems.includes('teardown[0].uri: Required'), problems.join('\n'));
    assert.ok(problems.includes('unknown key "scenario" in teardown[0]'), problems.join('\n'));
  });

  test('basedir in the YAML is taken relative to the YAML folder', () => {
    const scenario = loadScenarioFile(write('based.yaml', 'basedir: xml\nworkers:\n  - scenario: a.xml\n'));
    assert.equal(scenario.basedir, join(folder, 'xml'));
  });

  test('YAML syntax errors and missing files are reported with the file', () => {
    const syntax = problemsOf(write('syntax.yaml', 'workers:\n  - scenario: [unclosed\n'));
    assert.match(syntax.problems[0] ?? '', /^YAML syntax: /);
    const missing = problemsOf(join(folder, 'nope.yaml'));
    assert.deepEqual(missing.problems, ['cannot read the file (ENOENT)']);
    assert.match(missing.message, /nope\.yaml/);
  });

  test('an empty file is a scenario without workers (reported when run, as the original did)', () => {
    const scenario = loadScenarioFile(write('empty.yaml', ''));
    assert.deepEqual(scenario.workers, []);
  });
});

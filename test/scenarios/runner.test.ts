import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScenario, type RunScenarioOptions } from '../../src/scenarios/runner.ts';
import { startFakeApi, type FakeApi } from './api-server.ts';
import { SIPP, skipWithoutSipp, startSippUas } from './sipp-helpers.ts';

const FIXTURES = new URL('../../../shared/fixtures/canyan/scenarios/', import.meta.url).pathname;

const TRANSACTION = { tenant: 'default', transaction_tag: 'unauthorized_check_transaction', account_tag: '2000', primary: true };

describe('runScenario', () => {
  let api: FakeApi;
  let folder = '';
  let lines: string[] = [];

  // Stand-ins for sipp that need nothing on PATH: node scripts with an absolute shebang.
  let passingSipp = '';
  let failingSipp = '';
  let slowSipp = '';
  const fakeSipp = async (name: string, body: string): Promise<string> => {
    const path = join(folder, name);
    await writeFile(path, `#!${process.execPath}\n${body}\n`);
    await chmod(path, 0o755);
    return path;
  };

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'scenario-runner-'));
    passingSipp = await fakeSipp('passing-sipp', 'process.exit(0);');
    failingSipp = await fakeSipp('failing-sipp', 'process.exit(1);');
    slowSipp = await fakeSipp('slow-sipp', 'setTimeout(() => undefined, 30_000);');
    api = await startFakeApi((request) => {
      if (request.url === '/broken') return { status: 500, body: { error: 'down' } };
      if (request.method === 'DELETE') return { body: { ok: true } };
      const query = (request.body as { query?: string } | undefined)?.query ?? '';
      if (query.includes('upsertAccount')) return { body: { data: { upsertAccount: { id: 'acc-7' } } } };
      return { body: { data: { Transaction: TRANSACTION } } };
    });
  });
  after(async () => {
    await api.close();
    await rm(folder, { recursive: true, force: true });
  });
  beforeEach(() => {
    lines = [];
    api.requests.length = 0;
  });

  const options = (file: string, overrides: Partial<RunScenarioOptions> = {}): RunScenarioOptions => ({
    file,
    target: '127.0.0.1:5060',
    apiUrl: api.url,
    sipp: passingSipp,
    setup: true,
    teardown: true,
    seed: 1,
    verbose: false,
    log: (line) => lines.push(line),
    progressIntervalMs: 500,
    // Failed runs keep their working folder for inspection: keep it inside the test's folder.
    directory: mkdtempSync(join(folder, 'work-')),
    ...overrides,
  });

  const scenarioFile = async (name: string, yaml: string): Promise<string> => {
    const file = join(folder, name);
    await writeFile(file, yaml);
    return file;
  };

  const SETUP = ['setup:', '  - uri: /graphql', '    payload: {query: "mutation { upsertAccount }"}', '    store_response: acc'];
  const CHECK = (expected: object): string[] => [
    'check:',
    '  - uri: /graphql',
    '    payload: {query: "{ Transaction }"}',
    `    expected_response: '${JSON.stringify(expected)}'`,
  ];
  const TEARDOWN = ['teardown:', '  - method: DELETE', '    uri: /accounts/{acc.data.upsertAccount.id}'];
  const WORKER = (extra: string[] = []): string[] => [
    'workers:',
    `  - scenario: ${join(FIXTURES, 'test_authorized.xml')}`,
    '    values: {call_duration: 100, to_user: "39040123456", to_domain: anotherdomain.com, to_port: "5060"}',
    ...extra,
  ];
  const calls = (): string[] => api.requests.map((request) => `${request.method} ${request.url}`);

  test('setup, workers, check and teardown run in order; placeholders use stored responses', async () => {
    const file = await scenarioFile('order.yaml', [...SETUP, ...WORKER(), ...CHECK({ data: { Transaction: TRANSACTION } }), ...TEARDOWN].join('\n'));
    const result = await runScenario(options(file, { directory: undefined }));
    assert.deepEqual(result.failures, []);
    assert.equal(result.ok, true);
    assert.equal(result.seed, 1);
    const workdir = lines.find((line) => line.startsWith('Working directory: '))?.slice('Working directory: '.length) ?? '';
    assert.match(workdir, /canyan-scenario-/);
    await assert.rejects(stat(workdir), { code: 'ENOENT' }, 'the temporary working folder is removed after a successful run');
    assert.deepEqual(calls(), ['POST /graphql', 'POST /graphql', 'DELETE /accounts/acc-7']);
    assert.ok(lines.includes("Workers' results:"));
    assert.ok(lines.includes('OK: Results match!'.padStart(20)));
    assert.equal(lines.at(-1), 'Done!');
  });

  test('--no-setup and --no-teardown skip those sections', async () => {
    const file = await scenarioFile('skip.yaml', [...SETUP, ...WORKER(), ...TEARDOWN.map((l) => l.replace('{acc.data.upsertAccount.id}', 'x'))].join('\n'));
    const result = await runScenario(options(file, { setup: false, teardown: false }));
    assert.equal(result.ok, true);
    assert.deepEqual(calls(), []);
  });

  test('a failed worker still runs the checks and teardown, and the run fails', async () => {
    const file = await scenarioFile('worker-fails.yaml', [...SETUP, ...WORKER(), ...CHECK({ data: { Transaction: TRANSACTION } }), ...TEARDOWN].join('\n'));
    const result = await runScenario(options(file, { sipp: failingSipp }));
    assert.equal(result.ok, false);
    assert.equal(result.failures.length, 1);
    assert.match(result.failures[0] ?? '', /^\[000000_000000\] sipp failed: 1 of 1 run\(s\) exited non-zero \(exit codes 1; max_errors 0\)/);
    assert.deepEqual(calls(), ['POST /graphql', 'POST /graphql', 'DELETE /accounts/acc-7']);
    assert.ok(lines.some((line) => line.startsWith('Working directory kept for inspection: ')));
    assert.equal(lines.at(-1), 'Error detected, aborted!');
  });

  test('max_errors tolerates failed runs', async () => {
    const file = await scenarioFile('tolerated.yaml', WORKER(['    repeat: 2', '    max_errors: 2']).join('\n'));
    const result = await runScenario(options(file, { sipp: failingSipp }));
    assert.equal(result.ok, true, result.failures.join('\n'));
    assert.ok(lines.some((line) => /runs = 2, errors = 2, exit codes = 1, 1/.test(line)));
  });

  test('a check mismatch fails with a diff and skips teardown, as the original did', async () => {
    const file = await scenarioFile('mismatch.yaml', [...SETUP, ...WORKER(), ...CHECK({ data: { Transaction: { ...TRANSACTION, primary: false } } }), ...TEARDOWN].join('\n'));
    const result = await runScenario(options(file));
    assert.equal(result.ok, false);
    assert.equal(result.failures.length, 1);
    assert.match(result.failures[0] ?? '', /^check entry 1: NO Match!/);
    assert.match(result.failures[0] ?? '', /data\.Transaction\.primary: expected false, actual true/);
    assert.deepEqual(calls(), ['POST /graphql', 'POST /graphql']);
  });

  test('a failed setup stops the run before the workers', async () => {
    const file = await scenarioFile('setup-fails.yaml', ['setup:', '  - uri: /broken', ...WORKER(), ...CHECK({}), ...TEARDOWN].join('\n'));
    const result = await runScenario(options(file));
    assert.equal(result.ok, false);
    assert.match(result.failures[0] ?? '', /^setup entry 1: POST http:\/\/127\.0\.0\.1:\d+\/broken answered HTTP 500/);
    assert.deepEqual(calls(), ['POST /broken']);
    assert.ok(!lines.includes("Workers' results:"));
  });

  test('a scenario without workers fails after setup, then checks and teardown run', async () => {
    const file = await scenarioFile('no-workers.yaml', [...SETUP, ...CHECK({ data: { Transaction: TRANSACTION } }), ...TEARDOWN].join('\n'));
    const result = await runScenario(options(file));
    assert.deepEqual(result.failures, ['No worker has been defined, quit!']);
    assert.deepEqual(calls(), ['POST /graphql', 'POST /graphql', 'DELETE /accounts/acc-7']);
  });

  test('a template value missing from values fails the workers, naming the key', async () => {
    const file = await scenarioFile('missing-value.yaml', ['workers:', `  - scenario: ${join(FIXTURES, 'test_authorized.xml')}`, '    values: {call_duration: 100}'].join('\n'));
    const result = await runScenario(options(file));
    assert.equal(result.ok, false);
    assert.match(result.failures[0] ?? '', /^worker 1 \(.*test_authorized\.xml\): the template uses %\(to_user\)s at line 12, but no value "to_user" is defined/);
  });

  test('a missing sipp XML and an invalid scenario are reported with their paths', async () => {
    const missingXml = await scenarioFile('missing-xml.yaml', 'workers:\n  - scenario: nowhere.xml\n');
    const first = await runScenario(options(missingXml));
    assert.match(first.failures[0] ?? '', /cannot read the sipp scenario .*nowhere\.xml \(ENOENT\)/);
    const invalid = await scenarioFile('invalid.yaml', 'workers:\n  - repeat: lots\n');
    const second = await runScenario(options(invalid));
    assert.deepEqual(second.failures, [`invalid scenario ${invalid}: workers[0].repeat: must be a whole number or {min, max}`]);
  });

  test('a working directory that does not exist is refused before anything runs', async () => {
    const file = await scenarioFile('dir.yaml', [...SETUP, ...WORKER()].join('\n'));
    const result = await runScenario(options(file, { directory: join(folder, 'no-such-folder') }));
    assert.deepEqual(result.failures, [`the working directory ${join(folder, 'no-such-folder')} does not exist or is not a folder`]);
    assert.deepEqual(calls(), []);
  });

  test('values and counts are reproducible from the seed; lists spread over instances', async () => {
    const file = await scenarioFile(
      'seeded.yaml',
      [
        'workers:',
        `  - scenario: ${join(FIXTURES, 'test_authorized.xml')}`,
        '    number: {min: 2, max: 6}',
        '    values: {call_duration: {min: 1, max: 100000}, to_user: ["111", "222"], to_domain: d, to_port: "5060"}',
      ].join('\n'),
    );
    const render = async (seed: number): Promise<string[]> => {
      const directory = join(folder, `seed-${seed}-${Math.random()}`);
      await mkdir(directory);
      const result = await runScenario(options(file, { seed, directory }));
      assert.equal(result.ok, true, result.failures.join('\n'));
      const names = (await readdir(directory)).filter((name) => name.endsWith('.xml')).sort();
      return Promise.all(names.map((name) => readFile(join(directory, name), 'utf8')));
    };
    const first = await render(99);
    assert.deepEqual(await render(99), first);
    assert.ok(first.length >= 2 && first.length <= 6);
    assert.match(first[0] ?? '', /sip:111@d:5060/);
    assert.match(first[1] ?? '', /sip:222@d:5060/);
    assert.ok(lines.includes('Seed: 99'));
  });

  test('an interruption kills sipp, skips the checks and still runs teardown', async () => {
    const file = await scenarioFile('interrupt.yaml', [...SETUP, ...WORKER(), ...CHECK({}), ...TEARDOWN].join('\n'));
    const controller = new AbortController();
    const started = Date.now();
    // Interrupt once sipp has been started and a progress line has had time to appear.
    const log = (line: string): void => {
      lines.push(line);
      if (line.includes('(delay = 0)')) setTimeout(() => controller.abort(), 800);
    };
    const result = await runScenario(options(file, { sipp: slowSipp, signal: controller.signal, log, progressIntervalMs: 200 }));
    assert.ok(Date.now() - started < 10_000);
    assert.equal(result.ok, false);
    assert.ok(result.failures.includes('interrupted: checks skipped'), result.failures.join('\n'));
    assert.deepEqual(calls(), ['POST /graphql', 'DELETE /accounts/acc-7']);
    assert.ok(lines.some((line) => line.startsWith('sipp progress after ')), lines.join('\n'));
  });

  test('an original scenario runs unchanged against a sipp UAS', { skip: skipWithoutSipp, timeout: 60_000 }, async () => {
    // test_authorized.yaml: one GraphQL setup, one worker repeated twice, no checks.
    const uas = await startSippUas(2);
    try {
      const result = await runScenario(
        options(join(FIXTURES, 'test_authorized.yaml'), { sipp: SIPP, target: `127.0.0.1:${uas.port}` }),
      );
      assert.deepEqual(result.failures, [], `${lines.join('\n')}\n${uas.output()}`);
      assert.deepEqual(calls(), ['POST /graphql']);
      assert.ok(lines.some((line) => /^\[000000_000000\] runs = 2, errors = 0, exit codes = 0, 0, /.test(line)), lines.join('\n'));
    } finally {
      await uas.stop();
    }
  });
});

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderPercentTemplate } from '../../src/scenarios/percent-format.ts';
import { sippWorkerSchema } from '../../src/scenarios/schema.ts';
import {
  buildSippArgv,
  describeInstanceFailure,
  instanceStatus,
  runSippInstances,
  summaryLine,
  workerId,
  SPAWN_FAILURE_EXIT_CODE,
  TIMEOUT_EXIT_CODE,
  type SippInstancePlan,
} from '../../src/scenarios/sipp.ts';
import { SIPP, freeUdpPort, skipWithoutSipp, startSippUas } from './sipp-helpers.ts';

const FIXTURES = new URL('../../../shared/fixtures/canyan/scenarios/', import.meta.url).pathname;

describe('sipp command line and verdicts', () => {
  test('the argv is exactly canyan-tester\'s', () => {
    const worker = sippWorkerSchema.parse({
      scenario: 'test_unauthorized_check_transaction.xml',
      extra_args: ['-cid_str', 'unauthorized_check_transaction'],
      timeout: 600,
      call_rate: 1,
      call_rate_period: 1000,
      call_limit: 1,
      call_number: 1,
    });
    assert.deepEqual(buildSippArgv({ executable: 'sipp', target: 'kamailio:5060', xmlPath: '/w/sipp-000000_000000.xml', worker }), [
      'sipp', 'kamailio:5060', '-sf', '/w/sipp-000000_000000.xml', '-l', '1', '-r', '1', '-rp', '1000', '-m', '1',
      '-cid_str', 'unauthorized_check_transaction',
    ]);
  });

  test('defaults, and extra_args given as one string are split on whitespace', () => {
    const worker = sippWorkerSchema.parse({ extra_args: ' -trace_err  -aa ' });
    assert.deepEqual(buildSippArgv({ executable: '/usr/bin/sipp', target: 'sbc:5060', xmlPath: 'x.xml', worker }), [
      '/usr/bin/sipp', 'sbc:5060', '-sf', 'x.xml', '-l', '1', '-r', '1', '-rp', '1000', '-m', '1', '-trace_err', '-aa',
    ]);
  });

  test('worker ids are zero-padded pairs', () => {
    assert.equal(workerId(0, 1), '000000_000001');
    assert.equal(workerId(12, 345), '000012_000345');
  });

  test('an instance fails when more runs failed than max_errors allows, with the first failing code', () => {
    assert.deepEqual(instanceStatus([0, 0], 0), { errors: 0, status: 0 });
    assert.deepEqual(instanceStatus([0, 1], 0), { errors: 1, status: 1 });
    assert.deepEqual(instanceStatus([0, 1], 1), { errors: 1, status: 0 });
    assert.deepEqual(instanceStatus([-1, 1, 0], 1), { errors: 2, status: -1 });
  });
});

describe('sipp processes', () => {
  let workdir = '';
  before(async () => {
    workdir = await mkdtemp(join(tmpdir(), 'scenario-sipp-'));
  });
  after(() => rm(workdir, { recursive: true, force: true }));

  const plan = (overrides: Partial<SippInstancePlan> & { argv: string[] }): SippInstancePlan => ({
    id: '000000_000000',
    xmlPath: join(workdir, 'sipp-000000_000000.xml'),
    logPath: join(workdir, 'sipp-000000_000000.log'),
    repeat: 1,
    delayMs: 0,
    timeoutSeconds: 20,
    maxErrors: 0,
    ...overrides,
  });

  test('a missing sipp program fails clearly and is not retried', async () => {
    const lines: string[] = [];
    const [result] = await runSippInstances(
      [plan({ argv: [join(workdir, 'no-such-sipp'), '127.0.0.1:5060'], repeat: 3 })],
      { log: (line) => lines.push(line), progressIntervalMs: 10_000 },
    );
    assert.ok(result !== undefined);
    assert.equal(result.runs.length, 1);
    assert.equal(result.status, SPAWN_FAILURE_EXIT_CODE);
    assert.match(describeInstanceFailure(result), /cannot run ".*no-such-sipp": ENOENT \(is sipp installed\? pass its path with --sipp\)/);
  });

  test('a sipp UAC completes a call with a sipp UAS on 127.0.0.1 (original XML, two sequential runs)', { skip: skipWithoutSipp, timeout: 30_000 }, async () => {
    const uas = await startSippUas(2);
    try {
      const template = await readFile(join(FIXTURES, 'test_authorized.xml'), 'utf8');
      const xmlPath = join(workdir, 'sipp-000000_000000.xml');
      await writeFile(xmlPath, renderPercentTemplate(template, { call_duration: 100, to_user: '39040123456', to_domain: 'anotherdomain.com', to_port: '5060' }));
      const worker = sippWorkerSchema.parse({ extra_args: ['-i', '127.0.0.1'] });
      const argv = buildSippArgv({ executable: SIPP, target: `127.0.0.1:${uas.port}`, xmlPath, worker });
      const lines: string[] = [];
      const [result] = await runSippInstances([plan({ argv, xmlPath, repeat: 2 })], { log: (line) => lines.push(line), progressIntervalMs: 200 });
      assert.ok(result !== undefined);
      assert.deepEqual(result.runs.map((run) => run.exitCode), [0, 0], `${lines.join('\n')}\n${uas.output()}`);
      assert.equal(result.status, 0);
      assert.equal(result.runs[0]?.successfulCalls, 1);
      assert.equal(lines[0], `[000000_000000] ${argv.join(' ')} (delay = 0)`);
      assert.ok(lines.some((line) => /^\[000000_000000\] run 2\/2: exit code 0 after [\d.]+ s, calls: 1 successful, 0 failed$/.test(line)), lines.join('\n'));
      assert.match(summaryLine(result), /^\[000000_000000\] runs = 2, errors = 0, exit codes = 0, 0, input = .*sipp-000000_000000\.xml, output = .*sipp-000000_000000\.log$/);
      const log = await readFile(result.plan.logPath, 'utf8');
      assert.match(log, /Successful call/);
    } finally {
      await uas.stop();
    }
  });

  test('a run that outlives its timeout is killed and recorded as -1, with progress lines meanwhile', { skip: skipWithoutSipp, timeout: 30_000 }, async () => {
    const port = await freeUdpPort(); // nobody answers there
    const template = await readFile(join(FIXTURES, 'test_authorized.xml'), 'utf8');
    const xmlPath = join(workdir, 'sipp-000001_000000.xml');
    await writeFile(xmlPath, renderPercentTemplate(template, { call_duration: 100, to_user: '1', to_domain: 'd', to_port: '5060' }));
    const worker = sippWorkerSchema.parse({ extra_args: ['-i', '127.0.0.1'] });
    const argv = buildSippArgv({ executable: SIPP, target: `127.0.0.1:${port}`, xmlPath, worker });
    const lines: string[] = [];
    const started = Date.now();
    const [result] = await runSippInstances(
      [plan({ id: '000001_000000', argv, xmlPath, logPath: join(workdir, 'sipp-000001_000000.log'), timeoutSeconds: 1.5, repeat: 1 })],
      { log: (line) => lines.push(line), progressIntervalMs: 400 },
    );
    assert.ok(Date.now() - started < 10_000);
    assert.ok(result !== undefined);
    assert.deepEqual(result.runs.map((run) => run.exitCode), [TIMEOUT_EXIT_CODE]);
    assert.equal(result.status, TIMEOUT_EXIT_CODE);
    assert.ok(lines.some((line) => /^sipp progress after \d+ s: 0\/1 runs finished \(0 failed\); running: 000001_000000 \d+ s/.test(line)), lines.join('\n'));
    assert.match(describeInstanceFailure(result), /first failure: killed after the 1\.5 s timeout/);
  });

  test('sipp\'s own error output is reported for a failing run', { skip: skipWithoutSipp, timeout: 30_000 }, async () => {
    const xmlPath = join(workdir, 'broken.xml');
    await writeFile(xmlPath, '<?xml version="1.0"?><scenario name="broken"><send><![CDATA[nonsense]]></send><recv response="999"/></nope>');
    const argv = [SIPP, '127.0.0.1:9', '-sf', xmlPath, '-m', '1'];
    const [result] = await runSippInstances([plan({ id: '000002_000000', argv, xmlPath, logPath: join(workdir, 'broken.log') })], {
      log: () => undefined,
      progressIntervalMs: 10_000,
    });
    assert.ok(result !== undefined);
    assert.notEqual(result.status, 0);
    const report = describeInstanceFailure(result);
    assert.match(report, /^\[000002_000000\] sipp failed: 1 of 1 run\(s\) exited non-zero/);
    assert.match(report, /\n {2}\| /, report);
  });
});

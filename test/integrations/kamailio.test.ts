// End to end with real SIP: sipp calls through a real Kamailio running our integration
// configuration, Kamailio mirrors the traffic over HEP (UDP or TCP) to `canyan-rating start`, and
// our scenario runner checks the rated transactions through the API. Canyan's original
// test_kamailio_call.yaml runs unchanged over both variants; our own scenarios cover concurrent,
// rejected, cancelled and long calls.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runScenario } from '../../src/scenarios/runner.ts';
import {
  assertAvailable,
  freePort,
  ProcessGroup,
  REPO,
  skipUnlessAvailable,
  startCarrier,
  startKamailio,
  startRatingSystem,
} from './harness.ts';

const PROGRAMS = ['kamailio', 'sipp'];
const skip = skipUnlessAvailable(PROGRAMS);
const CANYAN_SCENARIOS = join(REPO, '..', 'shared', 'fixtures', 'canyan', 'scenarios');
const OUR_SCENARIOS = join(REPO, 'test', 'integrations', 'scenarios');

interface Rig {
  group: ProcessGroup;
  apiUrl: string;
  target: string;
}

async function startRig(variant: 'udp' | 'tcp', carrierScenario: string): Promise<Rig> {
  assertAvailable(PROGRAMS);
  const group = new ProcessGroup();
  try {
    // The seed's agent configuration: the callers and callees live on the local domain sip.canyan.io.
    const { apiUrl, ports } = await startRatingSystem(group, { RATING_AGENT_HEP_SIP_LOCAL_DOMAINS: 'sip.canyan.io' });
    const carrierPort = await freePort();
    await startCarrier(group, carrierScenario, carrierPort);
    const sipPort = await freePort();
    await startKamailio(group, { variant, sipPort, hepPort: ports.hep, carrierPort });
    return { group, apiUrl, target: `127.0.0.1:${sipPort}` };
  } catch (error) {
    const details = ['canyan-rating', 'kamailio', 'carrier'].map((name) => `--- ${name}:\n${group.outputOf(name)}`).join('\n');
    await group.stopAll();
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${details}`);
  }
}

async function runAndAssert(rig: Rig, file: string): Promise<void> {
  const lines: string[] = [];
  const result = await runScenario({
    file,
    target: rig.target,
    apiUrl: rig.apiUrl,
    sipp: 'sipp',
    setup: true,
    teardown: true,
    seed: 1,
    verbose: false,
    log: (line) => lines.push(line),
    progressIntervalMs: 10_000,
    directory: rig.group.tempDir('canyan-e2e-scenario-'),
  });
  if (!result.ok) {
    const details = ['canyan-rating', 'kamailio', 'carrier'].map((name) => `--- ${name}:\n${rig.group.outputOf(name)}`).join('\n');
    assert.fail(`scenario ${file} failed:\n${result.failures.join('\n')}\n--- runner:\n${lines.join('\n')}\n${details}`);
  }
}

for (const variant of ['udp', 'tcp'] as const) {
  describe(`Kamailio with HEP over ${variant.toUpperCase()}`, { skip, timeout: 240_000 }, () => {
    let rig: Rig;
    before(async () => {
      rig = await startRig(variant, 'uas_answer.xml');
    });
    after(async () => {
      await rig?.group.stopAll();
    });

    test("Canyan's test_kamailio_call.yaml runs unchanged", async () => {
      await runAndAssert(rig, join(CANYAN_SCENARIOS, 'test_kamailio_call.yaml'));
    });

    test('several concurrent calls are each rated once', async () => {
      await runAndAssert(rig, join(OUR_SCENARIOS, 'concurrent_calls.yaml'));
    });

    if (variant === 'udp') {
      test('canyan-rating test runs every Canyan scenario it can and reports the ones needing authorization', async () => {
        const files = readdirSync(CANYAN_SCENARIOS)
          .filter((name) => name.endsWith('.yaml'))
          .map((name) => join(CANYAN_SCENARIOS, name));
        const cli = spawn(process.execPath, [join(REPO, 'bin', 'canyan-rating.js'), 'test', ...files, '--target', rig.target, '--api-url', rig.apiUrl, '--seed', '7'], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        cli.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
        cli.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
        const code = await new Promise<number | null>((done) => cli.once('exit', (exitCode) => done(exitCode)));
        assert.equal(code, 0, output);
        // The two passive HEP scenarios run (the OpenSIPS one is an ordinary call through any proxy);
        // the nine authorization scenarios are named, not silently skipped.
        assert.match(output, /^2 passed, 0 failed, 9 not run \(authorization integration needed\)$/m, output);
        assert.match(output, /test_kamailio_call\.yaml: PASSED/);
        assert.match(output, /test_opensips_call\.yaml: PASSED/);
        assert.match(output, /test_authorized\.yaml: NOT RUN: needs the proxy authorization integration/);
      });

      test('a 65-second call costs exactly two started minutes plus the connect fee', async () => {
        await runAndAssert(rig, join(OUR_SCENARIOS, 'long_call.yaml'));
      });
    }
  });
}

describe('Kamailio: calls that are never answered', { skip, timeout: 180_000 }, () => {
  test('a call rejected by the carrier with 486 is stored as a zero-fee attempt', async () => {
    const rig = await startRig('udp', 'uas_busy.xml');
    try {
      await runAndAssert(rig, join(OUR_SCENARIOS, 'rejected_call.yaml'));
    } finally {
      await rig.group.stopAll();
    }
  });

  test('a call cancelled while ringing is stored as a zero-fee attempt', async () => {
    const rig = await startRig('tcp', 'uas_ring.xml');
    try {
      await runAndAssert(rig, join(OUR_SCENARIOS, 'cancelled_call.yaml'));
    } finally {
      await rig.group.stopAll();
    }
  });
});

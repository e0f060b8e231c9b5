// `canyan-rating test SCENARIO.yaml...`: runs Canyan-style scenarios (setup through the API, sipp
// calls through a proxy, checks through the API) against a running system. Scenarios that need a
// proxy asking the rating engine for authorization are reported, not run: our integrations mirror
// calls over HEP and do not call /v1/authorization from the proxy.
import { Command, Option } from 'commander';
import { classifyScenario, MAX_SEED, runScenario, SCENARIO_DEFAULTS, ScenarioError } from '../scenarios/index.ts';

export interface TestCommandIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  exit: (code: number) => void;
  /** Resolves when the user asks to stop (SIGINT/SIGTERM). */
  stopSignal: () => Promise<string>;
}

interface TestOptions {
  target: string;
  apiUrl: string;
  sipp: string;
  setup: boolean;
  teardown: boolean;
  seed?: string;
  verbose: boolean;
}

function parseSeed(text: string | undefined): number | null | Error {
  if (text === undefined) return null;
  const seed = Number(text);
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) return new Error(`--seed must be a whole number from 0 to ${MAX_SEED}, got "${text}"`);
  return seed;
}

export function addTestCommand(program: Command, io: TestCommandIo): void {
  program
    .command('test')
    .description('run Canyan-style YAML scenarios (API setup, sipp calls through a proxy, API checks) against a running system')
    .argument('<scenario...>', 'scenario YAML files')
    .addOption(new Option('--target <host:port>', 'the SIP proxy sipp calls through').default(SCENARIO_DEFAULTS.target))
    .addOption(new Option('--api-url <url>', 'base URL of the canyan-rating API').default(SCENARIO_DEFAULTS.apiUrl))
    .addOption(new Option('--sipp <path>', 'the sipp program').default(SCENARIO_DEFAULTS.sipp))
    .option('--no-setup', 'skip the setup steps')
    .option('--no-teardown', 'skip the teardown steps')
    .option('--seed <n>', 'seed for {min, max} values, to replay a run')
    .option('--verbose', 'print requests, responses and sipp command lines', false)
    .exitOverride()
    .action(async (files: string[], options: TestOptions) => {
      io.exit(await runTests(files, options, io));
    });
}

async function runTests(files: string[], options: TestOptions, io: TestCommandIo): Promise<number> {
  const seed = parseSeed(options.seed);
  if (seed instanceof Error) {
    io.stderr(`canyan-rating: ${seed.message}`);
    return 2;
  }
  const aborter = new AbortController();
  void io.stopSignal().then(() => aborter.abort());

  const passed: string[] = [];
  const failed: string[] = [];
  const notRun: string[] = [];
  for (const file of files) {
    let kind: string;
    let reason: string;
    try {
      ({ kind, reason } = classifyScenario(file));
    } catch (error) {
      const message = error instanceof ScenarioError || error instanceof Error ? error.message : String(error);
      io.stderr(`${file}: ${message}`);
      failed.push(file);
      continue;
    }
    if (kind === 'authorization') {
      io.stdout(`${file}: NOT RUN: needs the proxy authorization integration (the proxy calls /v1/authorization before relaying): ${reason}`);
      notRun.push(file);
      continue;
    }
    io.stdout(`${file}: running`);
    const result = await runScenario({
      file,
      target: options.target,
      apiUrl: options.apiUrl,
      sipp: options.sipp,
      setup: options.setup,
      teardown: options.teardown,
      seed,
      verbose: options.verbose,
      log: io.stdout,
      signal: aborter.signal,
    });
    if (result.ok) {
      io.stdout(`${file}: PASSED (seed ${result.seed})`);
      passed.push(file);
    } else {
      for (const failure of result.failures) io.stdout(`${file}: ${failure}`);
      io.stdout(`${file}: FAILED (seed ${result.seed}; --seed ${result.seed} replays it)`);
      failed.push(file);
    }
    if (aborter.signal.aborted) break;
  }
  io.stdout(`${passed.length} passed, ${failed.length} failed, ${notRun.length} not run (authorization integration needed)`);
  return failed.length > 0 || aborter.signal.aborted ? 1 : 0;
}

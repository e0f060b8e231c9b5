// `canyan-rating test SCENARIO.yaml`: runs a canyan-tester scenario in the original's order
// (scenarios.md §1.3): setup, then every sipp worker at once, then checks, then teardown. Checks
// and teardown run even when a worker failed; a failed check skips teardown; a failed setup stops
// the run. Failures are collected and returned rather than thrown, so the caller decides the exit
// code; the log receives the human-readable progress.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runApiStep, runXhttpStep, sleep, type ApiContext } from './api-step.ts';
import { BUILTIN_UAC_TEMPLATE } from './builtin-template.ts';
import { loadScenarioFile, ScenarioError, type LoadedScenario } from './load.ts';
import { createSeededRandom, randomSeed, type SeededRandom } from './random.ts';
import type { SippWorker, StepEntry, XhttpStep } from './schema.ts';
import {
  buildSippArgv,
  describeInstanceFailure,
  runSippInstances,
  summaryLine,
  workerId,
  type SippInstancePlan,
} from './sipp.ts';
import { readTemplate, resolveCount, resolveTemplateValues, writeRenderedScenario, type StoredResponses } from './substitute.ts';

export { classifyScenario, type ScenarioClassification, type ScenarioKind } from './classify.ts';

export interface RunScenarioOptions {
  file: string;
  /** SIP target `host:port`, given to sipp verbatim. */
  target: string;
  /** Base URL every `api` entry's `uri` is appended to. */
  apiUrl: string;
  /** The sipp program (a name on PATH or a path). */
  sipp: string;
  setup: boolean;
  teardown: boolean;
  /** Seed for `{min, max}` values; null draws one (it is printed so the run can be replayed). */
  seed: number | null;
  verbose: boolean;
  log: (line: string) => void;
  /** Existing folder for rendered XML and sipp logs; default: a new temporary folder, removed on success. */
  directory?: string;
  /** Aborting kills running sipp processes, skips the checks and runs teardown. */
  signal?: AbortSignal;
  progressIntervalMs?: number;
  requestTimeoutMs?: number;
}

export interface ScenarioResult {
  ok: boolean;
  failures: string[];
  /** The seed actually used. */
  seed: number;
}

/** Defaults for the command line; canyan-tester's own (`sbc:5060`, `http://api:8000`) name Docker hosts. */
export const SCENARIO_DEFAULTS = {
  target: '127.0.0.1:5060',
  apiUrl: 'http://127.0.0.1:8000',
  sipp: 'sipp',
} as const;

const DEFAULT_PROGRESS_INTERVAL_MS = 5000;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** The original pauses this long after a teardown `kamailio_xhttp` call. */
const XHTTP_TEARDOWN_PAUSE_MS = 5000;

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function planSippInstances(options: {
  scenario: LoadedScenario;
  worker: SippWorker;
  workerIndex: number;
  runOptions: RunScenarioOptions;
  workdir: string;
  random: SeededRandom;
  stores: StoredResponses;
}): Promise<SippInstancePlan[]> {
  const { scenario, worker, workerIndex, runOptions, workdir, random, stores } = options;
  const template = worker.scenario === undefined ? BUILTIN_UAC_TEMPLATE : await readTemplate(resolve(scenario.basedir, worker.scenario));
  const plans: SippInstancePlan[] = [];
  const number = resolveCount(worker.number, random);
  for (let instanceIndex = 0; instanceIndex < number; instanceIndex += 1) {
    const id = workerId(workerIndex, instanceIndex);
    const values = resolveTemplateValues({
      values: worker.values,
      instanceIndex,
      basedir: scenario.basedir,
      target: runOptions.target,
      random,
      stores,
    });
    const xmlPath = await writeRenderedScenario({ template, values, workdir, workerId: id });
    if (runOptions.verbose) runOptions.log(`[${id}] values: ${JSON.stringify(values)}`);
    plans.push({
      id,
      argv: buildSippArgv({ executable: runOptions.sipp, target: runOptions.target, xmlPath, worker }),
      xmlPath,
      logPath: join(workdir, `sipp-${id}.log`),
      repeat: resolveCount(worker.repeat, random),
      delayMs: resolveCount(worker.delay, random),
      timeoutSeconds: worker.timeout,
      maxErrors: worker.max_errors,
    });
  }
  return plans;
}

/** Runs a list of setup/check/teardown entries; stops at the first failure and returns it. */
async function runSteps(
  section: 'setup' | 'check' | 'teardown',
  steps: readonly StepEntry[],
  context: ApiContext,
): Promise<string | null> {
  for (const [index, step] of steps.entries()) {
    const label = `[${section} ${index + 1}/${steps.length}]`;
    try {
      if (step.type === 'api') {
        await runApiStep(step, context, { label, honourDelay: section === 'check' });
      } else if (step.type === 'kamailio_xhttp' && section === 'teardown') {
        await runXhttpStep(step, context, { label });
        await sleep(XHTTP_TEARDOWN_PAUSE_MS, context.signal);
      } else {
        const declared = step.type === 'ignored' ? step.declaredType : step.type;
        context.log(`${label} warning: entries of type "${declared}" are not run in ${section}; skipped`);
      }
    } catch (error) {
      return `${section} entry ${index + 1}: ${errorMessage(error)}`;
    }
  }
  return null;
}

async function runWorkers(
  scenario: LoadedScenario,
  options: RunScenarioOptions,
  state: { workdir: string; random: SeededRandom; context: ApiContext },
): Promise<string[]> {
  const { workdir, random, context } = state;
  if (scenario.workers.length === 0) {
    options.log("No worker has been defined, quit!");
    return ['No worker has been defined, quit!'];
  }
  const plans: SippInstancePlan[] = [];
  const xhttpWorkers: XhttpStep[] = [];
  for (const [workerIndex, worker] of scenario.workers.entries()) {
    if (worker.type === 'sipp') {
      try {
        plans.push(...(await planSippInstances({ scenario, worker, workerIndex, runOptions: options, workdir, random, stores: context.stores })));
      } catch (error) {
        // As in the original, a template problem stops every worker before any sipp starts.
        const template = worker.scenario ?? 'the built-in template';
        return [`worker ${workerIndex + 1} (${template}): ${errorMessage(error)}`];
      }
    } else if (worker.type === 'kamailio_xhttp') {
      xhttpWorkers.push(worker);
    } else {
      options.log(`warning: worker ${workerIndex + 1} has the unknown type "${worker.declaredType}"; skipped`);
    }
  }

  const results = await runSippInstances(plans, {
    log: options.log,
    progressIntervalMs: options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS,
    signal: options.signal,
  });
  // As in the original, xhttp workers start only after every sipp run has finished, and their
  // failures are reported without failing the scenario.
  for (const [index, worker] of xhttpWorkers.entries()) {
    try {
      await runXhttpStep(worker, context, { label: `[kamailio_xhttp worker ${index + 1}/${xhttpWorkers.length}]` });
    } catch (error) {
      options.log(`warning: kamailio_xhttp worker ${index + 1} failed (not counted as a failure): ${errorMessage(error)}`);
    }
  }

  options.log("Workers' results:");
  for (const result of results) options.log(summaryLine(result));
  return results.filter((result) => result.status !== 0).map(describeInstanceFailure);
}

export async function runScenario(options: RunScenarioOptions): Promise<ScenarioResult> {
  const seed = options.seed ?? randomSeed();
  const failures: string[] = [];
  const done = (): ScenarioResult => {
    if (failures.length > 0) options.log('Error detected, aborted!');
    return { ok: failures.length === 0, failures, seed };
  };

  let random: SeededRandom;
  let scenario: LoadedScenario;
  try {
    random = createSeededRandom(seed);
    scenario = loadScenarioFile(options.file);
  } catch (error) {
    failures.push(error instanceof ScenarioError ? error.message : errorMessage(error));
    return done();
  }

  if (options.directory !== undefined) {
    // The original also required the folder to exist; saying so beats a failed write later.
    const isFolder = await stat(options.directory).then((info) => info.isDirectory(), () => false);
    if (!isFolder) {
      failures.push(`the working directory ${options.directory} does not exist or is not a folder`);
      return done();
    }
  }
  const ownsWorkdir = options.directory === undefined;
  const workdir = options.directory ?? (await mkdtemp(join(tmpdir(), 'canyan-scenario-')));
  options.log(`Scenario: ${scenario.file}`);
  options.log(`Seed: ${seed}`);
  options.log(`Working directory: ${workdir}`);
  options.log(`Executable: ${options.sipp}`);
  options.log(`Target: ${options.target}`);
  options.log(`API: ${options.apiUrl}`);

  const context: ApiContext = {
    apiUrl: options.apiUrl,
    stores: new Map(),
    verbose: options.verbose,
    log: options.log,
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    signal: options.signal,
  };

  if (options.setup) {
    const setupFailure = await runSteps('setup', scenario.setup, context);
    if (setupFailure !== null) {
      failures.push(setupFailure);
      if (ownsWorkdir) await rm(workdir, { recursive: true, force: true });
      return done();
    }
  }

  const workerFailures = await runWorkers(scenario, options, { workdir, random, context });
  failures.push(...workerFailures);
  if (workerFailures.length > 0) options.log(`Working directory kept for inspection: ${workdir}`);
  else if (ownsWorkdir) await rm(workdir, { recursive: true, force: true });

  const interrupted = options.signal?.aborted === true;
  if (interrupted) {
    failures.push('interrupted: checks skipped');
  } else {
    const checkFailure = await runSteps('check', scenario.check, context);
    if (checkFailure !== null) {
      failures.push(checkFailure);
      // The original's check failure escapes before teardown; kept so verdicts stay comparable.
      if (scenario.teardown.length > 0 && options.teardown) options.log('teardown skipped because a check failed');
      return done();
    }
  }

  if (options.teardown) {
    // Teardown must still reach the API after an interruption.
    const teardownFailure = await runSteps('teardown', scenario.teardown, { ...context, signal: undefined });
    if (teardownFailure !== null) failures.push(teardownFailure);
  }
  if (failures.length === 0) options.log('Done!');
  return done();
}

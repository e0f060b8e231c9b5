// sipp workers (scenarios.md §1.6): each instance sleeps its delay, then runs sipp `repeat` times
// in sequence; all instances run at once. The command line is exactly the original's, so sipp
// picks UDP and its own local port. Output goes to `<workdir>/sipp-<id>.log`; the caller gets
// per-run exit codes (-1 for a run killed at its timeout) and the tail of sipp's error output.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { sleep } from './api-step.ts';
import { pythonStr } from './percent-format.ts';
import type { SippWorker } from './schema.ts';

export const TIMEOUT_EXIT_CODE = -1;
/** Recorded when sipp cannot be started at all (as a shell reports a missing command). */
export const SPAWN_FAILURE_EXIT_CODE = 127;

const ERROR_TAIL_LINES = 15;
const KEEP_OUTPUT_CHARS = 16_384;

export interface SippInstancePlan {
  /** `<worker index>_<instance index>`, both zero-padded to 6 digits. */
  id: string;
  argv: readonly string[];
  xmlPath: string;
  logPath: string;
  repeat: number;
  delayMs: number;
  timeoutSeconds: number | null;
  maxErrors: number;
}

export interface SippRunOutcome {
  exitCode: number;
  durationMs: number;
  successfulCalls: number | null;
  failedCalls: number | null;
  /** Last lines of stderr (or of stdout when stderr was silent), for the report. */
  errorTail: string;
  /** Why the run did not produce an exit code of its own: a timeout, a spawn error, an interruption. */
  note: string | null;
}

export interface SippInstanceResult {
  plan: SippInstancePlan;
  runs: SippRunOutcome[];
  errors: number;
  /** 0 when the instance passes; otherwise the first non-zero exit code. */
  status: number;
}

export function workerId(workerIndex: number, instanceIndex: number): string {
  return `${String(workerIndex).padStart(6, '0')}_${String(instanceIndex).padStart(6, '0')}`;
}

/** `executable target -sf XML -l L -r R -rp RP -m M [extra_args...]` */
export function buildSippArgv(options: { executable: string; target: string; xmlPath: string; worker: SippWorker }): string[] {
  const { worker } = options;
  const extra =
    worker.extra_args === undefined
      ? []
      : typeof worker.extra_args === 'string'
        ? worker.extra_args.split(/\s+/).filter((arg) => arg !== '')
        : worker.extra_args.map((arg) => pythonStr(arg));
  return [
    options.executable,
    options.target,
    '-sf',
    options.xmlPath,
    '-l',
    pythonStr(worker.call_limit),
    '-r',
    pythonStr(worker.call_rate),
    '-rp',
    pythonStr(worker.call_rate_period),
    '-m',
    pythonStr(worker.call_number),
    ...extra,
  ];
}

/** The instance verdict: failed only when more runs failed than `max_errors` allows. */
export function instanceStatus(exitCodes: readonly number[], maxErrors: number): { errors: number; status: number } {
  const failed = exitCodes.filter((code) => code !== 0);
  return { errors: failed.length, status: failed.length > maxErrors ? (failed[0] as number) : 0 };
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split(/\r?\n/).slice(-count).join('\n');
}

/** sipp's statistics screen: "Successful call | <periodic> | <cumulative>". */
function callCounter(output: string, label: string): number | null {
  const pattern = new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`, 'g');
  let last: number | null = null;
  for (const match of output.matchAll(pattern)) last = Number(match[1]);
  return last;
}

function signalExitCode(signal: NodeJS.Signals): number {
  // Python's subprocess reports death by signal N as -N.
  return -(osConstants.signals[signal] ?? 1);
}

interface RunningProcess {
  startedAt: number;
  successfulCalls: number | null;
  failedCalls: number | null;
}

function runSippOnce(
  plan: SippInstancePlan,
  running: RunningProcess,
  signal: AbortSignal | undefined,
): Promise<SippRunOutcome> {
  return new Promise((resolve) => {
    const log = createWriteStream(plan.logPath, { flags: 'a' });
    let stdout = '';
    let stderr = '';
    let note: string | null = null;
    let settled = false;
    const [command, ...args] = plan.argv as [string, ...string[]];
    // stdin stays an open pipe that is never written: sipp reads keyboard commands from stdin and
    // a closed one would look like input to it.
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });

    const finish = (exitCode: number): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      child.stdin.destroy();
      const tail = stderr.trim() !== '' ? lastLines(stderr, ERROR_TAIL_LINES) : lastLines(stdout, ERROR_TAIL_LINES);
      log.end(() =>
        resolve({
          exitCode,
          durationMs: Date.now() - running.startedAt,
          successfulCalls: callCounter(stdout, 'Successful call'),
          failedCalls: callCounter(stdout, 'Failed call'),
          errorTail: tail,
          note,
        }),
      );
    };
    const kill = (why: string): void => {
      note = why;
      child.kill('SIGKILL');
    };
    const onAbort = (): void => kill('interrupted');
    const timer =
      plan.timeoutSeconds === null
        ? undefined
        : setTimeout(() => kill(`killed after the ${plan.timeoutSeconds} s timeout`), plan.timeoutSeconds * 1000);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();

    const keep = (current: string, chunk: Buffer): string => (current + chunk.toString('utf8')).slice(-KEEP_OUTPUT_CHARS);
    child.stdout.on('data', (chunk: Buffer) => {
      log.write(chunk);
      stdout = keep(stdout, chunk);
      running.successfulCalls = callCounter(stdout, 'Successful call') ?? running.successfulCalls;
      running.failedCalls = callCounter(stdout, 'Failed call') ?? running.failedCalls;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      log.write(chunk);
      stderr = keep(stderr, chunk);
    });
    child.stdin.on('error', () => {
      // sipp exiting closes its end of the pipe; nothing is ever written, so nothing is lost.
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      note = `cannot run "${command}": ${error.code ?? error.message}${error.code === 'ENOENT' ? ' (is sipp installed? pass its path with --sipp)' : ''}`;
      log.write(`${note}\n`);
      finish(SPAWN_FAILURE_EXIT_CODE);
    });
    child.on('close', (code, killedBy) => {
      if (note !== null && (note.startsWith('killed') || note === 'interrupted')) finish(TIMEOUT_EXIT_CODE);
      else if (code !== null) finish(code);
      else finish(killedBy === null ? TIMEOUT_EXIT_CODE : signalExitCode(killedBy));
    });
  });
}

function describeRun(id: string, index: number, total: number, outcome: SippRunOutcome): string {
  const calls =
    outcome.successfulCalls === null && outcome.failedCalls === null
      ? ''
      : `, calls: ${outcome.successfulCalls ?? 0} successful, ${outcome.failedCalls ?? 0} failed`;
  const note = outcome.note === null ? '' : ` (${outcome.note})`;
  return `[${id}] run ${index}/${total}: exit code ${outcome.exitCode} after ${(outcome.durationMs / 1000).toFixed(1)} s${calls}${note}`;
}

export interface RunSippOptions {
  log: (line: string) => void;
  /** How often a progress line is printed while sipp runs. */
  progressIntervalMs: number;
  signal?: AbortSignal;
}

/** Runs every instance concurrently and resolves once all of them are done. */
export async function runSippInstances(plans: readonly SippInstancePlan[], options: RunSippOptions): Promise<SippInstanceResult[]> {
  const startedAt = Date.now();
  const totalRuns = plans.reduce((sum, plan) => sum + plan.repeat, 0);
  let finishedRuns = 0;
  let failedRuns = 0;
  const running = new Map<string, RunningProcess>();

  const ticker = setInterval(() => {
    const active = [...running.entries()].map(([id, process]) => {
      const seconds = Math.round((Date.now() - process.startedAt) / 1000);
      const calls = process.successfulCalls === null ? '' : `, ${process.successfulCalls} ok/${process.failedCalls ?? 0} failed calls`;
      return `${id} ${seconds} s${calls}`;
    });
    const elapsed = Math.round((Date.now() - startedAt) / 1000);
    options.log(
      `sipp progress after ${elapsed} s: ${finishedRuns}/${totalRuns} runs finished (${failedRuns} failed)` +
        (active.length === 0 ? '' : `; running: ${active.join(', ')}`),
    );
  }, options.progressIntervalMs);

  const runInstance = async (plan: SippInstancePlan): Promise<SippInstanceResult> => {
    await rm(plan.logPath, { force: true });
    options.log(`[${plan.id}] ${plan.argv.join(' ')} (delay = ${plan.delayMs})`);
    const runs: SippRunOutcome[] = [];
    try {
      await sleep(plan.delayMs, options.signal);
      for (let index = 1; index <= plan.repeat; index += 1) {
        const process: RunningProcess = { startedAt: Date.now(), successfulCalls: null, failedCalls: null };
        running.set(plan.id, process);
        const outcome = await runSippOnce(plan, process, options.signal);
        running.delete(plan.id);
        runs.push(outcome);
        finishedRuns += 1;
        if (outcome.exitCode !== 0) failedRuns += 1;
        options.log(describeRun(plan.id, index, plan.repeat, outcome));
        // Without a program to run, or once interrupted, the remaining runs cannot do better.
        if (outcome.note?.startsWith('cannot run') === true) break;
        if (options.signal?.aborted) break;
      }
    } catch {
      // Interrupted during the initial delay: no run was made.
    }
    const verdict = instanceStatus(
      runs.map((run) => run.exitCode),
      plan.maxErrors,
    );
    return { plan, runs, ...verdict };
  };

  try {
    return await Promise.all(plans.map(runInstance));
  } finally {
    clearInterval(ticker);
  }
}

/** "[i_j] runs = R, errors = E, exit codes = c1, c2, input = <xml>, output = <log>" */
export function summaryLine(result: SippInstanceResult): string {
  const codes = result.runs.map((run) => String(run.exitCode)).join(', ');
  return `[${result.plan.id}] runs = ${result.runs.length}, errors = ${result.errors}, exit codes = ${codes}, input = ${result.plan.xmlPath}, output = ${result.plan.logPath}`;
}

/** The failure text of an instance that did not pass, with what sipp said. */
export function describeInstanceFailure(result: SippInstanceResult): string {
  const { plan } = result;
  if (result.runs.length === 0) return `[${plan.id}] sipp was not run (interrupted)`;
  const failed = result.runs.filter((run) => run.exitCode !== 0);
  const first = failed[0];
  const lines = [
    `[${plan.id}] sipp failed: ${result.errors} of ${result.runs.length} run(s) exited non-zero ` +
      `(exit codes ${result.runs.map((run) => run.exitCode).join(', ')}; max_errors ${plan.maxErrors}); full output in ${plan.logPath}`,
  ];
  if (first !== undefined) {
    if (first.note !== null) lines.push(`  first failure: ${first.note}`);
    if (first.errorTail !== '') lines.push(...first.errorTail.split('\n').map((line) => `  | ${line}`));
  }
  return lines.join('\n');
}

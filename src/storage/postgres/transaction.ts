// Storage.transaction on PostgreSQL (TransactionLine below runs them on the pool). Each attempt runs `work` inside a SERIALIZABLE
// transaction: PostgreSQL then lets it commit only if the result equals some one-at-a-time
// order of all committed transactions (of every process), which is what the engine's
// read-check-write steps (concurrency limits, settled calls, balances) need. An attempt that
// loses a conflict (serialization failure 40001, deadlock 40P01) is rolled back and `work` runs
// again after a short jittered pause; `work` only talks to the repository, so running it again
// is safe. Other errors roll back and propagate.
//
// Losing again and again is what a hot row (one busy account) does to optimistic transactions,
// so a transaction that has lost twice runs alone: every transaction locks the schema's lane
// table (a table with no rows, migration 4) as its first statement, in SHARE mode for the
// first two attempts and in EXCLUSIVE mode after that. PostgreSQL queues lock requests fairly,
// so the repeat waits for the transactions in progress, new ones wait for it, and with no
// concurrent transaction it cannot conflict again. Contention thus degrades to one-at-a-time
// execution (what SQLite always does) instead of a storm of retries. The second attempt stays
// optimistic because most conflicts are incidental (SERIALIZABLE tracks reads per index page,
// so two calls of unrelated accounts can collide) and pass on a second try: draining every
// transaction in progress for each of them cost more than the odd third attempt.
//
// LOCK TABLE is one of the statements that do not take the transaction's snapshot, so the
// snapshot is taken by the first read, once the lock is held: a snapshot from before a wait
// would conflict with whatever committed during it. The lock ends with the transaction.
//
// When `work` throws (an engine refusal, say), its decision was made on reads that PostgreSQL
// only vouches for if the transaction commits. So its writes are undone with ROLLBACK TO
// SAVEPOINT and the now write-free transaction is committed: if the reads were not consistent,
// that COMMIT fails with 40001 and the attempt is repeated instead of answering on stale data.
import pg, { type Pool, type PoolClient } from 'pg';
import type { Logger } from 'pino';
import type { Repository, TransactionHint } from '../storage.ts';
import type { ListSqlOptions } from './list-query.ts';
import type { RatesVersionCache } from './rates-version-cache.ts';
import { PostgresRepository } from './repository.ts';
import { TransactionSession } from './session.ts';
import { acceptStartReads, startReadsOf, usableHint, type StartReads } from './start-preload.ts';

export interface TransactionSettings {
  /** Quoted name of the lane table that orders first attempts and repeats (migration 4). */
  laneTable: string;
  /** Attempts before a conflict is reported to the caller (at least 1). */
  maxAttempts: number;
  logger: Logger;
  listOptions: ListSqlOptions;
  /** Rates versions kept between transactions (rates-version-cache.ts); null reads them each time. */
  ratesVersions: RatesVersionCache | null;
}

const RETRYABLE_CODES: ReadonlySet<string> = new Set(['40001', '40P01']);
const FIRST_PAUSE_MS = 2;
const MAX_PAUSE_MS = 100;

/**
 * Whether a start also prepares its connection's statements (its first hinted start). When such
 * a start fails after the PREPAREs, whether they exist is unknown, and a start that prepared them
 * again would fail: the connection is not used again.
 */
function preparesStatements(reads: StartReads | null): boolean {
  return reads !== null && reads.beforeBegin !== '';
}

/** What was thrown, as an Error (markBroken keeps the first one). */
function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export function isRetryable(error: unknown): boolean {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' && RETRYABLE_CODES.has(error.code);
}

type Attempt<T> = { kind: 'done'; value: T } | { kind: 'failed'; error: unknown } | { kind: 'conflict'; error: unknown };

/** Full jitter over an exponentially growing window: concurrent losers spread out. */
function pauseBefore(attempt: number): Promise<void> {
  const window = Math.min(MAX_PAUSE_MS, FIRST_PAUSE_MS * 2 ** (attempt - 1));
  return new Promise((resolve) => setTimeout(resolve, Math.random() * window));
}

/** One Storage.transaction waiting for, or running on, a connection of the line. */
interface Job {
  work: (repo: Repository) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  /** Attempts made so far. */
  attempts: number;
  /** The work's first reads, sent with the start of each attempt. */
  hint: TransactionHint | null;
}

/** Started in the round trip that committed the previous transaction on the same connection. */
interface Chained {
  job: Job;
  started: boolean;
  /** What that start read, and the results of its round trip (the reads come last). */
  reads?: StartReads | null;
  startResults?: unknown;
}

/** Attempts that run alongside others; later ones run alone. */
const SHARED_ATTEMPTS = 2;

function startSql(settings: TransactionSettings, alone: boolean, reads: StartReads | null): string {
  const mode = alone ? 'EXCLUSIVE' : 'SHARE';
  return `${reads?.beforeBegin ?? ''}BEGIN ISOLATION LEVEL SERIALIZABLE; LOCK TABLE ${settings.laneTable} IN ${mode} MODE; SAVEPOINT work${reads?.afterBegin ?? ''}`;
}

function startReadsFor(job: Job, client: PoolClient, settings: TransactionSettings): StartReads | null {
  return job.hint === null ? null : startReadsOf(job.hint, client, settings.ratesVersions);
}

/**
 * Runs storage transactions on at most `maxConnections` connections of the pool. Each costs a
 * round trip to start (lane lock, BEGIN) and one to commit; when other transactions are waiting,
 * the commit's round trip also starts the next one on the same connection, which then begins
 * without a round trip of its own. Under load (a bus consumer with a backlog) that is one round
 * trip fewer per transaction, of the four or so an engine operation takes.
 */
export class TransactionLine {
  readonly #waiting: Job[] = [];
  #serving = 0;

  constructor(
    private readonly pool: Pool,
    private readonly maxConnections: number,
    private readonly settings: TransactionSettings,
  ) {}

  run<T>(work: (repo: Repository) => Promise<T>, hint?: TransactionHint): Promise<T> {
    const usable = usableHint(hint);
    return new Promise<T>((resolve, reject) => {
      this.#waiting.push({ work, resolve: resolve as (value: unknown) => void, reject, attempts: 0, hint: usable });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#serving < this.maxConnections && this.#waiting.length > 0) {
      const job = this.#waiting.shift() as Job;
      this.#serving++;
      void this.#serve(job).finally(() => {
        this.#serving--;
        this.#pump();
      });
    }
  }

  /** Checks a connection out and runs `first`, then whatever waits, until nothing does. */
  async #serve(first: Job): Promise<void> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      first.reject(error);
      return;
    }
    // While checked out, the pool's own error listener is detached: without this one, a
    // connection dropped between two statements would be an uncaught 'error' event.
    const onError = (error: Error): void => this.settings.logger.error({ err: error }, 'PostgreSQL connection error during a transaction');
    client.on('error', onError);
    // A connection whose state is unknown (a control statement failed) is destroyed rather than
    // returned to the pool.
    let broken: Error | undefined;
    const markBroken = (error: Error): void => {
      broken ??= error;
    };
    try {
      let current: Chained | null = { job: first, started: false };
      while (current !== null) {
        if (broken !== undefined) {
          // Not started on this connection: another one takes it.
          this.#waiting.unshift(current.job);
          break;
        }
        const running: Chained = current;
        try {
          current = await this.#runJob(client, running, markBroken, () => broken !== undefined);
        } catch (error) {
          // A bug, not a database answer: the job fails and the connection is not trusted.
          markBroken(asError(error));
          running.job.reject(error);
          current = null;
        }
      }
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  /** Runs one job to its end (retrying conflicts); answers what to run next on this connection. */
  async #runJob(client: PoolClient, current: Chained, markBroken: (error: Error) => void, isBroken: () => boolean): Promise<Chained | null> {
    const { job } = current;
    let started = current.started;
    let startResults = current.startResults;
    let startReads = current.reads ?? null;
    for (;;) {
      job.attempts++;
      const alone = job.attempts > SHARED_ATTEMPTS;
      const handOver: { next: Chained | null } = { next: null };
      const takeNext = (): Job | null => this.#waiting.shift() ?? null;
      const outcome = await attemptOnce(client, job, this.settings, alone, started ? { results: startResults, reads: startReads } : null, markBroken, takeNext, (next) => (handOver.next = next));
      started = false;
      startResults = undefined;
      startReads = null;
      const handedOver = handOver.next;
      if (outcome.kind === 'done' || outcome.kind === 'failed') {
        if (outcome.kind === 'done') job.resolve(outcome.value);
        else job.reject(outcome.error);
        if (handedOver !== null) return handedOver;
        const next = this.#waiting.shift();
        return next === undefined ? null : { job: next, started: false };
      }
      // A conflict: the job runs again on this connection, alone; a job taken meanwhile waits.
      if (handedOver !== null) this.#waiting.unshift(handedOver.job);
      if (job.attempts >= this.settings.maxAttempts) {
        this.settings.logger.warn({ attempts: job.attempts, err: outcome.error }, 'storage transaction gave up after repeated serialization conflicts');
        job.reject(outcome.error);
        const next = this.#waiting.shift();
        return next === undefined ? null : { job: next, started: false };
      }
      this.settings.logger.debug({ attempt: job.attempts, code: (outcome.error as { code?: unknown }).code }, 'storage transaction conflicted; running it again');
      await pauseBefore(job.attempts);
      if (isBroken()) {
        this.#waiting.unshift(job);
        return null;
      }
    }
  }
}

/**
 * One attempt of `job` on `client`: starts the transaction unless `started` says it was (with the
 * results of that round trip), runs the work, ends the transaction.
 */
async function attemptOnce(
  client: PoolClient,
  job: Job,
  settings: TransactionSettings,
  alone: boolean,
  started: { results: unknown; reads: StartReads | null } | null,
  markBroken: (error: Error) => void,
  takeNext: () => Job | null,
  handOver: (next: Chained) => void,
): Promise<Attempt<unknown>> {
  const session = new TransactionSession(client);
  const repo = new PostgresRepository(session, settings.listOptions, settings.ratesVersions);
  try {
    let startResults = started?.results;
    let reads = started?.reads ?? null;
    if (started === null) {
      reads = startReadsFor(job, client, settings);
      try {
        startResults = await client.query({ text: startSql(settings, alone, reads), rowMode: 'array' });
      } catch (error) {
        if (isServerAnswer(error) && isRetryable(error)) {
          // A conflict lost inside the start (SERIALIZABLE can cancel a read, the lane lock can
          // deadlock) is lost like one of the work's statements: the attempt runs again. Only a
          // statement after BEGIN can lose one, so the transaction is open and aborted.
          if (preparesStatements(reads)) {
            // The attempt runs again on another connection.
            markBroken(asError(error));
          } else {
            await control(client, 'ROLLBACK', markBroken);
          }
          return { kind: 'conflict', error };
        }
        markBroken(asError(error));
        return { kind: 'failed', error };
      }
    }
    if (reads !== null) {
      acceptStartReads(repo, reads, startResults, settings.ratesVersions);
      session.markUsed();
    }
    return await attemptWith(client, session, repo, job.work, settings, markBroken, takeNext, handOver);
  } finally {
    // Committed, rolled back or abandoned with its connection: over in every case.
    repo.finish();
  }
}

async function attemptWith<T>(
  client: PoolClient,
  session: TransactionSession,
  repo: PostgresRepository,
  work: (repo: Repository) => Promise<T>,
  settings: TransactionSettings,
  markBroken: (error: Error) => void,
  takeNext: () => Job | null,
  handOver: (next: Chained) => void,
): Promise<Attempt<T>> {
  let value: T | undefined;
  let thrown: { error: unknown } | null = null;
  try {
    value = await work(repo);
  } catch (error) {
    thrown = { error };
  } finally {
    session.close();
  }

  const failure = session.failure;
  if (isRetryable(failure) || (thrown !== null && isRetryable(thrown.error))) {
    await control(client, 'ROLLBACK', markBroken);
    return { kind: 'conflict', error: isRetryable(failure) ? failure : thrown?.error };
  }
  if (thrown !== null) {
    try {
      await client.query('ROLLBACK TO SAVEPOINT work; COMMIT');
    } catch (error) {
      // An error skips the rest of the round trip: end the transaction here.
      await control(client, 'ROLLBACK', markBroken);
      if (isRetryable(error)) return { kind: 'conflict', error };
      settings.logger.warn({ err: error }, 'could not confirm the reads of a failed storage transaction');
    }
    return { kind: 'failed', error: thrown.error };
  }
  if (failure !== null) {
    // The work caught a failed statement and carried on, but PostgreSQL has aborted the
    // transaction: committing would silently keep nothing. Report the statement's error.
    await control(client, 'ROLLBACK', markBroken);
    return { kind: 'failed', error: failure };
  }
  // The next waiting transaction, if any, starts in the same round trip as this commit. A
  // statement that fails skips the rest, so the next one has started only if all went through.
  const next = takeNext();
  let nextReads: StartReads | null = null;
  try {
    nextReads = next === null ? null : startReadsFor(next, client, settings);
    const sql = next === null ? 'COMMIT' : `COMMIT; ${startSql(settings, next.attempts >= SHARED_ATTEMPTS, nextReads)}`;
    const results: unknown = await client.query({ text: sql, rowMode: 'array' });
    if (next !== null) handOver({ job: next, started: true, startResults: results, reads: nextReads });
    // A lone COMMIT answers one result; a COMMIT with the next start, one per statement.
    const command = ((Array.isArray(results) ? results[0] : results) as { command?: string } | undefined)?.command;
    if (command !== 'COMMIT') return { kind: 'failed', error: new Error(`the transaction was not committed (server answered ${String(command)})`) };
  } catch (error) {
    // A serialization failure at COMMIT has rolled everything back: safe to run again.
    if (isRetryable(error) && (next === null || raisedByCommit(error))) {
      if (next !== null) handOver({ job: next, started: false });
      return { kind: 'conflict', error };
    }
    // With the next start in the round trip, another answer of the server may come from the
    // COMMIT (which ended this transaction) or from a statement after it (the COMMIT went
    // through, and the next transaction is left aborted). A ROLLBACK tells them apart: the
    // server warns when there is no transaction to roll back.
    if (next !== null && isServerAnswer(error)) {
      const nextWasOpen = await rollBackTelling(client, markBroken);
      if (nextWasOpen === true && preparesStatements(nextReads)) {
        // The next start failed after the COMMIT, maybe after its PREPAREs.
        markBroken(asError(error));
      }
      if (nextWasOpen === true) {
        // This transaction is done; the next one starts again on its own, or fails, as a start
        // that fails on its own would, unless it only lost a conflict.
        if (isRetryable(error)) {
          // Counted as an attempt: one that keeps losing runs alone, where it cannot lose.
          next.attempts++;
          handOver({ job: next, started: false });
        } else {
          next.reject(error);
        }
        return { kind: 'done', value: value as T };
      }
      handOver({ job: next, started: false });
      if (nextWasOpen === false) return isRetryable(error) ? { kind: 'conflict', error } : { kind: 'failed', error };
      return { kind: 'failed', error };
    }
    if (next !== null) handOver({ job: next, started: false });
    // Any other error (a lost connection) leaves the outcome unknown, so it is not retried.
    markBroken(asError(error));
    return { kind: 'failed', error };
  }
  return { kind: 'done', value: value as T };
}

/** The routine of PostgreSQL's SERIALIZABLE check at commit, as errors name it (not translated, unlike their texts). */
const COMMIT_CHECK_ROUTINE = 'PreCommit_CheckForSerializationFailure';

/** Whether a serialization failure was raised by the COMMIT itself, which ends the transaction. */
function raisedByCommit(error: unknown): boolean {
  return error instanceof pg.DatabaseError && error.routine === COMMIT_CHECK_ROUTINE;
}

/**
 * An error the server answered for a statement, on a connection still in use: not a socket error
 * (the outcome of the round trip is then unknown), nor the server ending the connection
 * (connection exceptions 08, operator intervention 57).
 */
function isServerAnswer(error: unknown): boolean {
  if (!(error instanceof pg.DatabaseError) || typeof error.code !== 'string') return false;
  return !error.code.startsWith('08') && !error.code.startsWith('57');
}

/** SQLSTATE of the warning a ROLLBACK outside a transaction answers. */
const NO_ACTIVE_TRANSACTION = '25P01';

/**
 * Sends ROLLBACK and answers whether a transaction was open (false: the server warned that there
 * was none), or null when the ROLLBACK failed (the connection is then marked broken).
 */
async function rollBackTelling(client: PoolClient, markBroken: (error: Error) => void): Promise<boolean | null> {
  let warned = false;
  // The warning arrives before the ROLLBACK's answer, so it is seen before the await returns.
  const onNotice = (notice: { code?: string }): void => {
    if (notice.code === NO_ACTIVE_TRANSACTION) warned = true;
  };
  client.on('notice', onNotice);
  try {
    await client.query('ROLLBACK');
    return !warned;
  } catch (error) {
    markBroken(asError(error));
    return null;
  } finally {
    client.removeListener('notice', onNotice);
  }
}

/** ROLLBACK and the like; a failure means the connection is unusable. */
async function control(client: PoolClient, sql: string, markBroken: (error: Error) => void): Promise<void> {
  try {
    await client.query(sql);
  } catch (error) {
    markBroken(asError(error));
  }
}

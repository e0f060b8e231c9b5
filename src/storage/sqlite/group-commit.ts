// Runs storage transactions one after another on a single SQLite connection, committing the
// ones that are waiting together ("group commit").
//
// A commit is the most expensive step of a small transaction, and under load many short
// transactions wait for each other anyway. So the runner opens one SQLite transaction for the
// transactions waiting in the queue, gives each its own SAVEPOINT (a failing one is rolled back
// to it alone, leaving the others intact), and commits once. Every caller's promise settles
// only after that COMMIT, so a resolved transaction is always committed. Each transaction still
// sees the effects of the ones before it and never interleaves with another: the work
// functions run strictly one at a time, including across their awaits.
import type { Repository } from '../storage.ts';

/** A repository together with the way to end its use (one object: nothing allocated per job beyond it). */
export interface ClosableRepository extends Repository {
  close(): void;
}

export interface TransactionHost {
  /** BEGIN IMMEDIATE, waiting (asynchronously) for other connections' write locks. */
  begin(): Promise<void>;
  execute(sql: 'SAVEPOINT job' | 'RELEASE job' | 'ROLLBACK TO job' | 'COMMIT' | 'ROLLBACK'): void;
  inTransaction(): boolean;
  /** A repository usable until its `close()`, so that a forgotten await cannot write later. */
  openRepository(): ClosableRepository;
}

interface PendingTransaction {
  kind: 'transaction';
  work: (repo: Repository) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface PendingExclusive {
  kind: 'exclusive';
  run: () => Promise<void>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Pending = PendingTransaction | PendingExclusive;
type Done = { job: PendingTransaction; ok: true; value: unknown } | { job: PendingTransaction; ok: false; error: unknown };

/** Groups that run with savepoints after a failure in an optimistic group. */
const CAUTIOUS_GROUPS = 8;

function nextEventLoopTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class GroupCommitRunner {
  #pending: Pending[] = [];
  #running = false;
  #drainWaiters: (() => void)[] = [];

  /** Groups still to run with a savepoint per transaction, after an optimistic group saw a failure. */
  #cautiousGroups = 0;

  constructor(
    private readonly host: TransactionHost,
    /** These two bound how long the first caller of a group waits for the others' work. */
    private readonly maxGroupSize = 64,
    private readonly maxGroupMs = 10,
    /**
     * Run transactions without savepoints while none fails (see #runGroup); off by default, so
     * that every transaction gets its own savepoint.
     */
    private readonly optimistic = false,
  ) {}

  transaction<T>(work: (repo: Repository) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#enqueue({ kind: 'transaction', work, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  /** Runs `run` alone, outside any transaction of this runner (for migrations). */
  exclusive(run: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#enqueue({ kind: 'exclusive', run, resolve: () => resolve(), reject });
    });
  }

  /** Resolves once everything queued so far has settled. */
  drain(): Promise<void> {
    if (!this.#running && this.#pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  #enqueue(job: Pending): void {
    this.#pending.push(job);
    if (this.#running) return;
    this.#running = true;
    // Start on a microtask: callers never see their work run inside the transaction() call,
    // and transactions requested in the same tick share a commit.
    queueMicrotask(() => void this.#loop());
  }

  async #loop(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const next = this.#pending[0];
        if (next.kind === 'exclusive') {
          this.#pending.shift();
          await next.run().then(next.resolve, next.reject);
        } else {
          await this.#runGroup();
        }
      }
    } finally {
      this.#running = false;
      for (const resolve of this.#drainWaiters.splice(0)) resolve();
    }
  }

  async #runGroup(): Promise<void> {
    // Requests that arrived in the same I/O phase (HTTP requests, HEP packets) have not reached
    // the queue yet when the first one starts the loop; one event-loop turn lets them in, so
    // they share this group's commit instead of each paying for its own.
    if (this.#pending.length < this.maxGroupSize) await nextEventLoopTurn();
    try {
      await this.host.begin();
    } catch (error) {
      // Could not get the write lock in time: this transaction fails, the next one retries.
      this.#pending.shift()?.reject(error);
      return;
    }
    let done: Done[] = [];
    // Optimistic groups run their transactions without savepoints: a savepoint makes SQLite copy
    // every page a transaction changes (on top of the change), which cost about as much as the
    // engine's statements themselves. When one fails, the whole group so far is rolled back and
    // the transactions that had succeeded are run again, each in a savepoint, as is the rest of
    // the group and the next few groups: the contract lets work run more than once, and the
    // result is the same as if the failed transaction had been rolled back to its savepoint.
    let savepoints = !this.optimistic || this.#cautiousGroups > 0;
    if (this.#cautiousGroups > 0) this.#cautiousGroups--;
    const closesAt = performance.now() + this.maxGroupMs;
    while (done.length < this.maxGroupSize && this.#pending[0]?.kind === 'transaction' && (done.length === 0 || performance.now() < closesAt)) {
      const job = this.#pending.shift() as PendingTransaction;
      const outcome = savepoints ? await this.#runOne(job) : await this.#runBare(job);
      if ('lost' in outcome) {
        this.#abandon(done, outcome.lost);
        return;
      }
      if (outcome.ok || savepoints) {
        done.push(outcome);
        continue;
      }
      savepoints = true;
      this.#cautiousGroups = CAUTIOUS_GROUPS;
      const redone = await this.#redo(done);
      if (redone === null) {
        job.reject(outcome.error);
        return;
      }
      done = redone;
      done.push(outcome);
    }
    try {
      this.host.execute('COMMIT');
    } catch (error) {
      if (this.host.inTransaction()) this.host.execute('ROLLBACK');
      for (const d of done) d.job.reject(d.ok ? error : d.error);
      return;
    }
    for (const d of done) {
      if (d.ok) d.job.resolve(d.value);
      else d.job.reject(d.error);
    }
  }

  async #runOne(job: PendingTransaction): Promise<Done | { lost: unknown }> {
    this.host.execute('SAVEPOINT job');
    const repository = this.host.openRepository();
    try {
      const value = await job.work(repository);
      repository.close();
      this.host.execute('RELEASE job');
      return { job, ok: true, value };
    } catch (error) {
      repository.close();
      let undone = true;
      try {
        this.host.execute('ROLLBACK TO job');
        this.host.execute('RELEASE job');
      } catch {
        undone = false;
      }
      if (undone && this.host.inTransaction()) return { job, ok: false, error };
      // SQLite abandoned the whole transaction (disk full, for example), or the savepoint could
      // not be undone: nothing of this group can be kept.
      if (this.host.inTransaction()) this.host.execute('ROLLBACK');
      job.reject(error);
      return { lost: error };
    }
  }

  /** Runs a transaction's work directly in the group's transaction. */
  async #runBare(job: PendingTransaction): Promise<Done> {
    const repository = this.host.openRepository();
    try {
      const value = await job.work(repository);
      repository.close();
      return { job, ok: true, value };
    } catch (error) {
      repository.close();
      return { job, ok: false, error };
    }
  }

  /**
   * Rolls the group back and runs its transactions again in a new one, each in a savepoint.
   * Returns their outcomes, or null when the group had to be given up (its jobs are settled).
   */
  async #redo(done: readonly Done[]): Promise<Done[] | null> {
    try {
      if (this.host.inTransaction()) this.host.execute('ROLLBACK');
      await this.host.begin();
    } catch (error) {
      this.#abandon(done, error);
      return null;
    }
    const redone: Done[] = [];
    for (const [i, d] of done.entries()) {
      const outcome = d.ok ? await this.#runOne(d.job) : d;
      if ('lost' in outcome) {
        this.#abandon(redone, outcome.lost);
        // The ones not run again yet are lost with the group.
        this.#abandon(done.slice(i + 1), outcome.lost);
        return null;
      }
      redone.push(outcome);
    }
    return redone;
  }

  /** The whole group was rolled back: the transactions that had succeeded are lost too. */
  #abandon(done: readonly Done[], cause: unknown): void {
    for (const d of done) {
      if (d.ok) d.job.reject(new Error('transaction rolled back together with its commit group', { cause }));
      else d.job.reject(d.error);
    }
  }
}

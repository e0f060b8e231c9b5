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

function nextEventLoopTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class GroupCommitRunner {
  #pending: Pending[] = [];
  #running = false;
  #drainWaiters: (() => void)[] = [];

  constructor(
    private readonly host: TransactionHost,
    /** These two bound how long the first caller of a group waits for the others' work. */
    private readonly maxGroupSize = 64,
    private readonly maxGroupMs = 10,
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
    const done: Done[] = [];
    const closesAt = performance.now() + this.maxGroupMs;
    while (done.length < this.maxGroupSize && this.#pending[0]?.kind === 'transaction' && (done.length === 0 || performance.now() < closesAt)) {
      const job = this.#pending.shift() as PendingTransaction;
      const outcome = await this.#runOne(job);
      if ('lost' in outcome) {
        this.#abandon(done, outcome.lost);
        return;
      }
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

  /** The whole group was rolled back: the transactions that had succeeded are lost too. */
  #abandon(done: readonly Done[], cause: unknown): void {
    for (const d of done) {
      if (d.ok) d.job.reject(new Error('transaction rolled back together with its commit group', { cause }));
      else d.job.reject(d.error);
    }
  }
}

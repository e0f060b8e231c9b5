// Jobs queued per key: the jobs of one key run one at a time in the order they were queued, while
// different keys proceed in parallel. A job that fails is run again: at once when it throws
// RetryLater (someone else made progress; the job must read again), after a backoff for any other
// error, until retryForMs after it was queued. A job ends once, reported to onEnd.
export class RetryLater extends Error {}

/** Retries after RetryLater in a row before a job is given up. */
export const MAX_CONFLICTS = 100;

/** How a job ended: applied, given up after MAX_CONFLICTS RetryLater, or given up after retryForMs of errors. */
export type JobEnd = { kind: 'done' } | { kind: 'conflicts' } | { kind: 'failed'; error: unknown };

export interface KeyedJobQueueOptions<J> {
  /** Runs one attempt of a job. */
  run: (job: J) => Promise<void>;
  /** How long, from when it was queued, a job is retried while it fails. */
  retryForMs: number;
  /** Pending count from which the queue is full (see `full`). */
  maxPending: number;
  /** Every error other than RetryLater; `retrying` false when the job is given up. */
  onError: (job: J, error: unknown, retrying: boolean) => void;
  onEnd: (job: J, end: JobEnd) => void;
}

interface Queued<J> {
  job: J;
  /** Date.now() when queued. */
  since: number;
}

export class KeyedJobQueue<J> {
  private readonly queues = new Map<string, Array<Queued<J>>>();
  private drainWaiters: Array<() => void> = [];
  private pendingCount = 0;

  constructor(private readonly options: KeyedJobQueueOptions<J>) {}

  /** Jobs queued or running, and work tracked by track(). */
  get pending(): number {
    return this.pendingCount;
  }

  /** True when maxPending are pending: the caller decides whether to refuse more. */
  get full(): boolean {
    return this.pendingCount >= this.options.maxPending;
  }

  enqueue(key: string, job: J): void {
    this.pendingCount++;
    const entry: Queued<J> = { job, since: Date.now() };
    const waiting = this.queues.get(key);
    if (waiting !== undefined) {
      waiting.push(entry);
      return;
    }
    // The running job is not in the list.
    this.queues.set(key, []);
    void this.runQueue(key, entry);
  }

  /** Counts work outside the queues as pending until it settles, so that drain() waits for it. */
  track(start: () => Promise<void>): void {
    this.pendingCount++;
    void start().finally(() => this.jobDone());
  }

  /** Resolves once nothing is pending. */
  drain(): Promise<void> {
    if (this.pendingCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private async runQueue(key: string, first: Queued<J>): Promise<void> {
    const waiting = this.queues.get(key) ?? [];
    let entry: Queued<J> | undefined = first;
    while (entry !== undefined) {
      await this.runWithRetries(entry);
      this.jobDone();
      entry = waiting.shift();
    }
    this.queues.delete(key);
  }

  private jobDone(): void {
    this.pendingCount--;
    if (this.pendingCount === 0 && this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Runs a job until it is applied or given up. Never throws. */
  private async runWithRetries({ job, since }: Queued<J>): Promise<void> {
    let delayMs = 50;
    let conflicts = 0;
    for (;;) {
      try {
        await this.options.run(job);
      } catch (error) {
        if (error instanceof RetryLater) {
          // Each conflict means another writer made progress on this key; a bound all the same.
          if (++conflicts <= MAX_CONFLICTS) continue;
          this.options.onEnd(job, { kind: 'conflicts' });
          return;
        }
        if (Date.now() - since >= this.options.retryForMs) {
          this.options.onError(job, error, false);
          this.options.onEnd(job, { kind: 'failed', error });
          return;
        }
        this.options.onError(job, error, true);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        delayMs = Math.min(delayMs * 2, 2_000);
        continue;
      }
      this.options.onEnd(job, { kind: 'done' });
      return;
    }
  }
}

// Runs asynchronous jobs one after another. SQLite has one connection here, and a transaction
// may await between statements, so without this queue two transactions' statements would
// interleave on the same connection.
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(job);
    // The chain continues whether the job succeeds or fails; the caller sees the failure.
    this.#tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once every job queued so far has settled. */
  drain(): Promise<void> {
    return this.#tail.then(() => undefined);
  }
}

// Rates versions (Repository.ratesVersion) kept in memory, so that a call's transaction does not
// read them from the database each time. A version only changes through the trigger that bumps it
// (schema.ts), which also sends a notification (pg_notify, delivered when its transaction
// commits); RatesChangeListener (rates-listener.ts) drops this cache when one arrives. So a rates,
// pricelist or carrier change written by ANOTHER process reaches this one's calls a few
// milliseconds after its commit (the notification's trip) instead of at once: calls that begin in
// that window are rated with the rates of just before the change, as if they had begun a moment
// earlier. Changes written through this storage are seen at once (rateWriteStarted/Ended).
//
// Without a live notification connection nothing is cached (every lookup reads the database), and
// the cache starts empty whenever that connection is (re)established, so a notification missed
// while it was down cannot leave a stale version behind.
export class RatesVersionCache {
  readonly #versions = new Map<string, number>();
  #listening = false;
  #generation = 0;
  #rateWritersInFlight = 0;

  /** Changes whenever cached versions are dropped; a read started before must not be remembered. */
  get generation(): number {
    return this.#generation;
  }

  /** The cached version of a tenant's rates, or undefined when it must be read. */
  lookup(tenant: string): number | undefined {
    return this.#usable() ? this.#versions.get(tenant) : undefined;
  }

  /** Remembers a version read from the database, unless something was dropped since `generation`. */
  remember(tenant: string, version: number, generation: number): void {
    if (this.#usable() && generation === this.#generation) this.#versions.set(tenant, version);
  }

  /** A notification arrived: some rates changed. */
  invalidate(): void {
    this.#generation++;
    this.#versions.clear();
  }

  /** The notification connection is up (after its LISTEN) or down. */
  setListening(listening: boolean): void {
    this.invalidate();
    this.#listening = listening;
  }

  // A transaction of this process writing rates: until it ends, versions are read from the
  // database (it may commit before its notification arrives).
  rateWriteStarted(): void {
    this.#rateWritersInFlight++;
    this.invalidate();
  }

  rateWriteEnded(): void {
    this.#rateWritersInFlight--;
    this.invalidate();
  }

  #usable(): boolean {
    return this.#listening && this.#rateWritersInFlight === 0;
  }
}

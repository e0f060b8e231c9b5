// Accounts with their running transactions as last read or written by this connection, so that
// the engine's reads of a call's accounts (two in a begin, two in an end) cost no statement.
//
// An entry is only ever what the database holds: it is filled from a read, and every write of
// this connection to an account or its running transactions either applies the same change to
// the entry (a balance added, a running transaction inserted or deleted) or drops it. What other
// connections (other processes on the same file) commit is noticed through PRAGMA data_version
// at the start of each write transaction, which then drops everything: while our transaction
// holds the write lock, nobody else can commit. An undone savepoint or transaction drops
// everything too, as the entries may hold its writes.
//
// Entries are never handed out: readers get copies, so no caller can change what the next sees.
//
// The tenants' rates versions (read by the engine at every begin) are kept under the same rules:
// dropped when this connection writes a carrier, price list or rate (the triggers bump the
// version), or with everything else.
import type { Account, RunningTransaction } from '../../domain/types.ts';

export interface CachedAccount {
  account: Account;
  /** Every running transaction of the account by transaction tag, oldest first (as _seq orders them). */
  running: Map<string, RunningTransaction>;
}

/** A copy of a decoded JSON value (arrays and plain objects), sharing nothing with it. */
export function copyJson<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(copyJson) as T;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) copy[key] = copyJson((value as Record<string, unknown>)[key]);
  return copy as T;
}

/** A copy of an account as decoded from a row, sharing nothing with it. */
export function copyAccount(account: Account): Account {
  const copy = { ...account };
  if (copy.tags !== null) copy.tags = copyJson(copy.tags);
  if (copy.pricelist_tags !== null) copy.pricelist_tags = copyJson(copy.pricelist_tags);
  if (copy.carrier_tags !== null) copy.carrier_tags = copyJson(copy.carrier_tags);
  if (copy.carrier_tags_override !== null) copy.carrier_tags_override = copyJson(copy.carrier_tags_override);
  if (copy.linked_accounts !== null) copy.linked_accounts = copyJson(copy.linked_accounts);
  return copy;
}

/** A copy of a running transaction as decoded from a row, sharing nothing with it. */
export function copyRunning(rt: RunningTransaction): RunningTransaction {
  const copy = { ...rt };
  if (copy.tags !== null) copy.tags = copyJson(copy.tags);
  if (copy.destination_rate !== null) copy.destination_rate = copyJson(copy.destination_rate);
  return copy;
}

export class AccountCache {
  readonly #byTenant = new Map<string, Map<string, CachedAccount>>();
  /** rates_versions.version by tenant (0: no row), as last read. */
  readonly ratesVersions = new Map<string, number>();
  #size = 0;
  #dataVersion: unknown = null;

  constructor(
    /** Accounts kept at most; the ones cached first are dropped first. */
    private readonly maxAccounts = 4096,
    /** An account with more running transactions than this is not cached (each read would copy them all). */
    readonly maxRunning = 64,
  ) {}

  /** At the start of each write transaction: what other connections committed since the last one drops everything. */
  checkDataVersion(version: unknown): void {
    if (version !== this.#dataVersion) {
      this.clear();
      this.#dataVersion = version;
    }
  }

  isEmpty(): boolean {
    return this.#size === 0;
  }

  get(tenant: string, accountTag: string): CachedAccount | undefined {
    return this.#byTenant.get(tenant)?.get(accountTag);
  }

  set(tenant: string, accountTag: string, entry: CachedAccount): void {
    if (entry.running.size > this.maxRunning) return;
    let accounts = this.#byTenant.get(tenant);
    if (accounts === undefined) {
      accounts = new Map();
      this.#byTenant.set(tenant, accounts);
    }
    if (!accounts.has(accountTag)) {
      if (this.#size >= this.maxAccounts) this.#dropOldest();
      this.#size++;
    }
    accounts.set(accountTag, entry);
  }

  delete(tenant: string, accountTag: string): void {
    const accounts = this.#byTenant.get(tenant);
    if (accounts !== undefined && accounts.delete(accountTag)) this.#size--;
  }

  clear(): void {
    this.#byTenant.clear();
    this.#size = 0;
    this.ratesVersions.clear();
  }

  #dropOldest(): void {
    for (const [tenant, accounts] of this.#byTenant) {
      const oldest = accounts.keys().next();
      if (oldest.done === true) {
        this.#byTenant.delete(tenant);
        continue;
      }
      accounts.delete(oldest.value);
      this.#size--;
      if (accounts.size === 0) this.#byTenant.delete(tenant);
      return;
    }
  }
}

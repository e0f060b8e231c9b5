// The storage contract. The rating engine and the API depend only on this module; SQLite (the
// embedded default) and PostgreSQL implement it and run the same test suite.
//
// Every operation runs inside `Storage.transaction`: all of it commits or none of it does, and
// transactions never interleave their effects: the result is always that of some one-at-a-time
// order. SQLite runs them one at a time; PostgreSQL runs them concurrently at the SERIALIZABLE
// level and runs `work` again when PostgreSQL reports a conflict, so `work` must only talk to the
// repository (it may run more than once).
import type { Account, EntityMap, EntityName, Micros, PricelistRate, RunningTransaction, Transaction } from '../domain/types.ts';

/** How to find one entity: by id, or by its complete natural key (see ENTITIES[..].key). */
export type EntityRef = { id: string } | { key: Readonly<Record<string, string>> };

export type ScalarValue = string | number | boolean;

export type Condition =
  /** field equals value; a null value matches a stored null. */
  | { kind: 'eq'; field: string; value: ScalarValue | null }
  | { kind: 'in'; field: string; values: readonly ScalarValue[] }
  /** case-insensitive substring of `text` in any of `fields` (plain text, no pattern syntax). */
  | { kind: 'contains'; fields: readonly string[]; text: string }
  /** string-list field (json) shares at least one element with `values`. */
  | { kind: 'overlaps'; field: string; values: readonly string[] }
  /**
   * Accounts only: the account has a running transaction that is in progress and, when given,
   * is outbound (`outboundOnly`) and began at or before `begunAtOrBefore`.
   */
  | { kind: 'runningTransaction'; outboundOnly: boolean; begunAtOrBefore: Micros | null }
  /** matches nothing (a filter naming an unknown reference, for example). */
  | { kind: 'none' };

export interface ListQuery {
  filter: readonly Condition[];
  /**
   * Field to sort by. `null`, an unknown field, or one that isSortableField rejects keeps the
   * natural (insertion) order. Ties always keep the natural order.
   */
  sortField: string | null;
  /** Ascending puts nulls first, descending puts them last (MongoDB's order, which Canyan shows). */
  ascending: boolean;
  offset: number;
  /** null: no limit. */
  limit: number | null;
}

export class DuplicateKeyError extends Error {
  constructor(
    readonly entity: EntityName,
    readonly key: Readonly<Record<string, unknown>>,
  ) {
    super(`duplicate key for ${entity}: ${JSON.stringify(key)}`);
    this.name = 'DuplicateKeyError';
  }
}

/** A settled outcome of an engine operation, remembered so that a repeated request changes nothing. */
export interface OperationOutcome {
  tenant: string;
  transaction_tag: string;
  account_tag: string;
  outcome: 'ended' | 'rolled_back' | 'recorded';
  at: Micros;
}

/** The end of one account's running transaction (see Repository.settleRunning). */
export interface RunningSettlement {
  tenant: string;
  transactionTag: string;
  accountTag: string;
  /** Fields of the transaction record, upserted by (tenant, transaction_tag, account_tag). */
  record: Partial<Transaction>;
  /** Added to the account's balance; 0 leaves the account untouched. */
  balanceDelta: number;
  /** When the call ended: the 'ended' outcome's `at`. */
  at: Micros;
}

export interface Repository {
  // ---- generic entity access (API and engine) ----
  get<E extends EntityName>(entity: E, ref: EntityRef): Promise<EntityMap[E] | null>;
  /**
   * Find by id (when ref has one) or by natural key; insert when missing (with ref.id, or a new
   * UUIDv4, and the natural-key values of `ref`/`fields`); then set every field of `fields` that
   * is not undefined (null is not written either: upserts never unset). Returns the record after
   * the write. Throws DuplicateKeyError when the write would break a natural key's uniqueness.
   */
  upsert<E extends EntityName>(entity: E, ref: EntityRef, fields: Partial<EntityMap[E]>): Promise<EntityMap[E]>;
  /** The same write, without reading the record back (the engine's hot paths never use it). */
  upsert<E extends EntityName>(entity: E, ref: EntityRef, fields: Partial<EntityMap[E]>, options: { readBack: false }): Promise<void>;
  /** Deletes and returns the record, or null when none matched. Nothing cascades, except an account's running transactions. */
  delete<E extends EntityName>(entity: E, ref: EntityRef): Promise<EntityMap[E] | null>;
  list<E extends EntityName>(entity: E, query: ListQuery): Promise<EntityMap[E][]>;
  count(entity: EntityName, filter: readonly Condition[]): Promise<number>;

  // ---- accounts: balances ----
  /** balance += delta for (tenant, account_tag). Returns false when the account does not exist. */
  addToBalance(tenant: string, accountTag: string, delta: number): Promise<boolean>;
  /**
   * Set or increment the balance of every account of the tenant matching account_tag (when not
   * null) and sharing a tag with `tags` (when not null/empty). Returns how many matched.
   */
  adjustBalances(
    tenant: string,
    accountTag: string | null,
    tags: readonly string[] | null,
    mode: 'set' | 'increment',
    amount: number,
  ): Promise<number>;

  // ---- accounts: running transactions ----
  /** Running transactions of one account, oldest first. */
  listRunning(tenant: string, accountTag: string): Promise<RunningTransaction[]>;
  /**
   * The account (as `get` returns it) with its running transactions (as `listRunning`), in one
   * read; with `transactionTag`, only the one with that tag (if any). null when the account is missing.
   */
  getAccountWithRunning(
    tenant: string,
    accountTag: string,
    options?: { transactionTag: string },
  ): Promise<{ account: Account; running: RunningTransaction[] } | null>;
  /** Running transactions with this transaction tag, on any account of the tenant, oldest first. */
  findRunningByTransaction(tenant: string, transactionTag: string): Promise<RunningTransaction[]>;
  /**
   * Adds a running transaction to an existing account. Returns false, changing nothing, when the
   * account does not exist or already has a running transaction with that tag, and, with
   * `unlessSettled`, also when an outcome is stored for (tenant, transaction_tag, account_tag).
   */
  insertRunning(rt: RunningTransaction, options?: { unlessSettled: boolean }): Promise<boolean>;
  /** Marks it ended at `timestampEnd` (in_progress = false). Returns the updated element or null. */
  endRunning(tenant: string, accountTag: string, transactionTag: string, timestampEnd: Micros): Promise<RunningTransaction | null>;
  /** Removes it; returns how many were removed (0 or 1). */
  deleteRunning(tenant: string, accountTag: string, transactionTag: string): Promise<number>;

  // ---- rates ----
  /** Every pricelist rate of a tenant (for building the in-memory prefix index). */
  loadRates(tenant: string): Promise<PricelistRate[]>;
  /**
   * A number that changes whenever any carrier, pricelist or pricelist rate of the tenant is
   * written or deleted (bumped inside the same transaction as the write), so that cached rate
   * indexes know when to rebuild, also across processes.
   */
  ratesVersion(tenant: string): Promise<number>;

  /**
   * Optional, for storages where one statement is much cheaper than four (PostgreSQL round
   * trips). The same effects, in the same transaction, as
   *   upsert('transaction', { key: tenant/transaction_tag/account_tag }, record, { readBack: false });
   *   balanceDelta !== 0 && addToBalance(tenant, accountTag, balanceDelta);
   *   deleteRunning(tenant, accountTag, transactionTag);
   *   putOutcome({ ..., outcome: 'ended', at });
   * Returns false when the balance had to change and the account does not exist (the other
   * writes are made then: the caller aborts the transaction, as it would after addToBalance).
   * Callers fall back to the four calls when a storage does not implement it.
   */
  settleRunning?(settlement: RunningSettlement): Promise<boolean>;
  /**
   * Optional: settleRunning for several accounts of one call (distinct account tags) in one
   * step, with the same effects and answers as calling settleRunning for each in order.
   */
  settleRunningAll?(settlements: readonly RunningSettlement[]): Promise<boolean[]>;
  /**
   * Optional: insertRunning for several accounts (distinct account tags) in one step, with the
   * same effects and answers as calling insertRunning for each in order.
   */
  insertRunningAll?(rts: readonly RunningTransaction[], options: { unlessSettled: boolean }): Promise<boolean[]>;
  /**
   * Optional hint that changes nothing: the transaction is about to read these accounts of one
   * tenant, alone (get by natural key) and, unless `transactionTag` is null, with their running
   * transaction of that call (getAccountWithRunning). A storage whose reads cost a round trip
   * each reads them all at once and answers those reads from it until its next write. Storages
   * may ignore it. (Null where the running transactions are not needed: reading them is what
   * makes concurrent begins conflict under PostgreSQL's SERIALIZABLE.)
   */
  preloadAccounts?(tenant: string, accountTags: readonly string[], transactionTag: string | null): Promise<void>;

  // ---- idempotency of engine operations ----
  getOutcome(tenant: string, transactionTag: string, accountTag: string): Promise<OperationOutcome | null>;
  putOutcome(outcome: OperationOutcome): Promise<void>;
}

/**
 * What a transaction's work will read first, so that a storage can read it while it starts the
 * transaction (PostgreSQL: in the same round trip). A hint only: the work reads as usual.
 */
export interface TransactionHint {
  /** Accounts of one tenant, as preloadAccounts would be asked for them. */
  accounts?: { tenant: string; accountTags: readonly string[]; transactionTag: string | null };
  /** A tenant whose rates version the work reads (Repository.ratesVersion). */
  ratesOf?: string;
}

export interface Storage {
  /** Creates or upgrades the schema (versioned migrations). Safe to call on every start. */
  migrate(): Promise<void>;
  /**
   * Runs `work` atomically. If it throws, nothing it wrote is kept and the error is rethrown.
   * `work` may be run more than once (PostgreSQL repeats it after a serialization conflict).
   */
  transaction<T>(work: (repo: Repository) => Promise<T>, hint?: TransactionHint): Promise<T>;
  close(): Promise<void>;
}

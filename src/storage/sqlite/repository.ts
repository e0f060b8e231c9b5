// The Repository handed to one transaction's work. It refuses use once its transaction has
// ended, so a forgotten await cannot write outside (or into the next) transaction.
import type { Account, EntityMap, EntityName, Micros, PricelistRate, RunningTransaction } from '../../domain/types.ts';
import type { Condition, EntityRef, ListQuery, OperationOutcome, Repository } from '../storage.ts';
import { copyAccount, copyRunning, type AccountStore, type AccountWithRunning } from './account-store.ts';
import type { EntityStore } from './entity-store.ts';
import { OUTCOMES_TABLE, RATES_VERSION_TABLE } from './schema.ts';
import type { StatementCache } from './statement-cache.ts';

const SQL = {
  ratesVersion: `SELECT version FROM ${RATES_VERSION_TABLE} WHERE tenant = ?`,
  getOutcome: `SELECT tenant, transaction_tag, account_tag, outcome, at FROM ${OUTCOMES_TABLE} WHERE tenant = ? AND transaction_tag = ? AND account_tag = ?`,
  putOutcome:
    `INSERT INTO ${OUTCOMES_TABLE} (tenant, transaction_tag, account_tag, outcome, at) VALUES (?, ?, ?, ?, ?) ` +
    'ON CONFLICT (tenant, transaction_tag, account_tag) DO UPDATE SET outcome = excluded.outcome, at = excluded.at',
} as const;

export interface RepositoryParts {
  statements: StatementCache;
  entities: EntityStore;
  accounts: AccountStore;
}

/** Accounts read by preloadAccounts, valid until the repository's next write. */
interface Preloaded {
  tenant: string;
  transactionTag: string;
  byTag: Map<string, AccountWithRunning | null>;
}

export class SqliteRepository implements Repository {
  #open = true;
  // The engine reads a call's accounts right after announcing them (preloadAccounts): one
  // statement reads them all, and the reads are answered from it, each with its own copy, until
  // this transaction writes anything. Nothing else writes meanwhile: transactions of this
  // connection run one at a time, and other connections wait for our write lock.
  #preloaded: Preloaded | null = null;

  constructor(private readonly parts: RepositoryParts) {}

  /** Called when the owning transaction commits or rolls back. */
  close(): void {
    this.#open = false;
  }

  #use(): RepositoryParts {
    if (!this.#open) throw new Error('repository used after its transaction ended (a missing await?)');
    return this.parts;
  }

  /** For writes: what was preloaded may change. */
  #write(): RepositoryParts {
    const parts = this.#use();
    this.#preloaded = null;
    return parts;
  }

  /** The preloaded account (undefined when it was not preloaded for this tenant and call). */
  #preloadedAccount(tenant: string, accountTag: unknown, transactionTag: string | null): AccountWithRunning | null | undefined {
    const preloaded = this.#preloaded;
    if (preloaded === null || preloaded.tenant !== tenant || typeof accountTag !== 'string') return undefined;
    if (transactionTag !== null && transactionTag !== preloaded.transactionTag) return undefined;
    return preloaded.byTag.get(accountTag);
  }

  async preloadAccounts(tenant: string, accountTags: readonly string[], transactionTag: string): Promise<void> {
    const byTag = this.#use().accounts.accountsWithOneRunning(tenant, accountTags, transactionTag);
    this.#preloaded = { tenant, transactionTag, byTag };
  }

  async get<E extends EntityName>(entity: E, ref: EntityRef): Promise<EntityMap[E] | null> {
    const parts = this.#use();
    if (entity === 'account' && 'key' in ref) {
      const found = this.#preloadedAccount(ref.key.tenant, ref.key.account_tag, null);
      if (found !== undefined) return (found === null ? null : copyAccount(found.account)) as EntityMap[E] | null;
    }
    return parts.entities.get(entity, ref);
  }

  upsert<E extends EntityName>(entity: E, ref: EntityRef, fields: Partial<EntityMap[E]>): Promise<EntityMap[E]>;
  upsert<E extends EntityName>(entity: E, ref: EntityRef, fields: Partial<EntityMap[E]>, options: { readBack: false }): Promise<void>;
  async upsert<E extends EntityName>(
    entity: E,
    ref: EntityRef,
    fields: Partial<EntityMap[E]>,
    options?: { readBack: false },
  ): Promise<EntityMap[E] | void> {
    const entities = this.#write().entities;
    if (options?.readBack === false) entities.upsertWithoutReadBack(entity, ref, fields);
    else return entities.upsert(entity, ref, fields);
  }

  async delete<E extends EntityName>(entity: E, ref: EntityRef): Promise<EntityMap[E] | null> {
    return this.#write().entities.delete(entity, ref);
  }

  async list<E extends EntityName>(entity: E, query: ListQuery): Promise<EntityMap[E][]> {
    return this.#use().entities.list(entity, query);
  }

  async count(entity: EntityName, filter: readonly Condition[]): Promise<number> {
    return this.#use().entities.count(entity, filter);
  }

  async addToBalance(tenant: string, accountTag: string, delta: number): Promise<boolean> {
    return this.#write().accounts.addToBalance(tenant, accountTag, delta);
  }

  async adjustBalances(
    tenant: string,
    accountTag: string | null,
    tags: readonly string[] | null,
    mode: 'set' | 'increment',
    amount: number,
  ): Promise<number> {
    return this.#write().accounts.adjustBalances(tenant, accountTag, tags, mode, amount);
  }

  async listRunning(tenant: string, accountTag: string): Promise<RunningTransaction[]> {
    return this.#use().accounts.listRunning(tenant, accountTag);
  }

  async findRunningByTransaction(tenant: string, transactionTag: string): Promise<RunningTransaction[]> {
    return this.#use().accounts.findRunningByTransaction(tenant, transactionTag);
  }

  async getAccountWithRunning(
    tenant: string,
    accountTag: string,
    options?: { transactionTag: string },
  ): Promise<{ account: Account; running: RunningTransaction[] } | null> {
    const parts = this.#use();
    const transactionTag = options?.transactionTag ?? null;
    if (transactionTag !== null) {
      const found = this.#preloadedAccount(tenant, accountTag, transactionTag);
      if (found !== undefined) {
        if (found === null) return null;
        return { account: copyAccount(found.account), running: found.running === null ? [] : [copyRunning(found.running)] };
      }
    }
    return parts.accounts.getAccountWithRunning(tenant, accountTag, transactionTag);
  }

  async insertRunning(rt: RunningTransaction, options?: { unlessSettled: boolean }): Promise<boolean> {
    return this.#write().accounts.insertRunning(rt, options?.unlessSettled ?? false);
  }

  async endRunning(tenant: string, accountTag: string, transactionTag: string, timestampEnd: Micros): Promise<RunningTransaction | null> {
    return this.#write().accounts.endRunning(tenant, accountTag, transactionTag, timestampEnd);
  }

  async deleteRunning(tenant: string, accountTag: string, transactionTag: string): Promise<number> {
    return this.#write().accounts.deleteRunning(tenant, accountTag, transactionTag);
  }

  async loadRates(tenant: string): Promise<PricelistRate[]> {
    return this.#use().entities.allOfTenant('pricelist_rate', tenant);
  }

  async ratesVersion(tenant: string): Promise<number> {
    const version = this.#use().statements.get(SQL.ratesVersion, 'pluck').get(tenant);
    return version === undefined ? 0 : Number(version);
  }

  async getOutcome(tenant: string, transactionTag: string, accountTag: string): Promise<OperationOutcome | null> {
    const row = this.#use().statements.get(SQL.getOutcome).get(tenant, transactionTag, accountTag) as
      | { tenant: string; transaction_tag: string; account_tag: string; outcome: OperationOutcome['outcome']; at: number }
      | undefined;
    return row === undefined ? null : { ...row, at: Number(row.at) };
  }

  async putOutcome(outcome: OperationOutcome): Promise<void> {
    this.#write()
      .statements.get(SQL.putOutcome)
      .run(outcome.tenant, outcome.transaction_tag, outcome.account_tag, outcome.outcome, outcome.at);
  }
}

// The Repository handed to one transaction's work. It refuses use once its transaction has
// ended, so a forgotten await cannot write outside (or into the next) transaction.
import type { Account, EntityMap, EntityName, Micros, PricelistRate, RunningTransaction } from '../../domain/types.ts';
import type { Condition, EntityRef, ListQuery, OperationOutcome, Repository } from '../storage.ts';
import type { AccountStore } from './account-store.ts';
import type { EntityStore } from './entity-store.ts';
import { OUTCOMES_TABLE, RATE_ENTITIES, RATES_VERSION_TABLE } from './schema.ts';
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

export class SqliteRepository implements Repository {
  #open = true;

  constructor(private readonly parts: RepositoryParts) {}

  /** Called when the owning transaction commits or rolls back. */
  close(): void {
    this.#open = false;
  }

  #use(): RepositoryParts {
    if (!this.#open) throw new Error('repository used after its transaction ended (a missing await?)');
    return this.parts;
  }

  async get<E extends EntityName>(entity: E, ref: EntityRef): Promise<EntityMap[E] | null> {
    const parts = this.#use();
    // Accounts by natural key come from the account cache (account-store.ts) when they can.
    if (entity === 'account' && 'key' in ref) {
      const { tenant, account_tag: accountTag } = ref.key;
      if (typeof tenant === 'string' && typeof accountTag === 'string') {
        const account = parts.accounts.getAccount(tenant, accountTag);
        if (account !== undefined) return account as EntityMap[E] | null;
      }
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
    const { entities, accounts } = this.#use();
    // An account written by the entity store may change in any way (even its id, which its
    // running transactions follow): cached accounts are read again.
    if (entity === 'account') accounts.forgetAll();
    else if (RATE_ENTITIES.includes(entity)) accounts.cache.ratesVersions.clear();
    if (options?.readBack === false) entities.upsertWithoutReadBack(entity, ref, fields);
    else return entities.upsert(entity, ref, fields);
  }

  async delete<E extends EntityName>(entity: E, ref: EntityRef): Promise<EntityMap[E] | null> {
    const { entities, accounts } = this.#use();
    if (entity === 'account') accounts.forgetAll();
    else if (RATE_ENTITIES.includes(entity)) accounts.cache.ratesVersions.clear();
    return entities.delete(entity, ref);
  }

  async list<E extends EntityName>(entity: E, query: ListQuery): Promise<EntityMap[E][]> {
    return this.#use().entities.list(entity, query);
  }

  async count(entity: EntityName, filter: readonly Condition[]): Promise<number> {
    return this.#use().entities.count(entity, filter);
  }

  async addToBalance(tenant: string, accountTag: string, delta: number): Promise<boolean> {
    return this.#use().accounts.addToBalance(tenant, accountTag, delta);
  }

  async adjustBalances(
    tenant: string,
    accountTag: string | null,
    tags: readonly string[] | null,
    mode: 'set' | 'increment',
    amount: number,
  ): Promise<number> {
    return this.#use().accounts.adjustBalances(tenant, accountTag, tags, mode, amount);
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
    return this.#use().accounts.getAccountWithRunning(tenant, accountTag, options?.transactionTag ?? null);
  }

  async insertRunning(rt: RunningTransaction, options?: { unlessSettled: boolean }): Promise<boolean> {
    return this.#use().accounts.insertRunning(rt, options?.unlessSettled ?? false);
  }

  async endRunning(tenant: string, accountTag: string, transactionTag: string, timestampEnd: Micros): Promise<RunningTransaction | null> {
    return this.#use().accounts.endRunning(tenant, accountTag, transactionTag, timestampEnd);
  }

  async deleteRunning(tenant: string, accountTag: string, transactionTag: string): Promise<number> {
    return this.#use().accounts.deleteRunning(tenant, accountTag, transactionTag);
  }

  async loadRates(tenant: string): Promise<PricelistRate[]> {
    return this.#use().entities.allOfTenant('pricelist_rate', tenant);
  }

  async ratesVersion(tenant: string): Promise<number> {
    const { statements, accounts } = this.#use();
    const versions = accounts.cache.ratesVersions;
    const cached = versions.get(tenant);
    if (cached !== undefined) return cached;
    const row = statements.get(SQL.ratesVersion, 'pluck').get(tenant);
    const version = row === undefined ? 0 : Number(row);
    versions.set(tenant, version);
    return version;
  }

  async getOutcome(tenant: string, transactionTag: string, accountTag: string): Promise<OperationOutcome | null> {
    const row = this.#use().statements.get(SQL.getOutcome).get(tenant, transactionTag, accountTag) as
      | { tenant: string; transaction_tag: string; account_tag: string; outcome: OperationOutcome['outcome']; at: number }
      | undefined;
    return row === undefined ? null : { ...row, at: Number(row.at) };
  }

  async putOutcome(outcome: OperationOutcome): Promise<void> {
    this.#use()
      .statements.get(SQL.putOutcome)
      .run(outcome.tenant, outcome.transaction_tag, outcome.account_tag, outcome.outcome, outcome.at);
  }
}

// The Repository handed to one attempt of a transaction's work. Every call goes through the
// attempt's TransactionSession, which refuses use once the attempt has ended.
import type { Account, EntityMap, EntityName, Micros, PricelistRate, RunningTransaction } from '../../domain/types.ts';
import type { Condition, EntityRef, ListQuery, OperationOutcome, Repository, RunningSettlement } from '../storage.ts';
import { AccountStore } from './account-store.ts';
import { decodeInteger, encodeValue } from './codec.ts';
import { EntityStore, isUniqueViolation } from './entity-store.ts';
import type { ListSqlOptions } from './list-query.ts';
import type { RatesVersionCache } from './rates-version-cache.ts';
import { RATE_ENTITIES } from './schema.ts';
import type { TransactionSession } from './session.ts';
import { OUTCOMES_TABLE, RATES_VERSION_TABLE, RUNNING_TABLE, shiftParameters } from './sql.ts';

const SQL = {
  ratesVersion: `SELECT version FROM ${RATES_VERSION_TABLE} WHERE tenant = $1::text`,
  getOutcome: `SELECT tenant, transaction_tag, account_tag, outcome, at FROM ${OUTCOMES_TABLE} WHERE tenant = $1::text AND transaction_tag = $2::text AND account_tag = $3::text`,
  putOutcome:
    `INSERT INTO ${OUTCOMES_TABLE} (tenant, transaction_tag, account_tag, outcome, at) VALUES ($1::text, $2::text, $3::text, $4::text, $5::bigint) ` +
    'ON CONFLICT (tenant, transaction_tag, account_tag) DO UPDATE SET outcome = EXCLUDED.outcome, at = EXCLUDED.at',
} as const;

/**
 * settleRunning as one statement: the transaction record's upsert (its `width` parameters come
 * first), then data-modifying CTEs for the balance, the running transaction and the outcome.
 * They touch different rows, so that they all see the same snapshot changes nothing; the
 * statement answers how many balances it changed.
 */
function settleRunningSql(recordUpsert: string, width: number): string {
  return `WITH ${settleRunningCtes(recordUpsert, width, '')} SELECT count(*) FROM balance`;
}

/**
 * The CTEs of one settlement: names end with `suffix`; the record's `width` parameters come
 * first, then tenant, account tag, transaction tag, delta and time.
 */
function settleRunningCtes(recordUpsert: string, width: number, suffix: string): string {
  const [tenant, account, transaction, delta, at] = [1, 2, 3, 4, 5].map((i) => `$${width + i}`);
  return (
    `record${suffix} AS (${recordUpsert}), ` +
    `balance${suffix} AS (UPDATE accounts SET balance = balance + ${delta}::bigint ` +
    `WHERE tenant = ${tenant}::text AND account_tag = ${account}::text AND ${delta}::bigint <> 0 RETURNING 1), ` +
    `running${suffix} AS (DELETE FROM ${RUNNING_TABLE} WHERE account_id = (SELECT id FROM accounts WHERE tenant = ${tenant}::text AND account_tag = ${account}::text) ` +
    `AND transaction_tag = ${transaction}::text RETURNING 1), ` +
    `outcome${suffix} AS (INSERT INTO ${OUTCOMES_TABLE} (tenant, transaction_tag, account_tag, outcome, at) ` +
    `VALUES (${tenant}::text, ${transaction}::text, ${account}::text, 'ended', ${at}::bigint) ` +
    'ON CONFLICT (tenant, transaction_tag, account_tag) DO UPDATE SET outcome = EXCLUDED.outcome, at = EXCLUDED.at RETURNING 1)'
  );
}

const settleAllStatements = new Map<string, string>();

/**
 * Several settlements (distinct accounts, so distinct rows) as one statement answering each
 * one's count of changed balances. Each settlement's parameters follow the previous one's.
 */
function settleRunningAllSql(recordUpserts: readonly string[], widths: readonly number[]): string {
  const key = `${widths.join(',')}\u0000${recordUpserts.join('\u0000')}`;
  let sql = settleAllStatements.get(key);
  if (sql === undefined) {
    const ctes: string[] = [];
    let base = 0;
    recordUpserts.forEach((upsert, i) => {
      ctes.push(shiftParameters(settleRunningCtes(upsert, widths[i], `_${i}`), base));
      base += widths[i] + SETTLEMENT_PARAMS;
    });
    // Referenced in order, so the settlements run in order.
    sql = `WITH ${ctes.join(', ')} SELECT ${recordUpserts.map((_, i) => `(SELECT count(*) FROM balance_${i})`).join(', ')}`;
    settleAllStatements.set(key, sql);
  }
  return sql;
}

const SETTLEMENT_PARAMS = 5;

/** The batched writes touch one row per account: the contract asks for distinct accounts. */
function requireDistinctAccounts(keys: readonly string[], method: string): void {
  if (new Set(keys).size !== keys.length) throw new Error(`${method}: the same account twice in one call (the contract asks for distinct accounts)`);
}

export class PostgresRepository implements Repository {
  readonly #entities: EntityStore;
  readonly #accounts: AccountStore;

  #wroteRates = false;
  // Accounts with their running transaction of a call, as read in this transaction: read again
  // with nothing written in between, they are the same (one snapshot), so the engine's second
  // look (completeTransaction checks whether the call is running, then the end reads the same
  // account) costs no round trip. Any write forgets them.
  readonly #accountReads = new Map<string, { account: Account; running: RunningTransaction[] } | null>();

  constructor(
    private readonly session: TransactionSession,
    listOptions: ListSqlOptions,
    private readonly ratesVersions: RatesVersionCache | null = null,
  ) {
    this.#entities = new EntityStore(session, listOptions);
    this.#accounts = new AccountStore(session);
  }

  #accountWrites = 0;

  #forgetAccountReads(): void {
    this.#accountWrites++;
    this.#accountReads.clear();
    this.#preloadedAccounts.clear();
  }

  // Accounts read by preloadAccounts, by tenant and tag, for get('account') by natural key;
  // forgotten on any write like #accountReads.
  readonly #preloadedAccounts = new Map<string, Account | null>();

  /** Called once the transaction has committed or rolled back. */
  finish(): void {
    if (this.#wroteRates) this.ratesVersions?.rateWriteEnded();
    this.#wroteRates = false;
  }

  /** A write that bumps a rates version: cached versions are not used until it has ended. */
  #noteWrite(entity: EntityName): void {
    if (!RATE_ENTITIES.includes(entity)) return;
    this.#snapshotRatesVersions.clear();
    if (this.#wroteRates || this.ratesVersions === null) return;
    this.#wroteRates = true;
    this.ratesVersions.rateWriteStarted();
  }

  get<E extends EntityName>(entity: E, ref: EntityRef): Promise<EntityMap[E] | null> {
    if (entity === 'account' && this.#preloadedAccounts.size > 0 && 'key' in ref) {
      const { tenant, account_tag: accountTag } = ref.key;
      if (tenant !== undefined && accountTag !== undefined && Object.keys(ref.key).length === 2) {
        const preloaded = this.#preloadedAccounts.get(JSON.stringify([tenant, accountTag]));
        if (preloaded !== undefined) return Promise.resolve(structuredClone(preloaded) as EntityMap[E] | null);
      }
    }
    return this.#entities.get(entity, ref);
  }

  /** Accounts read while the transaction started (start-preload.ts), as preloadAccounts with no transaction tag. */
  acceptPreloadedAccounts(tenant: string, found: ReadonlyMap<string, Account | null>): void {
    for (const [tag, account] of found) this.#preloadedAccounts.set(JSON.stringify([tenant, tag]), account);
  }

  /** Accounts with their running transaction of a call, read while the transaction started. */
  acceptPreloadedAccountsWithRunning(
    tenant: string,
    transactionTag: string,
    found: ReadonlyMap<string, { account: Account; running: RunningTransaction[] } | null>,
  ): void {
    for (const [tag, read] of found) {
      this.#accountReads.set(JSON.stringify([tenant, tag, transactionTag]), read);
      this.#preloadedAccounts.set(JSON.stringify([tenant, tag]), read === null ? null : structuredClone(read.account));
    }
  }

  /** A tenant's rates version read in this transaction's snapshot while it started. */
  acceptRatesVersion(tenant: string, version: number): void {
    this.#snapshotRatesVersions.set(tenant, version);
  }

  // Rates versions read in this transaction's own snapshot (start-preload.ts): exact for it, so
  // no cache rule applies; forgotten when the transaction writes rates (the trigger bumps them).
  readonly #snapshotRatesVersions = new Map<string, number>();

  async preloadAccounts(tenant: string, accountTags: readonly string[], transactionTag: string | null): Promise<void> {
    if (transactionTag === null) {
      const wanted = accountTags.filter((tag) => !this.#preloadedAccounts.has(JSON.stringify([tenant, tag])));
      if (wanted.length === 0) return;
      const writes = this.#accountWrites;
      const found = await this.#accounts.getAccounts(tenant, wanted);
      if (writes !== this.#accountWrites) return;
      for (const [tag, account] of found) this.#preloadedAccounts.set(JSON.stringify([tenant, tag]), structuredClone(account));
      return;
    }
    const wanted = accountTags.filter((tag) => !this.#accountReads.has(JSON.stringify([tenant, tag, transactionTag])));
    if (wanted.length === 0) return;
    const writes = this.#accountWrites;
    const found = await this.#accounts.getAccountsWithOneRunning(tenant, wanted, transactionTag);
    // Not if a write was sent meanwhile (a caller that did not await): the read may predate it.
    if (writes !== this.#accountWrites) return;
    for (const [tag, read] of found) {
      this.#accountReads.set(JSON.stringify([tenant, tag, transactionTag]), structuredClone(read));
      this.#preloadedAccounts.set(JSON.stringify([tenant, tag]), read === null ? null : structuredClone(read.account));
    }
  }

  upsert<E extends EntityName>(entity: E, ref: EntityRef, fields: Partial<EntityMap[E]>): Promise<EntityMap[E]>;
  upsert<E extends EntityName>(entity: E, ref: EntityRef, fields: Partial<EntityMap[E]>, options: { readBack: false }): Promise<void>;
  async upsert<E extends EntityName>(
    entity: E,
    ref: EntityRef,
    fields: Partial<EntityMap[E]>,
    options?: { readBack: false },
  ): Promise<EntityMap[E] | void> {
    this.#forgetAccountReads();
    this.#noteWrite(entity);
    // RETURNING costs next to nothing here (no extra round trip), so both forms share one write.
    const record = await this.#entities.upsert(entity, ref, fields);
    if (options?.readBack !== false) return record;
  }

  delete<E extends EntityName>(entity: E, ref: EntityRef): Promise<EntityMap[E] | null> {
    this.#forgetAccountReads();
    this.#noteWrite(entity);
    return this.#entities.delete(entity, ref);
  }

  list<E extends EntityName>(entity: E, query: ListQuery): Promise<EntityMap[E][]> {
    return this.#entities.list(entity, query);
  }

  count(entity: EntityName, filter: readonly Condition[]): Promise<number> {
    return this.#entities.count(entity, filter);
  }

  addToBalance(tenant: string, accountTag: string, delta: number): Promise<boolean> {
    this.#forgetAccountReads();
    return this.#accounts.addToBalance(tenant, accountTag, delta);
  }

  adjustBalances(tenant: string, accountTag: string | null, tags: readonly string[] | null, mode: 'set' | 'increment', amount: number): Promise<number> {
    this.#forgetAccountReads();
    return this.#accounts.adjustBalances(tenant, accountTag, tags, mode, amount);
  }

  listRunning(tenant: string, accountTag: string): Promise<RunningTransaction[]> {
    return this.#accounts.listRunning(tenant, accountTag);
  }

  findRunningByTransaction(tenant: string, transactionTag: string): Promise<RunningTransaction[]> {
    return this.#accounts.findRunningByTransaction(tenant, transactionTag);
  }

  async getAccountWithRunning(
    tenant: string,
    accountTag: string,
    options?: { transactionTag: string },
  ): Promise<{ account: Account; running: RunningTransaction[] } | null> {
    const transactionTag = options?.transactionTag ?? null;
    const key = JSON.stringify([tenant, accountTag, transactionTag]);
    const remembered = this.#accountReads.get(key);
    // A copy, so that a caller changing what it got cannot change what the next one gets.
    if (remembered !== undefined) return structuredClone(remembered);
    const writes = this.#accountWrites;
    const found = await this.#accounts.getAccountWithRunning(tenant, accountTag, transactionTag);
    // Not if a write was sent meanwhile (a caller that did not await): the read may predate it.
    if (writes === this.#accountWrites) this.#accountReads.set(key, structuredClone(found));
    return found;
  }

  insertRunning(rt: RunningTransaction, options?: { unlessSettled: boolean }): Promise<boolean> {
    this.#forgetAccountReads();
    return this.#accounts.insertRunning(rt, options?.unlessSettled ?? false);
  }

  insertRunningAll(rts: readonly RunningTransaction[], options: { unlessSettled: boolean }): Promise<boolean[]> {
    this.#forgetAccountReads();
    if (rts.length === 0) return Promise.resolve([]);
    requireDistinctAccounts(rts.map((rt) => `${rt.tenant}\u0000${rt.account_tag}`), 'insertRunningAll');
    return this.#accounts.insertRunningAll(rts, options.unlessSettled);
  }

  endRunning(tenant: string, accountTag: string, transactionTag: string, timestampEnd: Micros): Promise<RunningTransaction | null> {
    this.#forgetAccountReads();
    return this.#accounts.endRunning(tenant, accountTag, transactionTag, timestampEnd);
  }

  deleteRunning(tenant: string, accountTag: string, transactionTag: string): Promise<number> {
    this.#forgetAccountReads();
    return this.#accounts.deleteRunning(tenant, accountTag, transactionTag);
  }

  loadRates(tenant: string): Promise<PricelistRate[]> {
    return this.#entities.allOfTenant('pricelist_rate', tenant);
  }

  // The cache (rates-version-cache.ts) is only used by a transaction that has not read anything
  // yet: its snapshot, taken by its next statement, then includes every version the cache may
  // hold, so rates it loads for a cached version are never older than that version. For the same
  // reason only a read that is the transaction's first statement is remembered.
  async ratesVersion(tenant: string): Promise<number> {
    const known = this.#snapshotRatesVersions.get(tenant);
    if (known !== undefined) return known;
    const cache = this.ratesVersions;
    const fresh = !this.session.used;
    if (cache !== null && fresh) {
      const cached = cache.lookup(tenant);
      if (cached !== undefined) return cached;
    }
    const generation = cache?.generation ?? 0;
    const { rows } = await this.session.query(SQL.ratesVersion, [tenant], true);
    const version = rows.length === 0 ? 0 : decodeInteger(rows[0][0]);
    if (cache !== null && fresh) cache.remember(tenant, version, generation);
    return version;
  }

  // One round trip instead of four (each costs ~0.1 ms of the engine's CPU).
  async settleRunning(settlement: RunningSettlement): Promise<boolean> {
    this.#forgetAccountReads();
    const { tenant, transactionTag, accountTag, balanceDelta, at } = settlement;
    const key = { tenant, transaction_tag: transactionTag, account_tag: accountTag };
    const record = this.#entities.upsertByKeyStatement('transaction', key, settlement.record);
    if (record === null) {
      // A record that needs more than one statement (it cannot happen for the engine's fields).
      await this.upsert('transaction', { key }, settlement.record, { readBack: false });
      if (balanceDelta !== 0 && !(await this.addToBalance(tenant, accountTag, balanceDelta))) return false;
      await this.deleteRunning(tenant, accountTag, transactionTag);
      await this.putOutcome({ tenant, transaction_tag: transactionTag, account_tag: accountTag, outcome: 'ended', at });
      return true;
    }
    const params = [
      ...record.params,
      tenant,
      accountTag,
      transactionTag,
      encodeValue('money', balanceDelta),
      encodeValue('micros', at),
    ];
    try {
      const { rows } = await this.session.query(settleRunningSql(record.sql, record.params.length), params, true);
      return balanceDelta === 0 || decodeInteger(rows[0][0]) > 0;
    } catch (error) {
      // A unique violation (a random id taken) is what upsert reports as DuplicateKeyError.
      if (isUniqueViolation(error)) throw record.duplicate();
      throw error;
    }
  }

  // All of a call's settlements in one round trip.
  async settleRunningAll(settlements: readonly RunningSettlement[]): Promise<boolean[]> {
    if (settlements.length <= 1) return Promise.all(settlements.map((settlement) => this.settleRunning(settlement)));
    requireDistinctAccounts(settlements.map((settlement) => `${settlement.tenant}\u0000${settlement.accountTag}`), 'settleRunningAll');
    this.#forgetAccountReads();
    const records = settlements.map(({ tenant, transactionTag, accountTag, record }) =>
      this.#entities.upsertByKeyStatement('transaction', { tenant, transaction_tag: transactionTag, account_tag: accountTag }, record),
    );
    const statements = records.filter((record) => record !== null);
    if (statements.length < records.length) {
      // A record that needs more than one statement (it cannot happen for the engine's fields).
      const settled: boolean[] = [];
      for (const settlement of settlements) settled.push(await this.settleRunning(settlement));
      return settled;
    }
    const params = settlements.flatMap((settlement, i) => [
      ...statements[i].params,
      settlement.tenant,
      settlement.accountTag,
      settlement.transactionTag,
      encodeValue('money', settlement.balanceDelta),
      encodeValue('micros', settlement.at),
    ]);
    const sql = settleRunningAllSql(
      statements.map((statement) => statement.sql),
      statements.map((statement) => statement.params.length),
    );
    try {
      const { rows } = await this.session.query(sql, params, true);
      return settlements.map((settlement, i) => settlement.balanceDelta === 0 || decodeInteger(rows[0][i]) > 0);
    } catch (error) {
      // A unique violation (a random id taken) is what upsert reports as DuplicateKeyError.
      if (isUniqueViolation(error)) throw statements[0].duplicate();
      throw error;
    }
  }

  async getOutcome(tenant: string, transactionTag: string, accountTag: string): Promise<OperationOutcome | null> {
    const { rows } = await this.session.query(SQL.getOutcome, [tenant, transactionTag, accountTag], true);
    if (rows.length === 0) return null;
    const [rowTenant, rowTransaction, rowAccount, outcome, at] = rows[0];
    return {
      tenant: rowTenant as string,
      transaction_tag: rowTransaction as string,
      account_tag: rowAccount as string,
      outcome: outcome as OperationOutcome['outcome'],
      at: decodeInteger(at),
    };
  }

  async putOutcome(outcome: OperationOutcome): Promise<void> {
    this.#forgetAccountReads();
    await this.session.query(
      SQL.putOutcome,
      [
        encodeValue('string', outcome.tenant),
        encodeValue('string', outcome.transaction_tag),
        encodeValue('string', outcome.account_tag),
        encodeValue('string', outcome.outcome),
        encodeValue('micros', outcome.at),
      ],
      true,
    );
  }
}

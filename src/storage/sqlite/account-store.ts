// Account balances and running transactions. Running transactions are linked to the account
// row by id; tenant and account_tag are always read from the account, so they follow renames.
import type { FieldKind } from '../../domain/entities.ts';
import type { Account, FrozenRate, Micros, RunningTransaction } from '../../domain/types.ts';
import { decodeValue, encodeValue, type SqlValue } from './codec.ts';
import { jsonArraySql, jsonRowDecoder, parseJsonRow, type JsonColumn } from './json-rows.ts';
import { OUTCOMES_TABLE, RUNNING_TABLE } from './schema.ts';
import { quoteIdentifier as q } from './sql-names.ts';
import type { StatementCache } from './statement-cache.ts';
import { TABLE_SPECS } from './table-spec.ts';
import { AccountCache, copyAccount, copyRunning, type CachedAccount } from './account-cache.ts';

const ACCOUNT_ID = 'SELECT id FROM accounts WHERE tenant = ? AND account_tag = ?';
const RUNNING_FIELDS =
  'transaction_tag, proxy_tag, source, source_ip, destination, carrier_ip, tags, destination_rate, ' +
  'in_progress, inbound, "primary", timestamp_begin, timestamp_end';
const RUNNING_COLUMNS =
  'r.transaction_tag, r.proxy_tag, r.source, r.source_ip, r.destination, r.carrier_ip, r.tags, r.destination_rate, ' +
  'r.in_progress, r.inbound, r."primary", r.timestamp_begin, r.timestamp_end';

const RUNNING_KINDS: Readonly<Record<string, FieldKind>> = {
  tags: 'json',
  destination_rate: 'json',
  in_progress: 'bool',
  inbound: 'bool',
  '"primary"': 'bool',
  timestamp_begin: 'micros',
  timestamp_end: 'micros',
};

const ACCOUNT_SPEC = TABLE_SPECS.account;
const decodeAccount = jsonRowDecoder(ACCOUNT_SPEC.fieldKinds);
// The account's columns, then its running transaction's (null when it has none) in the order
// decodeRunning reads them, for the engine's hot reads (json-rows.ts says why as JSON).
const ACCOUNT_WITH_RUNNING_ROW: readonly JsonColumn[] = [
  ...ACCOUNT_SPEC.columns.map((c) => ({ sql: `a.${q(c.name)}`, kind: c.kind })),
  { sql: 'a.tenant', kind: 'string' },
  { sql: 'a.account_tag', kind: 'string' },
  ...RUNNING_FIELDS.split(', ').map((name): JsonColumn => ({ sql: `r.${name}`, kind: RUNNING_KINDS[name] ?? 'string' })),
];
// A settled call (ended, rolled back, recorded) must not be reopened by a late begin.
const RUNNING_WITH_OUTCOME_CHECK =
  `INSERT INTO ${RUNNING_TABLE} (account_id, transaction_tag, proxy_tag, source, source_ip, destination, carrier_ip, ` +
  'tags, destination_rate, in_progress, inbound, "primary", timestamp_begin, timestamp_end) ' +
  'SELECT a.id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM accounts a WHERE a.tenant = ? AND a.account_tag = ? ' +
  `AND NOT EXISTS (SELECT 1 FROM ${OUTCOMES_TABLE} o WHERE o.tenant = a.tenant AND o.transaction_tag = ? AND o.account_tag = a.account_tag) ` +
  'ON CONFLICT (account_id, transaction_tag) DO NOTHING';

const SQL = {
  // One row per running transaction (or one row of nulls after the account's columns when none).
  // Sorted in JS by the trailing _seq: ORDER BY would build a temporary b-tree for every read,
  // when an account mostly has no running transaction or one.
  accountWithRunning:
    `SELECT ${jsonArraySql([...ACCOUNT_WITH_RUNNING_ROW, { sql: 'r._seq', kind: 'int' }])} FROM accounts a ` +
    `LEFT JOIN ${RUNNING_TABLE} r ON r.account_id = a.id WHERE a.tenant = ? AND a.account_tag = ?`,
  accountWithOneRunning:
    `SELECT ${jsonArraySql(ACCOUNT_WITH_RUNNING_ROW)} FROM accounts a ` +
    `LEFT JOIN ${RUNNING_TABLE} r ON r.account_id = a.id AND r.transaction_tag = ? WHERE a.tenant = ? AND a.account_tag = ?`,
  insertRunningUnlessSettled: RUNNING_WITH_OUTCOME_CHECK,
  addToBalance: 'UPDATE accounts SET balance = balance + ? WHERE tenant = ? AND account_tag = ?',
  listRunning:
    `SELECT a.tenant, a.account_tag, ${RUNNING_COLUMNS} FROM accounts a JOIN ${RUNNING_TABLE} r ON r.account_id = a.id ` +
    'WHERE a.tenant = ? AND a.account_tag = ? ORDER BY r._seq',
  findRunningByTransaction:
    `SELECT a.tenant, a.account_tag, ${RUNNING_COLUMNS} FROM ${RUNNING_TABLE} r JOIN accounts a ON a.id = r.account_id ` +
    'WHERE r.transaction_tag = ? AND a.tenant = ? ORDER BY r._seq',
  // The WHERE clause is needed for SQLite to parse ON CONFLICT after INSERT ... SELECT.
  insertRunning:
    `INSERT INTO ${RUNNING_TABLE} (account_id, transaction_tag, proxy_tag, source, source_ip, destination, carrier_ip, ` +
    'tags, destination_rate, in_progress, inbound, "primary", timestamp_begin, timestamp_end) ' +
    'SELECT a.id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM accounts a WHERE a.tenant = ? AND a.account_tag = ? ' +
    'ON CONFLICT (account_id, transaction_tag) DO NOTHING',
  endRunning:
    `UPDATE ${RUNNING_TABLE} SET in_progress = 0, timestamp_end = ? WHERE account_id = (${ACCOUNT_ID}) AND transaction_tag = ? ` +
    `RETURNING ${RUNNING_FIELDS}`,
  deleteRunning: `DELETE FROM ${RUNNING_TABLE} WHERE account_id = (${ACCOUNT_ID}) AND transaction_tag = ?`,
  // The same two, for an account whose id is known from the cache (the id index is not searched).
  insertRunningUnlessSettledById:
    `INSERT INTO ${RUNNING_TABLE} (account_id, transaction_tag, proxy_tag, source, source_ip, destination, carrier_ip, ` +
    'tags, destination_rate, in_progress, inbound, "primary", timestamp_begin, timestamp_end) ' +
    'SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? ' +
    `WHERE NOT EXISTS (SELECT 1 FROM ${OUTCOMES_TABLE} o WHERE o.tenant = ? AND o.transaction_tag = ? AND o.account_tag = ?) ` +
    'ON CONFLICT (account_id, transaction_tag) DO NOTHING',
  deleteRunningById: `DELETE FROM ${RUNNING_TABLE} WHERE account_id = ? AND transaction_tag = ?`,
} as const;

type RawRow = readonly unknown[];

/**
 * Decodes [tenant, account_tag, ...RUNNING_FIELDS] rows. JSON columns are text in raw rows and
 * already parsed in json_array rows (`parsed`).
 */
function decodeRunning(row: RawRow, parsed = false, offset = 0): RunningTransaction {
  const end = row[offset + 14];
  return {
    tenant: row[offset] as string,
    account_tag: row[offset + 1] as string,
    transaction_tag: row[offset + 2] as string,
    proxy_tag: row[offset + 3] as string | null,
    source: row[offset + 4] as string | null,
    source_ip: row[offset + 5] as string | null,
    destination: row[offset + 6] as string | null,
    carrier_ip: row[offset + 7] as string | null,
    tags: (parsed ? row[offset + 8] : decodeValue('json', row[offset + 8])) as string[] | null,
    destination_rate: (parsed ? row[offset + 9] : decodeValue('json', row[offset + 9])) as FrozenRate | null,
    in_progress: row[offset + 10] !== 0,
    inbound: row[offset + 11] !== 0,
    primary: row[offset + 12] !== 0,
    timestamp_begin: Number(row[offset + 13]),
    timestamp_end: end === null ? null : Number(end),
  };
}

function isTextOrNull(value: unknown): boolean {
  return value === null || typeof value === 'string';
}

/** A running transaction as the database will hold it after inserting `rt` (null: cannot tell). */
function asStored(rt: RunningTransaction, tags: SqlValue, rate: SqlValue): RunningTransaction | null {
  if (typeof rt.transaction_tag !== 'string') return null;
  if (!isTextOrNull(rt.proxy_tag) || !isTextOrNull(rt.source) || !isTextOrNull(rt.source_ip)) return null;
  if (!isTextOrNull(rt.destination) || !isTextOrNull(rt.carrier_ip)) return null;
  if (!Number.isSafeInteger(rt.timestamp_begin) || (rt.timestamp_end !== null && !Number.isSafeInteger(rt.timestamp_end))) return null;
  return {
    tenant: rt.tenant,
    account_tag: rt.account_tag,
    transaction_tag: rt.transaction_tag,
    proxy_tag: rt.proxy_tag,
    source: rt.source,
    source_ip: rt.source_ip,
    destination: rt.destination,
    carrier_ip: rt.carrier_ip,
    // What reading the stored JSON text back gives.
    tags: typeof tags === 'string' ? (JSON.parse(tags) as string[] | null) : null,
    destination_rate: typeof rate === 'string' ? (JSON.parse(rate) as FrozenRate | null) : null,
    in_progress: rt.in_progress,
    inbound: rt.inbound,
    primary: rt.primary,
    timestamp_begin: rt.timestamp_begin,
    timestamp_end: rt.timestamp_end,
  };
}

export class AccountStore {
  /** See account-cache.ts; index.ts checks it at each transaction start and drops it on rollbacks. */
  readonly cache = new AccountCache();
  // Accounts with too many running transactions to cache: read with the per-call statements.
  readonly #uncached = new Set<string>();

  constructor(private readonly statements: StatementCache) {}

  /** Drops every cached account (an account written through the entity store, a rollback, another connection's commit). */
  forgetAll(): void {
    this.cache.clear();
    this.#uncached.clear();
  }

  /**
   * Whether a write to this account can be applied to the cache. SQLite compares a number with
   * a text column as text, the cache does not: a caller breaking the types drops everything.
   */
  #cacheable(tenant: unknown, accountTag: unknown): boolean {
    if (typeof tenant === 'string' && typeof accountTag === 'string') return true;
    this.forgetAll();
    return false;
  }

  /** Checks the cache against PRAGMA data_version at the start of a write transaction. */
  startTransaction(dataVersion: unknown): void {
    this.cache.checkDataVersion(dataVersion);
    // Entries dropped with the cache may have been marked as too big: look at them afresh.
    if (this.cache.isEmpty()) this.#uncached.clear();
  }

  addToBalance(tenant: string, accountTag: string, delta: number): boolean {
    const changed = this.statements.get(SQL.addToBalance).run(delta, tenant, accountTag).changes > 0;
    const entry = changed && this.#cacheable(tenant, accountTag) ? this.cache.get(tenant, accountTag) : undefined;
    if (entry !== undefined) {
      // SQLite added the same two integers (or refused the write, throwing before this).
      const balance = entry.account.balance + delta;
      if (Number.isSafeInteger(balance)) entry.account.balance = balance;
      else this.cache.delete(tenant, accountTag);
    }
    return changed;
  }

  adjustBalances(tenant: string, accountTag: string | null, tags: readonly string[] | null, mode: 'set' | 'increment', amount: number): number {
    this.forgetAll();
    const tests = ['tenant = ?'];
    const params: SqlValue[] = [amount, tenant];
    if (accountTag !== null) {
      tests.push('account_tag = ?');
      params.push(accountTag);
    }
    if (tags !== null && tags.length > 0) {
      tests.push(`EXISTS (SELECT 1 FROM json_each(accounts.tags) WHERE json_each.value IN (${tags.map(() => '?').join(', ')}))`);
      params.push(...tags);
    }
    const assignment = mode === 'set' ? 'balance = ?' : 'balance = balance + ?';
    return this.statements.get(`UPDATE accounts SET ${assignment} WHERE ${tests.join(' AND ')}`).run(...params).changes;
  }

  listRunning(tenant: string, accountTag: string): RunningTransaction[] {
    return this.statements
      .get(SQL.listRunning, 'raw')
      .all(tenant, accountTag)
      .map((row) => decodeRunning(row as RawRow));
  }

  findRunningByTransaction(tenant: string, transactionTag: string): RunningTransaction[] {
    return this.statements
      .get(SQL.findRunningByTransaction, 'raw')
      .all(transactionTag, tenant)
      .map((row) => decodeRunning(row as RawRow));
  }

  /** The account by natural key, as EntityStore.get would read it; undefined when it is not cacheable. */
  getAccount(tenant: string, accountTag: string): Account | null | undefined {
    const entry = this.#entry(tenant, accountTag);
    if (entry === undefined) return undefined;
    return entry === null ? null : copyAccount(entry.account);
  }

  getAccountWithRunning(tenant: string, accountTag: string, transactionTag: string | null): { account: Account; running: RunningTransaction[] } | null {
    const entry = transactionTag === null || typeof transactionTag === 'string' ? this.#entry(tenant, accountTag) : undefined;
    if (entry === null) return null;
    if (entry !== undefined) {
      const running: RunningTransaction[] = [];
      if (transactionTag === null) for (const rt of entry.running.values()) running.push(copyRunning(rt));
      else {
        const rt = entry.running.get(transactionTag);
        if (rt !== undefined) running.push(copyRunning(rt));
      }
      return { account: copyAccount(entry.account), running };
    }
    let rows: RawRow[];
    if (transactionTag === null) {
      rows = this.statements.get(SQL.accountWithRunning, 'pluck').all(tenant, accountTag).map(parseJsonRow);
      if (rows.length > 1) rows.sort((x, y) => Number(x[x.length - 1]) - Number(y[y.length - 1]));
    } else {
      // (account_id, transaction_tag) is unique: one row at most.
      const row = this.statements.get(SQL.accountWithOneRunning, 'pluck').get(transactionTag, tenant, accountTag);
      rows = row === undefined ? [] : [parseJsonRow(row)];
    }
    return rows.length === 0 ? null : decodeAccountWithRunning(rows);
  }

  /**
   * The cached account, read (with all its running transactions) when not cached yet; null when
   * it does not exist; undefined when it has too many running transactions to be cached.
   */
  #entry(tenant: string, accountTag: string): CachedAccount | null | undefined {
    // Keys are compared as JavaScript values, SQLite would convert a number to text: a caller
    // breaking the types reads the database.
    if (typeof tenant !== 'string' || typeof accountTag !== 'string') return undefined;
    const cached = this.cache.get(tenant, accountTag);
    if (cached !== undefined) return cached;
    const uncachedKey = `${tenant}\u0000${accountTag}`;
    if (this.#uncached.has(uncachedKey)) return undefined;
    const rows = this.statements.get(SQL.accountWithRunning, 'pluck').all(tenant, accountTag).map(parseJsonRow);
    if (rows.length === 0) return null;
    if (rows.length > 1) rows.sort((x, y) => Number(x[x.length - 1]) - Number(y[y.length - 1]));
    const { account, running } = decodeAccountWithRunning(rows);
    const entry: CachedAccount = { account, running: new Map() };
    for (const rt of running) entry.running.set(rt.transaction_tag, rt);
    if (entry.running.size > this.cache.maxRunning) {
      if (this.#uncached.size >= 1024) this.#uncached.clear();
      this.#uncached.add(uncachedKey);
    } else {
      this.cache.set(tenant, accountTag, entry);
    }
    return entry;
  }

  insertRunning(rt: RunningTransaction, unlessSettled = false): boolean {
    // Arguments written out rather than spread from an array: this runs for every account of
    // every call begun.
    const tags = encodeValue('json', rt.tags);
    const rate = encodeValue('json', rt.destination_rate);
    const inProgress = encodeValue('bool', rt.in_progress);
    const inbound = encodeValue('bool', rt.inbound);
    const primary = encodeValue('bool', rt.primary);
    const cached = this.#cacheable(rt.tenant, rt.account_tag) ? this.cache.get(rt.tenant, rt.account_tag) : undefined;
    let changes: number;
    if (cached !== undefined && unlessSettled) {
      changes = this.statements
        .get(SQL.insertRunningUnlessSettledById)
        .run(cached.account.id, rt.transaction_tag, rt.proxy_tag, rt.source, rt.source_ip, rt.destination, rt.carrier_ip, tags, rate, inProgress, inbound,
          primary, rt.timestamp_begin, rt.timestamp_end, rt.tenant, rt.transaction_tag, rt.account_tag).changes;
    } else if (unlessSettled) {
      changes = this.statements
        .get(SQL.insertRunningUnlessSettled)
        .run(rt.transaction_tag, rt.proxy_tag, rt.source, rt.source_ip, rt.destination, rt.carrier_ip, tags, rate, inProgress, inbound, primary,
          rt.timestamp_begin, rt.timestamp_end, rt.tenant, rt.account_tag, rt.transaction_tag).changes;
    } else {
      changes = this.statements
        .get(SQL.insertRunning)
        .run(rt.transaction_tag, rt.proxy_tag, rt.source, rt.source_ip, rt.destination, rt.carrier_ip, tags, rate, inProgress, inbound, primary,
          rt.timestamp_begin, rt.timestamp_end, rt.tenant, rt.account_tag).changes;
    }
    const inserted = changes > 0;
    const entry = inserted ? this.cache.get(rt.tenant, rt.account_tag) : undefined;
    if (entry !== undefined) {
      // The new row has the highest _seq of the table, so it is the account's newest.
      const stored = entry.running.size < this.cache.maxRunning && !entry.running.has(rt.transaction_tag) ? asStored(rt, tags, rate) : null;
      if (stored === null) this.cache.delete(rt.tenant, rt.account_tag);
      else entry.running.set(rt.transaction_tag, stored);
    }
    return inserted;
  }

  endRunning(tenant: string, accountTag: string, transactionTag: string, timestampEnd: Micros): RunningTransaction | null {
    if (this.#cacheable(tenant, accountTag)) this.cache.delete(tenant, accountTag);
    const row = this.statements.get(SQL.endRunning, 'raw').get(timestampEnd, tenant, accountTag, transactionTag);
    return row === undefined ? null : decodeRunning([tenant, accountTag, ...(row as RawRow)]);
  }

  deleteRunning(tenant: string, accountTag: string, transactionTag: string): number {
    const entry = this.#cacheable(tenant, accountTag) ? this.cache.get(tenant, accountTag) : undefined;
    const removed =
      entry === undefined
        ? this.statements.get(SQL.deleteRunning).run(tenant, accountTag, transactionTag).changes
        : this.statements.get(SQL.deleteRunningById).run(entry.account.id, transactionTag).changes;
    // A cached account must have had exactly the running transaction that was removed.
    if (entry !== undefined && entry.running.delete(transactionTag) !== (removed > 0)) this.cache.delete(tenant, accountTag);
    return removed;
  }
}

/** Decodes accountWithRunning rows (the account's columns, then a running transaction's or nulls). */
function decodeAccountWithRunning(rows: readonly RawRow[]): { account: Account; running: RunningTransaction[] } {
  const width = ACCOUNT_SPEC.columns.length;
  const account = decodeAccount(rows[0]) as unknown as Account;
  // The LEFT JOIN leaves the running transaction's columns null when the account has none.
  const running = rows[0][width + 2] === null ? [] : rows.map((row) => decodeRunning(row, true, width));
  return { account, running };
}

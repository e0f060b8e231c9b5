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
  // Both parties of a call in one statement (the natural key makes it one row per account).
  twoAccountsWithOneRunning:
    `SELECT ${jsonArraySql(ACCOUNT_WITH_RUNNING_ROW)} FROM accounts a ` +
    `LEFT JOIN ${RUNNING_TABLE} r ON r.account_id = a.id AND r.transaction_tag = ? WHERE a.tenant = ? AND a.account_tag IN (?, ?)`,
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

/** An account with its running transaction of one call (null when it has none). */
export interface AccountWithRunning {
  account: Account;
  running: RunningTransaction | null;
}

/** A copy of a decoded JSON value (arrays and plain objects), so that callers never share one. */
function copyJson<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(copyJson) as T;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) copy[key] = copyJson((value as Record<string, unknown>)[key]);
  return copy as T;
}

/** A copy of an account as decoded from a row, sharing nothing with it. */
export function copyAccount(account: Account): Account {
  const copy = { ...account };
  if (copy.tags !== null) copy.tags = copy.tags.slice();
  if (copy.pricelist_tags !== null) copy.pricelist_tags = copy.pricelist_tags.slice();
  if (copy.carrier_tags !== null) copy.carrier_tags = copy.carrier_tags.slice();
  if (copy.carrier_tags_override !== null) copy.carrier_tags_override = copy.carrier_tags_override.slice();
  if (copy.linked_accounts !== null) copy.linked_accounts = copy.linked_accounts.slice();
  return copy;
}

/** A copy of a running transaction as decoded from a row, sharing nothing with it. */
export function copyRunning(rt: RunningTransaction): RunningTransaction {
  const copy = { ...rt };
  if (copy.tags !== null) copy.tags = copy.tags.slice();
  if (copy.destination_rate !== null) copy.destination_rate = copyJson(copy.destination_rate);
  return copy;
}

export class AccountStore {
  constructor(private readonly statements: StatementCache) {}

  addToBalance(tenant: string, accountTag: string, delta: number): boolean {
    return this.statements.get(SQL.addToBalance).run(delta, tenant, accountTag).changes > 0;
  }

  adjustBalances(tenant: string, accountTag: string | null, tags: readonly string[] | null, mode: 'set' | 'increment', amount: number): number {
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

  getAccountWithRunning(tenant: string, accountTag: string, transactionTag: string | null): { account: Account; running: RunningTransaction[] } | null {
    let rows: RawRow[];
    if (transactionTag === null) {
      rows = this.statements.get(SQL.accountWithRunning, 'pluck').all(tenant, accountTag).map(parseJsonRow);
      if (rows.length > 1) rows.sort((x, y) => Number(x[x.length - 1]) - Number(y[y.length - 1]));
    } else {
      // (account_id, transaction_tag) is unique: one row at most.
      const row = this.statements.get(SQL.accountWithOneRunning, 'pluck').get(transactionTag, tenant, accountTag);
      rows = row === undefined ? [] : [parseJsonRow(row)];
    }
    if (rows.length === 0) return null;
    const width = ACCOUNT_SPEC.columns.length;
    const account = decodeAccount(rows[0]) as unknown as Account;
    // The LEFT JOIN leaves the running transaction's columns null when the account has none.
    const running = rows[0][width + 2] === null ? [] : rows.map((row) => decodeRunning(row, true, width));
    return { account, running };
  }

  /**
   * Accounts of one tenant, each with its running transaction of `transactionTag`, keyed by
   * account tag; a tag without an account maps to null. Two tags take one statement.
   */
  accountsWithOneRunning(tenant: string, accountTags: readonly string[], transactionTag: string): Map<string, AccountWithRunning | null> {
    const found = new Map<string, AccountWithRunning | null>();
    for (const tag of accountTags) found.set(tag, null);
    const width = ACCOUNT_SPEC.columns.length;
    const note = (text: unknown): void => {
      const row = parseJsonRow(text);
      const account = decodeAccount(row) as unknown as Account;
      found.set(account.account_tag, { account, running: row[width + 2] === null ? null : decodeRunning(row, true, width) });
    };
    if (accountTags.length === 2) {
      const rows = this.statements.get(SQL.twoAccountsWithOneRunning, 'pluck').all(transactionTag, tenant, accountTags[0], accountTags[1]);
      for (const text of rows) note(text);
    } else {
      const statement = this.statements.get(SQL.accountWithOneRunning, 'pluck');
      for (const tag of accountTags) {
        const text = statement.get(transactionTag, tenant, tag);
        if (text !== undefined) note(text);
      }
    }
    return found;
  }

  insertRunning(rt: RunningTransaction, unlessSettled = false): boolean {
    // Arguments written out rather than spread from an array: this runs for every account of
    // every call begun.
    const tags = encodeValue('json', rt.tags);
    const rate = encodeValue('json', rt.destination_rate);
    const inProgress = encodeValue('bool', rt.in_progress);
    const inbound = encodeValue('bool', rt.inbound);
    const primary = encodeValue('bool', rt.primary);
    const statement = this.statements.get(unlessSettled ? SQL.insertRunningUnlessSettled : SQL.insertRunning);
    const result = unlessSettled
      ? statement.run(rt.transaction_tag, rt.proxy_tag, rt.source, rt.source_ip, rt.destination, rt.carrier_ip, tags, rate, inProgress, inbound, primary,
          rt.timestamp_begin, rt.timestamp_end, rt.tenant, rt.account_tag, rt.transaction_tag)
      : statement.run(rt.transaction_tag, rt.proxy_tag, rt.source, rt.source_ip, rt.destination, rt.carrier_ip, tags, rate, inProgress, inbound, primary,
          rt.timestamp_begin, rt.timestamp_end, rt.tenant, rt.account_tag);
    return result.changes > 0;
  }

  endRunning(tenant: string, accountTag: string, transactionTag: string, timestampEnd: Micros): RunningTransaction | null {
    const row = this.statements.get(SQL.endRunning, 'raw').get(timestampEnd, tenant, accountTag, transactionTag);
    return row === undefined ? null : decodeRunning([tenant, accountTag, ...(row as RawRow)]);
  }

  deleteRunning(tenant: string, accountTag: string, transactionTag: string): number {
    return this.statements.get(SQL.deleteRunning).run(tenant, accountTag, transactionTag).changes;
  }
}

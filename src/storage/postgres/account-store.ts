// Account balances and running transactions. Running transactions are linked to the account
// row by id; tenant and account_tag are always read from the account, so they follow renames.
import type { Account, FrozenRate, Micros, RunningTransaction } from '../../domain/types.ts';
import { decodeInteger, decodeRawRow, encodeValue, type PgParam } from './codec.ts';
import { columnList, jsonListOverlaps } from './list-query.ts';
import type { Row, TransactionSession } from './session.ts';
import { OUTCOMES_TABLE, RUNNING_TABLE, SqlParams, shiftParameters } from './sql.ts';
import { PG_TABLE_SPECS } from './table-spec.ts';

const ACCOUNT_SPEC = PG_TABLE_SPECS.account;
const ACCOUNT_COLUMNS = columnList(ACCOUNT_SPEC, 'a');
const RUNNING_FIELDS =
  'transaction_tag, proxy_tag, source, source_ip, destination, carrier_ip, tags, destination_rate, ' +
  'in_progress, inbound, "primary", timestamp_begin, timestamp_end';
const RUNNING_COLUMNS =
  'r.transaction_tag, r.proxy_tag, r.source, r.source_ip, r.destination, r.carrier_ip, r.tags, r.destination_rate, ' +
  'r.in_progress, r.inbound, r."primary", r.timestamp_begin, r.timestamp_end';
const ACCOUNT_ID = 'SELECT id FROM accounts WHERE tenant = $2::text AND account_tag = $3::text';
const INSERT_RUNNING =
  `INSERT INTO ${RUNNING_TABLE} (account_id, transaction_tag, proxy_tag, source, source_ip, destination, carrier_ip, ` +
  'tags, destination_rate, in_progress, inbound, "primary", timestamp_begin, timestamp_end) ' +
  'SELECT a.id, $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::json, $8::json, $9::boolean, $10::boolean, ' +
  '$11::boolean, $12::bigint, $13::bigint FROM accounts a WHERE a.tenant = $14::text AND a.account_tag = $15::text';

// One index lookup per tag (LATERAL, OFFSET 0): `account_tag = ANY(...)` was planned as a scan
// of every account of the tenant, a read that under SERIALIZABLE conflicts with every
// concurrent write to any of them (most begins were repeated). Also sent, with the parameters
// written in, in the round trip that starts a transaction (start-preload.ts).
// Each row ends with the position of its tag in $2: rows are matched to the tags asked for by
// position, since a tag Node cannot encode as it is (a lone surrogate) comes back changed.
/** $1 tenant, $2 text[] of account tags, $3 transaction tag. */
export const ACCOUNTS_WITH_ONE_RUNNING_SQL =
  `SELECT ${ACCOUNT_COLUMNS}, a.tenant, a.account_tag, ${RUNNING_COLUMNS}, k.n FROM unnest($2::text[]) WITH ORDINALITY AS k(tag, n) ` +
  'JOIN LATERAL (SELECT * FROM accounts WHERE tenant = $1::text AND account_tag = k.tag OFFSET 0) a ON TRUE ' +
  `LEFT JOIN ${RUNNING_TABLE} r ON r.account_id = a.id AND r.transaction_tag = $3::text`;
/** $1 tenant, $2 text[] of account tags. */
export const ACCOUNTS_SQL =
  `SELECT ${ACCOUNT_COLUMNS}, k.n FROM unnest($2::text[]) WITH ORDINALITY AS k(tag, n) ` +
  'JOIN LATERAL (SELECT * FROM accounts WHERE tenant = $1::text AND account_tag = k.tag OFFSET 0) a ON TRUE';

const SQL = {
  accountWithRunning:
    `SELECT ${ACCOUNT_COLUMNS}, a.tenant, a.account_tag, ${RUNNING_COLUMNS} FROM accounts a ` +
    `LEFT JOIN ${RUNNING_TABLE} r ON r.account_id = a.id WHERE a.tenant = $1::text AND a.account_tag = $2::text ORDER BY r._seq`,
  accountsWithOneRunning: ACCOUNTS_WITH_ONE_RUNNING_SQL,
  accountsByTag: ACCOUNTS_SQL,
  accountWithOneRunning:
    `SELECT ${ACCOUNT_COLUMNS}, a.tenant, a.account_tag, ${RUNNING_COLUMNS} FROM accounts a ` +
    `LEFT JOIN ${RUNNING_TABLE} r ON r.account_id = a.id AND r.transaction_tag = $3::text WHERE a.tenant = $1::text AND a.account_tag = $2::text`,
  insertRunning: `${INSERT_RUNNING} ON CONFLICT (account_id, transaction_tag) DO NOTHING`,
  // A settled call (ended, rolled back, recorded) must not be reopened by a late begin. The
  // outcomes are found by transaction tag alone (OFFSET 0 keeps the other columns out of the
  // scan), which only the hash index of migration 3 serves: see OUTCOMES_BY_TRANSACTION_DDL.
  insertRunningUnlessSettled:
    `${INSERT_RUNNING} AND NOT EXISTS (SELECT 1 FROM (SELECT o.tenant, o.account_tag FROM ${OUTCOMES_TABLE} o ` +
    'WHERE o.transaction_tag = $1::text OFFSET 0) o WHERE o.tenant = a.tenant AND o.account_tag = a.account_tag) ' +
    'ON CONFLICT (account_id, transaction_tag) DO NOTHING',
  addToBalance: 'UPDATE accounts SET balance = balance + $1::bigint WHERE tenant = $2::text AND account_tag = $3::text',
  listRunning:
    `SELECT a.tenant, a.account_tag, ${RUNNING_COLUMNS} FROM accounts a JOIN ${RUNNING_TABLE} r ON r.account_id = a.id ` +
    'WHERE a.tenant = $1::text AND a.account_tag = $2::text ORDER BY r._seq',
  // Each running transaction's account is fetched by id (OFFSET 0 keeps the planner from
  // merging the subquery): a plain join was planned as a scan of every account of the tenant,
  // and under SERIALIZABLE such a read conflicts with every concurrent balance update.
  findRunningByTransaction:
    `SELECT a.tenant, a.account_tag, ${RUNNING_COLUMNS} FROM ${RUNNING_TABLE} r ` +
    'JOIN LATERAL (SELECT tenant, account_tag FROM accounts WHERE id = r.account_id OFFSET 0) a ON a.tenant = $2::text ' +
    'WHERE r.transaction_tag = $1::text ORDER BY r._seq',
  endRunning:
    `UPDATE ${RUNNING_TABLE} SET in_progress = FALSE, timestamp_end = $1::bigint WHERE account_id = (${ACCOUNT_ID}) AND transaction_tag = $4::text ` +
    `RETURNING ${RUNNING_FIELDS}`,
  deleteRunning: `DELETE FROM ${RUNNING_TABLE} WHERE account_id = (SELECT id FROM accounts WHERE tenant = $1::text AND account_tag = $2::text) AND transaction_tag = $3::text`,
} as const;

/** Decodes [tenant, account_tag, ...RUNNING_FIELDS] rows. */
function decodeRunning(row: Row): RunningTransaction {
  return {
    tenant: row[0] as string,
    account_tag: row[1] as string,
    transaction_tag: row[2] as string,
    proxy_tag: row[3] as string | null,
    source: row[4] as string | null,
    source_ip: row[5] as string | null,
    destination: row[6] as string | null,
    carrier_ip: row[7] as string | null,
    tags: (row[8] ?? null) as string[] | null,
    destination_rate: (row[9] ?? null) as FrozenRate | null,
    in_progress: row[10] === true,
    inbound: row[11] === true,
    primary: row[12] === true,
    timestamp_begin: decodeInteger(row[13]),
    timestamp_end: row[14] === null ? null : decodeInteger(row[14]),
  };
}

/** Rows of SQL.accountsWithOneRunning by account tag; null for a tag with no account. */
export function decodeAccountsWithOneRunning(accountTags: readonly string[], rows: readonly Row[]): Map<string, { account: Account; running: RunningTransaction[] } | null> {
  const found = new Map<string, { account: Account; running: RunningTransaction[] } | null>();
  for (const tag of accountTags) found.set(tag, null);
  const width = ACCOUNT_SPEC.columns.length;
  for (const row of rows) {
    const account = decodeRawRow(ACCOUNT_SPEC.columns, row, 0) as unknown as Account;
    const running = row[width + 2] === null ? [] : [decodeRunning(row.slice(width))];
    found.set(accountTags[Number(row[row.length - 1]) - 1], { account, running });
  }
  return found;
}

/** Rows of SQL.accountsByTag by account tag; null for a tag with no account. */
export function decodeAccounts(accountTags: readonly string[], rows: readonly Row[]): Map<string, Account | null> {
  const found = new Map<string, Account | null>();
  for (const tag of accountTags) found.set(tag, null);
  for (const row of rows) {
    const account = decodeRawRow(ACCOUNT_SPEC.columns, row, 0) as unknown as Account;
    found.set(accountTags[Number(row[row.length - 1]) - 1], account);
  }
  return found;
}

/** The parameters of INSERT_RUNNING, in its order. */
function runningParams(rt: RunningTransaction): PgParam[] {
  return [
    encodeValue('string', rt.transaction_tag),
    encodeValue('string', rt.proxy_tag),
    encodeValue('string', rt.source),
    encodeValue('string', rt.source_ip),
    encodeValue('string', rt.destination),
    encodeValue('string', rt.carrier_ip),
    encodeValue('json', rt.tags),
    encodeValue('json', rt.destination_rate),
    encodeValue('bool', rt.in_progress),
    encodeValue('bool', rt.inbound),
    encodeValue('bool', rt.primary),
    encodeValue('micros', rt.timestamp_begin),
    encodeValue('micros', rt.timestamp_end),
    encodeValue('string', rt.tenant),
    encodeValue('string', rt.account_tag),
  ];
}

const RUNNING_PARAMS = 15;
const insertAllStatements = new Map<string, string>();

/** `count` copies of a single-row insert as CTEs; the statement answers each one's row count. */
function insertAllSql(single: string, count: number): string {
  const key = `${count}\u0000${single}`;
  let sql = insertAllStatements.get(key);
  if (sql === undefined) {
    const ctes = Array.from({ length: count }, (_, i) => `i${i} AS (${shiftParameters(single, i * RUNNING_PARAMS)} RETURNING 1)`);
    // Each count is referenced in order, so the inserts run (and take sequence numbers) in order.
    const counts = Array.from({ length: count }, (_, i) => `(SELECT count(*) FROM i${i})`);
    sql = `WITH ${ctes.join(', ')} SELECT ${counts.join(', ')}`;
    insertAllStatements.set(key, sql);
  }
  return sql;
}

export class AccountStore {
  constructor(private readonly session: TransactionSession) {}

  async addToBalance(tenant: string, accountTag: string, delta: number): Promise<boolean> {
    const { rowCount } = await this.session.query(SQL.addToBalance, [encodeValue('money', delta), tenant, accountTag], true);
    return rowCount > 0;
  }

  async adjustBalances(tenant: string, accountTag: string | null, tags: readonly string[] | null, mode: 'set' | 'increment', amount: number): Promise<number> {
    const params = new SqlParams();
    const value = params.add(encodeValue('money', amount), 'bigint');
    const tests = [`tenant = ${params.add(tenant, 'text')}`];
    if (accountTag !== null) tests.push(`account_tag = ${params.add(accountTag, 'text')}`);
    if (tags !== null && tags.length > 0) tests.push(jsonListOverlaps('accounts.tags', params.add([...tags], 'text[]')));
    const assignment = mode === 'set' ? `balance = ${value}` : `balance = balance + ${value}`;
    const { rowCount } = await this.session.query(`UPDATE accounts SET ${assignment} WHERE ${tests.join(' AND ')}`, params.values);
    return rowCount;
  }

  async listRunning(tenant: string, accountTag: string): Promise<RunningTransaction[]> {
    const { rows } = await this.session.query(SQL.listRunning, [tenant, accountTag], true);
    return rows.map(decodeRunning);
  }

  async findRunningByTransaction(tenant: string, transactionTag: string): Promise<RunningTransaction[]> {
    const { rows } = await this.session.query(SQL.findRunningByTransaction, [transactionTag, tenant], true);
    return rows.map(decodeRunning);
  }

  async getAccountWithRunning(
    tenant: string,
    accountTag: string,
    transactionTag: string | null,
  ): Promise<{ account: Account; running: RunningTransaction[] } | null> {
    const { rows } =
      transactionTag === null
        ? await this.session.query(SQL.accountWithRunning, [tenant, accountTag], true)
        : await this.session.query(SQL.accountWithOneRunning, [tenant, accountTag, transactionTag], true);
    if (rows.length === 0) return null;
    const width = ACCOUNT_SPEC.columns.length;
    const account = decodeRawRow(ACCOUNT_SPEC.columns, rows[0], 0) as unknown as Account;
    // The LEFT JOIN leaves the running transaction's columns null when the account has none.
    const running = rows[0][width + 2] === null ? [] : rows.map((row) => decodeRunning(row.slice(width)));
    return { account, running };
  }

  /**
   * Several accounts of a tenant, each with its running transaction of `transactionTag`, in one
   * read: keyed by account tag, null for an account that does not exist.
   */
  async getAccountsWithOneRunning(
    tenant: string,
    accountTags: readonly string[],
    transactionTag: string,
  ): Promise<Map<string, { account: Account; running: RunningTransaction[] } | null>> {
    const { rows } = await this.session.query(SQL.accountsWithOneRunning, [tenant, [...accountTags], transactionTag], true);
    return decodeAccountsWithOneRunning(accountTags, rows);
  }

  /** Several accounts of a tenant in one read (one index lookup each), keyed by tag; null when missing. */
  async getAccounts(tenant: string, accountTags: readonly string[]): Promise<Map<string, Account | null>> {
    const { rows } = await this.session.query(SQL.accountsByTag, [tenant, [...accountTags]], true);
    return decodeAccounts(accountTags, rows);
  }

  /**
   * insertRunning for several accounts in one statement: one copy of the insert per running
   * transaction, as data-modifying CTEs (the accounts are distinct, so they touch distinct rows).
   */
  async insertRunningAll(rts: readonly RunningTransaction[], unlessSettled: boolean): Promise<boolean[]> {
    if (rts.length === 1) return [await this.insertRunning(rts[0], unlessSettled)];
    const single = unlessSettled ? SQL.insertRunningUnlessSettled : SQL.insertRunning;
    const params: PgParam[] = [];
    for (const rt of rts) params.push(...runningParams(rt));
    const { rows } = await this.session.query(insertAllSql(single, rts.length), params, true);
    return rts.map((_, i) => decodeInteger(rows[0][i]) > 0);
  }

  async insertRunning(rt: RunningTransaction, unlessSettled: boolean): Promise<boolean> {
    const sql = unlessSettled ? SQL.insertRunningUnlessSettled : SQL.insertRunning;
    const { rowCount } = await this.session.query(sql, runningParams(rt), true);
    return rowCount > 0;
  }

  async endRunning(tenant: string, accountTag: string, transactionTag: string, timestampEnd: Micros): Promise<RunningTransaction | null> {
    const { rows } = await this.session.query(SQL.endRunning, [encodeValue('micros', timestampEnd), tenant, accountTag, transactionTag], true);
    return rows.length === 0 ? null : decodeRunning([tenant, accountTag, ...rows[0]]);
  }

  async deleteRunning(tenant: string, accountTag: string, transactionTag: string): Promise<number> {
    const { rowCount } = await this.session.query(SQL.deleteRunning, [tenant, accountTag, transactionTag], true);
    return rowCount;
  }
}

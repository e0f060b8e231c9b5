// The reads a transaction's work begins with (Storage.transaction's hint), sent in the round trip
// that starts the transaction, after its BEGIN: the snapshot they read is the transaction's own,
// taken once the lane lock is held, exactly as if the work had sent them. They are simple-query
// statements, so their parameters are written in as escaped literals. The repository then answers
// the work's first reads from them (repository.ts acceptPreloaded*), saving one round trip of the
// three or so an engine operation takes.
import pg from 'pg';
import type { TransactionHint } from '../storage.ts';
import { ACCOUNTS_SQL, ACCOUNTS_WITH_ONE_RUNNING_SQL, decodeAccounts, decodeAccountsWithOneRunning } from './account-store.ts';
import { decodeInteger } from './codec.ts';
import type { PostgresRepository } from './repository.ts';
import type { Row } from './session.ts';
import { RATES_VERSION_TABLE, mapParameters } from './sql.ts';

export interface StartPreload {
  /** Statements to append to the start's simple query, each with its leading '; '. */
  readonly sql: string;
  readonly hint: TransactionHint;
  /** How many results they add at the end of the round trip's results. */
  readonly statements: number;
}

const literal = (text: string): string => pg.escapeLiteral(text);

/** A NUL cannot be in PostgreSQL text: sent in the start's message, it would break the whole message. */
function hasNul(hint: TransactionHint): boolean {
  const texts = [hint.ratesOf ?? '', hint.accounts?.tenant ?? '', hint.accounts?.transactionTag ?? '', ...(hint.accounts?.accountTags ?? [])];
  return texts.some((text) => text.includes('\u0000'));
}

export function startPreloadOf(hint: TransactionHint | undefined): StartPreload | null {
  // A hint with a NUL is not preloaded: the work's own read then fails alone, as without a hint,
  // instead of the start (or the previous transaction's commit it rides with) failing.
  if (hint === undefined || hasNul(hint)) return null;
  let sql = '';
  let statements = 0;
  const accounts = hint.accounts;
  if (accounts !== undefined && accounts.accountTags.length > 0) {
    const values = [literal(accounts.tenant), `ARRAY[${accounts.accountTags.map(literal).join(', ')}]`];
    if (accounts.transactionTag !== null) values.push(literal(accounts.transactionTag));
    const read = accounts.transactionTag === null ? ACCOUNTS_SQL : ACCOUNTS_WITH_ONE_RUNNING_SQL;
    sql += `; ${mapParameters(read, (n) => values[n - 1])}`;
    statements++;
  }
  if (hint.ratesOf !== undefined) {
    sql += `; SELECT version FROM ${RATES_VERSION_TABLE} WHERE tenant = ${literal(hint.ratesOf)}::text`;
    statements++;
  }
  return statements === 0 ? null : { sql, hint, statements };
}

/** Hands the preloaded reads, the last results of the start's round trip, to the repository. */
export function acceptStartPreload(repo: PostgresRepository, preload: StartPreload, results: unknown): void {
  if (!Array.isArray(results) || results.length < preload.statements) throw new Error('the start of a transaction answered fewer results than it sent statements');
  let next = results.length - preload.statements;
  const rowsOf = (): Row[] => (results[next++] as { rows: Row[] }).rows;
  const accounts = preload.hint.accounts;
  if (accounts !== undefined && accounts.accountTags.length > 0) {
    const rows = rowsOf();
    if (accounts.transactionTag === null) repo.acceptPreloadedAccounts(accounts.tenant, decodeAccounts(accounts.accountTags, rows));
    else repo.acceptPreloadedAccountsWithRunning(accounts.tenant, accounts.transactionTag, decodeAccountsWithOneRunning(accounts.accountTags, rows));
  }
  if (preload.hint.ratesOf !== undefined) {
    const rows = rowsOf();
    repo.acceptRatesVersion(preload.hint.ratesOf, rows.length === 0 ? 0 : decodeInteger(rows[0][0]));
  }
}

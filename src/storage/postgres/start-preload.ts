// The reads a transaction's work begins with (Storage.transaction's hint), sent in the round trip
// that starts the transaction, after its BEGIN: the snapshot they read is the transaction's own,
// taken once the lane lock is held, exactly as if the work had sent them. They are simple-query
// statements (EXECUTE of statements prepared once per connection, so PostgreSQL does not plan
// them each time), their arguments written in as escaped literals. The repository then answers
// the work's first reads from them (repository.ts acceptPreloaded*), saving one round trip of
// the three or so an engine operation takes.
import pg from 'pg';
import type { TransactionHint } from '../storage.ts';
import { ACCOUNTS_SQL, ACCOUNTS_WITH_ONE_RUNNING_SQL, decodeAccounts, decodeAccountsWithOneRunning } from './account-store.ts';
import { decodeInteger } from './codec.ts';
import type { RatesVersionCache } from './rates-version-cache.ts';
import type { PostgresRepository } from './repository.ts';
import type { Row } from './session.ts';
import { RATES_VERSION_TABLE } from './sql.ts';

/** Statements prepared on a connection the first time one of its starts carries reads. */
const PREPARE =
  `PREPARE cr_start_accounts_running(text, text[], text) AS ${ACCOUNTS_WITH_ONE_RUNNING_SQL}; ` +
  `PREPARE cr_start_accounts(text, text[]) AS ${ACCOUNTS_SQL}; ` +
  `PREPARE cr_start_rates_version(text) AS SELECT version FROM ${RATES_VERSION_TABLE} WHERE tenant = $1`;

/** Connections whose session has the statements above (PREPARE lasts as long as the session). */
const prepared = new WeakSet<object>();

const literal = (text: string): string => pg.escapeLiteral(text);

/** A NUL cannot be in PostgreSQL text: sent in the start's message, it would break the whole message. */
function hasNul(hint: TransactionHint): boolean {
  const texts = [hint.ratesOf ?? '', hint.accounts?.tenant ?? '', hint.accounts?.transactionTag ?? '', ...(hint.accounts?.accountTags ?? [])];
  return texts.some((text) => text.includes('\u0000'));
}

/** A transaction's hint, when its reads can ride with the start (null otherwise). */
export function usableHint(hint: TransactionHint | undefined): TransactionHint | null {
  // A hint with a NUL is not preloaded: the work's own read then fails alone, as without a hint,
  // instead of the start (or the previous transaction's commit it rides with) failing.
  if (hint === undefined || hasNul(hint)) return null;
  const hasAccounts = hint.accounts !== undefined && hint.accounts.accountTags.length > 0;
  return hasAccounts || hint.ratesOf !== undefined ? hint : null;
}

/** The reads of one start, decided when it is sent. */
export interface StartReads {
  /** Statements before BEGIN (the PREPAREs on a new connection, committed), with their trailing '; '. */
  readonly beforeBegin: string;
  /** Statements after BEGIN, each with its leading '; '. */
  readonly afterBegin: string;
  /** How many results the statements after BEGIN add at the end of the round trip's results. */
  readonly statements: number;
  readonly hint: TransactionHint;
  readonly connection: object;
  /** The rates version, when the cache answered it (then it is not read). */
  readonly cachedRatesVersion: number | undefined;
  /** The cache's generation when the start was built (see RatesVersionCache.remember). */
  readonly ratesGeneration: number;
}

/**
 * The statements that read `hint` in a start sent on `connection`. A rates version the cache
 * holds is not read: the transaction's snapshot, taken by the statements of this start, includes
 * every version the cache held before they were sent (the rule a fresh transaction follows).
 */
export function startReadsOf(hint: TransactionHint, connection: object, ratesVersions: RatesVersionCache | null): StartReads {
  let afterBegin = '';
  let statements = 0;
  const accounts = hint.accounts;
  if (accounts !== undefined && accounts.accountTags.length > 0) {
    const tags = `ARRAY[${accounts.accountTags.map(literal).join(', ')}]::text[]`;
    afterBegin +=
      accounts.transactionTag === null
        ? `; EXECUTE cr_start_accounts(${literal(accounts.tenant)}, ${tags})`
        : `; EXECUTE cr_start_accounts_running(${literal(accounts.tenant)}, ${tags}, ${literal(accounts.transactionTag)})`;
    statements++;
  }
  const ratesGeneration = ratesVersions?.generation ?? 0;
  const cachedRatesVersion = hint.ratesOf === undefined ? undefined : ratesVersions?.lookup(hint.ratesOf);
  if (hint.ratesOf !== undefined && cachedRatesVersion === undefined) {
    afterBegin += `; EXECUTE cr_start_rates_version(${literal(hint.ratesOf)})`;
    statements++;
  }
  // Committed before BEGIN, which must open the transaction (its isolation level comes first).
  const beforeBegin = prepared.has(connection) ? '' : `${PREPARE}; COMMIT; `;
  return { beforeBegin, afterBegin, statements, hint, connection, cachedRatesVersion, ratesGeneration };
}

/**
 * The start went through (every statement of its round trip ran): its connection now has the
 * prepared statements, and its reads go to the repository.
 */
export function acceptStartReads(repo: PostgresRepository, reads: StartReads, results: unknown, ratesVersions: RatesVersionCache | null): void {
  prepared.add(reads.connection);
  if (!Array.isArray(results) || results.length < reads.statements) throw new Error('the start of a transaction answered fewer results than it sent statements');
  let next = results.length - reads.statements;
  const rowsOf = (): Row[] => (results[next++] as { rows: Row[] }).rows;
  const accounts = reads.hint.accounts;
  if (accounts !== undefined && accounts.accountTags.length > 0) {
    const rows = rowsOf();
    if (accounts.transactionTag === null) repo.acceptPreloadedAccounts(accounts.tenant, decodeAccounts(accounts.accountTags, rows));
    else repo.acceptPreloadedAccountsWithRunning(accounts.tenant, accounts.transactionTag, decodeAccountsWithOneRunning(accounts.accountTags, rows));
  }
  const tenant = reads.hint.ratesOf;
  if (tenant === undefined) return;
  if (reads.cachedRatesVersion !== undefined) {
    repo.acceptRatesVersion(tenant, reads.cachedRatesVersion);
    return;
  }
  const rows = rowsOf();
  const version = rows.length === 0 ? 0 : decodeInteger(rows[0][0]);
  repo.acceptRatesVersion(tenant, version);
  ratesVersions?.remember(tenant, version, reads.ratesGeneration);
}

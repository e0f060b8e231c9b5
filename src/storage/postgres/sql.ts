// SQL text helpers: identifier quoting and positional parameters ($1, $2, ...) with casts, so
// that values always travel as bound parameters and PostgreSQL never has to guess their type.
import type { PgParam } from './codec.ts';

/** Quotes an identifier. Only catalogue names and validated schema names ever reach it. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Column holding the insertion sequence, which defines the natural order of a table. */
export const SEQUENCE_COLUMN = '_seq';

export const RUNNING_TABLE = 'running_transactions';
export const OUTCOMES_TABLE = 'operation_outcomes';
export const RATES_VERSION_TABLE = 'rates_versions';
/** Table with no rows whose lock orders transactions (transaction.ts, migration 4). */
export const LANE_TABLE = 'transaction_lane';
/** Channel of the rates trigger's notifications (migration 2); the payload is the schema name. */
export const RATES_CHANNEL = 'canyan_rating_rates';

/** Collects parameter values while a statement is built. */
export class SqlParams {
  readonly values: (PgParam | readonly PgParam[])[] = [];

  /** Adds a value and returns its placeholder, cast to `type` (e.g. "text", "bigint[]"). */
  add(value: PgParam | readonly PgParam[], type: string): string {
    this.values.push(value);
    return `$${this.values.length}::${type}`;
  }
}

/**
 * The statement with every parameter $n renumbered $(n + by): for one statement made of several
 * copies of a fixed one (the engine's writes for every account of a call in one round trip).
 * The statements it is used on hold no dollar-quoted text.
 */
export function shiftParameters(sql: string, by: number): string {
  return mapParameters(sql, (n) => `$${n + by}`);
}

/** The statement with every parameter $n replaced by `replace(n)` (same caveat as shiftParameters). */
export function mapParameters(sql: string, replace: (n: number) => string): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const dollar = sql.indexOf('$', i);
    if (dollar === -1) break;
    let end = dollar + 1;
    while (end < sql.length && sql.charCodeAt(end) >= 48 && sql.charCodeAt(end) <= 57) end++;
    out += end > dollar + 1 ? `${sql.slice(i, dollar)}${replace(Number(sql.slice(dollar + 1, end)))}` : sql.slice(i, dollar + 1);
    i = end;
  }
  return out + sql.slice(i);
}

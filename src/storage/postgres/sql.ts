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

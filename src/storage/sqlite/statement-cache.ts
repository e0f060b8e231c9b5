// Prepared statements, compiled once per SQL text. Statements are prepared lazily because the
// tables they name only exist after migrate(). The size bound keeps dynamically built list
// queries (whose text depends on the filter's shape) from growing the cache without end.
import type Database from 'better-sqlite3';

export type Statement = Database.Statement<unknown[], unknown>;

/** How a statement returns rows: objects keyed by column, arrays (faster), or the first column. */
export type RowMode = 'object' | 'raw' | 'pluck';

export class StatementCache {
  readonly #statements = new Map<string, Statement>();

  constructor(
    private readonly db: Database.Database,
    private readonly maxEntries = 500,
  ) {}

  get(sql: string, mode: RowMode = 'object'): Statement {
    // The row mode is part of the statement's state, so each mode gets its own statement.
    const cacheKey = mode === 'object' ? sql : `${mode}\u0000${sql}`;
    let statement = this.#statements.get(cacheKey);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      if (mode === 'raw' && statement.reader) statement.raw(true);
      if (mode === 'pluck' && statement.reader) statement.pluck(true);
      if (this.#statements.size >= this.maxEntries) {
        const oldest = this.#statements.keys().next().value;
        if (oldest !== undefined) this.#statements.delete(oldest);
      }
      this.#statements.set(cacheKey, statement);
    }
    return statement;
  }
}

// Prepared statements, compiled once per SQL text. Statements are prepared lazily because the
// tables they name only exist after migrate(). The size bound keeps dynamically built list
// queries (whose text depends on the filter's shape) from growing the cache without end.
import type Database from 'better-sqlite3';

export type Statement = Database.Statement<unknown[], unknown>;

/** How a statement returns rows: objects keyed by column, arrays (faster), or the first column. */
export type RowMode = 'object' | 'raw' | 'pluck';

export class StatementCache {
  // One map per row mode (the mode is part of a statement's state). The SQL text itself is the
  // key, so the constant strings of the hot paths hash once and are looked up cheaply.
  readonly #byMode: Readonly<Record<RowMode, Map<string, Statement>>> = { object: new Map(), raw: new Map(), pluck: new Map() };

  constructor(
    private readonly db: Database.Database,
    private readonly maxEntries = 500,
  ) {}

  get(sql: string, mode: RowMode = 'object'): Statement {
    const statements = this.#byMode[mode];
    let statement = statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      if (mode === 'raw' && statement.reader) statement.raw(true);
      if (mode === 'pluck' && statement.reader) statement.pluck(true);
      if (statements.size >= this.maxEntries) {
        const oldest = statements.keys().next().value;
        if (oldest !== undefined) statements.delete(oldest);
      }
      statements.set(sql, statement);
    }
    return statement;
  }
}

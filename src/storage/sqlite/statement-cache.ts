// Prepared statements, compiled once per SQL text. Statements are prepared lazily because the
// tables they name only exist after migrate(). The size bound keeps dynamically built list
// queries (whose text depends on the filter's shape) from growing the cache without end.
import type Database from 'better-sqlite3';

export type Statement = Database.Statement<unknown[], unknown>;

export class StatementCache {
  readonly #statements = new Map<string, Statement>();

  constructor(
    private readonly db: Database.Database,
    private readonly maxEntries = 500,
  ) {}

  get(sql: string): Statement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      if (this.#statements.size >= this.maxEntries) {
        const oldest = this.#statements.keys().next().value;
        if (oldest !== undefined) this.#statements.delete(oldest);
      }
      this.#statements.set(sql, statement);
    }
    return statement;
  }
}

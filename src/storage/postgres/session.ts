// The connection of one storage transaction, as the repository sees it. It refuses use once its
// transaction has ended (so a forgotten await cannot write outside, or into the next,
// transaction), and remembers the first statement that failed: PostgreSQL aborts the whole
// transaction on any error, so a work function that swallows one must not end in a COMMIT that
// silently keeps nothing (transaction.ts checks `failure`).
import { createHash } from 'node:crypto';
import type { PoolClient, QueryArrayConfig } from 'pg';
import type { SqlParams } from './sql.ts';

export type Row = readonly unknown[];

export interface QueryOutcome {
  rows: Row[];
  rowCount: number;
}

export class TransactionSession {
  #open = true;
  #failure: unknown = null;

  constructor(private readonly client: PoolClient) {}

  #used = false;

  /** Whether a statement was sent in this transaction (PostgreSQL then has taken its snapshot). */
  get used(): boolean {
    return this.#used;
  }

  /** The transaction's snapshot was taken by statements sent outside it (start-preload.ts). */
  markUsed(): void {
    this.#used = true;
  }

  /** The first error a statement of this transaction raised, or null. */
  get failure(): unknown {
    return this.#failure;
  }

  /** Called when the transaction commits or rolls back. */
  close(): void {
    this.#open = false;
  }

  /**
   * Runs one statement; rows come back as arrays in column order. `prepare` keeps a server-side
   * prepared statement per connection (for the fixed statements of the hot paths).
   */
  async query(text: string, params: SqlParams['values'] = [], prepare = false): Promise<QueryOutcome> {
    if (!this.#open) throw new Error('repository used after its transaction ended (a missing await?)');
    this.#used = true;
    try {
      const config: QueryArrayConfig = { text, values: params as unknown[], rowMode: 'array' };
      if (prepare) config.name = statementName(text);
      const result = await this.client.query(config);
      return { rows: result.rows, rowCount: result.rowCount ?? 0 };
    } catch (error) {
      this.#failure ??= error;
      throw error;
    }
  }

  /** Marks the transaction failed (used when a caught error is turned into another). */
  recordFailure(error: unknown): void {
    this.#failure ??= error;
  }
}

const names = new Map<string, string>();

function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `cr_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    names.set(text, name);
  }
  return name;
}

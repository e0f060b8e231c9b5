// What the GraphQL layer needs from the rest of the application, passed in explicitly.
import type { Clock, RatingEngine } from '../../rating/engine-types.ts';
import type { RateIndexCache } from '../../rating/rate-cache.ts';
import type { Repository, Storage } from '../../storage/storage.ts';

export interface GraphqlDeps {
  storage: Storage;
  rates: RateIndexCache;
  engine: RatingEngine;
  clock: Clock;
}

/** Runs one resolver's storage work in its own transaction (never nested: storage serialises them). */
export function inTransaction<T>(deps: GraphqlDeps, work: (repo: Repository) => Promise<T>): Promise<T> {
  return deps.storage.transaction(work);
}

// Keeps one RateIndex per tenant and rebuilds it when the tenant's rates change. The version
// comes from storage (bumped in the same transaction as any rate, pricelist or carrier write),
// so the cache stays correct even when another process edits the price lists.
import type { Repository } from '../storage/storage.ts';
import { RateIndex } from './rate-index.ts';

interface CachedIndex {
  version: number;
  index: Promise<RateIndex>;
}

export class RateIndexCache {
  private readonly byTenant = new Map<string, CachedIndex>();

  /**
   * The index of `tenant` as seen by `repo` (call it inside the transaction that will use the
   * rates, so that index and data agree).
   */
  async forTenant(repo: Repository, tenant: string): Promise<RateIndex> {
    const version = await repo.ratesVersion(tenant);
    const cached = this.byTenant.get(tenant);
    if (cached !== undefined && cached.version === version) return cached.index;
    const index = repo.loadRates(tenant).then((rates) => new RateIndex(rates));
    const entry: CachedIndex = { version, index };
    this.byTenant.set(tenant, entry);
    try {
      return await index;
    } catch (error) {
      // A failed load must not poison the cache for later calls.
      if (this.byTenant.get(tenant) === entry) this.byTenant.delete(tenant);
      throw error;
    }
  }

  /** Drops every cached index (e.g. after restoring a database behind the cache's back). */
  clear(): void {
    this.byTenant.clear();
  }
}

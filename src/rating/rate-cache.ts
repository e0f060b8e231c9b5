// Keeps one RateIndex per tenant, with the tenant's carrier addresses, and rebuilds both when
// the tenant's rates change. The version comes from storage (bumped in the same transaction as
// any rate, pricelist or carrier write, to a value never used before), so the cache stays
// correct even when another process edits the price lists, and never serves what a rolled-back
// transaction wrote.
import type { Repository } from '../storage/storage.ts';
import { carrierAddresses, type CarrierAddresses } from './carriers.ts';
import { RateIndex } from './rate-index.ts';

/** What the engine rates and routes with, for one tenant at one rates version. */
export interface TenantRates {
  index: RateIndex;
  /** Carrier writes bump the rates version too, so the addresses can be cached with the index. */
  carriers: CarrierAddresses;
}

interface CachedRates {
  version: number;
  rates: Promise<TenantRates>;
}

async function loadTenantRates(repo: Repository, tenant: string): Promise<TenantRates> {
  const rates = await repo.loadRates(tenant);
  const carriers = await repo.list('carrier', {
    filter: [{ kind: 'eq', field: 'tenant', value: tenant }],
    sortField: null,
    ascending: true,
    offset: 0,
    limit: null,
  });
  return { index: new RateIndex(rates), carriers: carrierAddresses(carriers) };
}

export class RateIndexCache {
  private readonly byTenant = new Map<string, CachedRates>();

  /**
   * The index of `tenant` as seen by `repo` (call it inside the transaction that will use the
   * rates, so that index and data agree).
   */
  async forTenant(repo: Repository, tenant: string): Promise<RateIndex> {
    return (await this.ratesOf(repo, tenant)).index;
  }

  /** The index and carrier addresses of `tenant` as seen by `repo` (same rule as forTenant). */
  async ratesOf(repo: Repository, tenant: string): Promise<TenantRates> {
    const version = await repo.ratesVersion(tenant);
    const cached = this.byTenant.get(tenant);
    if (cached !== undefined && cached.version === version) return cached.rates;
    const rates = loadTenantRates(repo, tenant);
    const entry: CachedRates = { version, rates };
    this.byTenant.set(tenant, entry);
    try {
      return await rates;
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

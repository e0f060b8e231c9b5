// Destination rate (Canyan §3.7) and least-cost routing (§3.8), answered from the cached
// in-memory rate index of the tenant at the API's clock.
import type { Carrier, PricelistRate } from '../../domain/types.ts';
import type { RateSelector } from '../../rating/rate-index.ts';
import type { Repository } from '../../storage/storage.ts';
import { argString, argStringList, type Args } from './args.ts';
import { inTransaction, type GraphqlDeps } from './deps.ts';

export async function destinationRate(
  deps: GraphqlDeps,
  repo: Repository,
  tenant: string,
  selector: RateSelector,
  destination: string | null,
): Promise<PricelistRate | null> {
  const index = await deps.rates.forTenant(repo, tenant);
  return index.destinationRate(selector, destination, deps.clock());
}

/**
 * Carriers of the matching rates, cheapest first. As in Canyan a carrier appears once per
 * matching rate and rates whose carrier no longer exists are dropped.
 */
export async function leastCostCarriers(
  deps: GraphqlDeps,
  repo: Repository,
  tenant: string,
  carrierTags: readonly string[] | null,
  destination: string | null,
): Promise<Carrier[]> {
  const index = await deps.rates.forTenant(repo, tenant);
  const rates = index.leastCostRouting(carrierTags, destination, deps.clock());
  const byTag = new Map<string, Carrier | null>();
  const carriers: Carrier[] = [];
  for (const rate of rates) {
    let carrier = byTag.get(rate.carrier_tag);
    if (carrier === undefined) {
      carrier = await repo.get('carrier', { key: { tenant, carrier_tag: rate.carrier_tag } });
      byTag.set(rate.carrier_tag, carrier);
    }
    if (carrier !== null) carriers.push(carrier);
  }
  return carriers;
}

/** The root `leastCostRouting` query; carrier_tags_override is accepted and ignored, as in Canyan. */
export function leastCostRoutingQuery(deps: GraphqlDeps) {
  return {
    leastCostRouting: (_parent: unknown, args: Args) =>
      inTransaction(deps, (repo) =>
        leastCostCarriers(
          deps,
          repo,
          argString(args, 'tenant') ?? 'default',
          argStringList(args, 'carrier_tags'),
          argString(args, 'destination'),
        ),
      ),
  };
}

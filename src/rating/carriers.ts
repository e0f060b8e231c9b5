// Carriers of a least-cost routing answer, in the `PROTO:host:port` form the SIP proxies use.
import type { Carrier, PricelistRate } from '../domain/types.ts';
import type { Repository } from '../storage/storage.ts';

export function formatCarrier(carrier: Carrier): string {
  return `${carrier.protocol ?? ''}:${carrier.host ?? ''}:${carrier.port ?? ''}`;
}

/**
 * One entry per routed rate, in the rates' order. As in the original (§3.8): rates whose carrier
 * no longer exists are dropped, a carrier reached by several rates appears several times, and
 * inactive carriers are kept.
 */
export async function formatCarriers(repo: Repository, tenant: string, rates: readonly PricelistRate[]): Promise<string[]> {
  const byTag = new Map<string, Carrier | null>();
  const formatted: string[] = [];
  for (const rate of rates) {
    let carrier = byTag.get(rate.carrier_tag);
    if (carrier === undefined) {
      carrier = await repo.get('carrier', { key: { tenant, carrier_tag: rate.carrier_tag } });
      byTag.set(rate.carrier_tag, carrier);
    }
    if (carrier !== null) formatted.push(formatCarrier(carrier));
  }
  return formatted;
}

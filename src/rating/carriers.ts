// Carriers of a least-cost routing answer, in the `PROTO:host:port` form the SIP proxies use.
import type { Carrier, PricelistRate } from '../domain/types.ts';

/** carrier_tag -> `PROTO:host:port` for every carrier of one tenant. */
export type CarrierAddresses = ReadonlyMap<string, string>;

export function formatCarrier(carrier: Carrier): string {
  return `${carrier.protocol ?? ''}:${carrier.host ?? ''}:${carrier.port ?? ''}`;
}

export function carrierAddresses(carriers: readonly Carrier[]): CarrierAddresses {
  return new Map(carriers.map((carrier) => [carrier.carrier_tag, formatCarrier(carrier)]));
}

/**
 * One entry per routed rate, in the rates' order. As in the original (§3.8): rates whose carrier
 * no longer exists are dropped, a carrier reached by several rates appears several times, and
 * inactive carriers are kept.
 */
export function formatCarriers(addresses: CarrierAddresses, rates: readonly PricelistRate[]): string[] {
  const formatted: string[] = [];
  for (const rate of rates) {
    const address = addresses.get(rate.carrier_tag);
    if (address !== undefined) formatted.push(address);
  }
  return formatted;
}

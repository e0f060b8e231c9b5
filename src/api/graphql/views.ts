// Objects handed to GraphQL that are not stored records as such: frozen rates shown as
// PricelistRate.
import type { FrozenRate, PricelistRate } from '../../domain/types.ts';

/** A PricelistRate-shaped copy of a rate frozen into a (running) transaction. */
export interface FrozenRateView extends Omit<PricelistRate, 'id' | 'pricelist_tag' | 'carrier_tag'> {
  id: null;
  pricelist_tag: string | null;
  carrier_tag: string | null;
}

export function frozenRateView(tenant: string, rate: FrozenRate | null): FrozenRateView | null {
  if (rate === null) return null;
  return {
    id: null,
    tenant,
    pricelist_tag: rate.pricelist_tag,
    carrier_tag: rate.carrier_tag,
    // The schema declares prefix non-null; a frozen copy may lack it.
    prefix: rate.prefix ?? '',
    datetime_start: rate.datetime_start,
    datetime_end: rate.datetime_end,
    active: null,
    connect_fee: rate.connect_fee,
    rate: rate.rate,
    rate_increment: rate.rate_increment,
    interval_start: rate.interval_start,
    description: rate.description,
  };
}

export type RateView = PricelistRate | FrozenRateView;

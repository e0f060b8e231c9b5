// The rater: price and billed duration of a call, and how long a new call may last on a given
// balance (Canyan §4.2). Money and time are integers throughout, so results are exact for every
// safe-integer input; floating-point division is never used on money.
import type { FrozenRate, Micros, PricelistRate } from '../domain/types.ts';
import { MICROS_PER_SECOND } from '../domain/time.ts';

/** Longest call a single authorization may grant, in seconds (4 h). */
export const MAX_UNITS = 14_400;

interface RateTerms {
  connectFee: number;
  rate: number;
  increment: number;
  freeIncrements: number;
}

/** Null fields count as 0 (FIX §8.9), and a missing or zero increment bills per second. */
function rateTerms(rate: FrozenRate | PricelistRate): RateTerms {
  const increment = rate.rate_increment ?? 0;
  return {
    connectFee: rate.connect_fee ?? 0,
    rate: rate.rate ?? 0,
    // A negative increment has no meaning either; billing per second keeps the fee finite.
    increment: increment >= 1 ? increment : 1,
    freeIncrements: rate.interval_start ?? 0,
  };
}

/** Integer division rounding toward zero, exact for safe integers (unlike Math.trunc(a / b)). */
function truncDiv(dividend: number, divisor: number): number {
  const remainder = dividend % divisor; // JS remainder takes the dividend's sign: truncation
  return (dividend - remainder) / divisor;
}

/** ceil(a / b) for a >= 0 and b >= 1, in integers. */
function ceilDiv(dividend: number, divisor: number): number {
  const remainder = dividend % divisor;
  return (dividend - remainder) / divisor + (remainder > 0 ? 1 : 0);
}

/** Billed seconds: every started second counts, across any number of days (FIX §8.6). */
export function billedSeconds(begin: Micros, end: Micros): number {
  if (end <= begin) return 0;
  return ceilDiv(end - begin, MICROS_PER_SECOND);
}

/**
 * Fee and duration of a call from `begin` to `end` at the frozen `rate`.
 * A call of zero or negative length is free (not even the connect fee is charged), and a call
 * with no rate costs nothing.
 */
export function computeFee(rate: FrozenRate | null, begin: Micros, end: Micros): { fee: number; duration: number } {
  const duration = billedSeconds(begin, end);
  if (duration === 0 || rate === null) return { fee: 0, duration };
  const terms = rateTerms(rate);
  const chargedIncrements = Math.max(0, ceilDiv(duration, terms.increment) - terms.freeIncrements);
  return { fee: terms.connectFee + chargedIncrements * terms.rate, duration };
}

function isEmptyRate(rate: object): boolean {
  return Object.keys(rate).length === 0;
}

/**
 * How many seconds a new call may last on `balance` at `rate`, and whether it may start at all.
 * Reproduces the original's quirks on purpose: interval_start is added here as seconds, and a
 * positive balance smaller than one increment is authorized with 0 units (§8.7, §8.8).
 */
export function maxAllowedUnits(balance: number, rate: FrozenRate | PricelistRate | null): { authorized: boolean; units: number } {
  if (rate === null || isEmptyRate(rate)) return { authorized: false, units: 0 };
  const terms = rateTerms(rate);
  let units = terms.rate !== 0 ? truncDiv(balance - terms.connectFee, terms.rate) * terms.increment : MAX_UNITS;
  units = units !== 0 ? Math.min(units + terms.freeIncrements, MAX_UNITS) : 0;
  return {
    authorized: balance > 0 || (terms.connectFee === 0 && terms.rate === 0),
    units: units > 0 ? units : 0,
  };
}

// In-memory prefix index over one tenant's price-list rates: destination-rate resolution
// (Canyan §3.7) and least-cost routing (§3.8), with the fixes of §8.26: a prefix of every length
// matches (including the whole destination), ties go to the cheapest rate, and the validity
// window datetime_start <= at < datetime_end is enforced.
//
// Lookups must be fast (millions per second on a million prefixes) and allocation-free, so
// prefixes are keyed by a rolling hash that can be computed for every prefix of the
// destination in one pass, without slicing strings. Hash collisions are resolved by comparing
// the real prefix text.
import type { Micros, PricelistRate } from '../domain/types.ts';

/** The part of an account that selects its rates. */
export interface RateSelector {
  pricelist_tags: readonly string[] | null;
  carrier_tags: readonly string[] | null;
}

const HASH_SEED = 0x811c9dc5 | 0;

/** Adds one character to a rolling hash (multiply-xorshift: digit strings spread well). */
function extendHash(hash: number, charCode: number): number {
  const mixed = Math.imul(hash ^ charCode, 0x9e3779b1);
  return mixed ^ (mixed >>> 15);
}

function hashOf(text: string): number {
  let hash = HASH_SEED;
  for (let i = 0; i < text.length; i++) hash = extendHash(hash, text.charCodeAt(i));
  return hash;
}

/** Smallest b with 2^b >= count (at least 4). */
function bitsFor(count: number): number {
  let bits = 4;
  while (2 ** bits < count) bits++;
  return bits;
}

/** The filter bit of a hash: mixed differently from the slot, so the two stay independent. */
function filterBitOf(hash: number, shift: number): number {
  return Math.imul(hash ^ (hash >>> 13), 0x85ebca6b) >>> shift;
}

/** The table slot of a hash: its top bits after one more mixing step. */
function slotOf(hash: number, shift: number): number {
  return Math.imul(hash ^ (hash >>> 16), 0x2c1b3c6d) >>> shift;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Order among rates of the same prefix: cheapest rate, then connect fee, then carrier, then pricelist. */
function compareForDestination(a: PricelistRate, b: PricelistRate): number {
  return (
    (a.rate ?? 0) - (b.rate ?? 0) ||
    (a.connect_fee ?? 0) - (b.connect_fee ?? 0) ||
    compareText(a.carrier_tag, b.carrier_tag) ||
    compareText(a.pricelist_tag, b.pricelist_tag)
  );
}

/** Least-cost order: rate, then carrier; the rest only makes the order total. */
function compareForRouting(a: PricelistRate, b: PricelistRate): number {
  return (
    (a.rate ?? 0) - (b.rate ?? 0) ||
    compareText(a.carrier_tag, b.carrier_tag) ||
    (a.connect_fee ?? 0) - (b.connect_fee ?? 0) ||
    compareText(a.pricelist_tag, b.pricelist_tag) ||
    b.prefix.length - a.prefix.length
  );
}

/** Whether a filter list selects only some values (null or empty selects everything). */
function isRestrictive(filter: readonly string[] | null): boolean {
  return filter !== null && filter.length > 0;
}

/** Null or empty filter lists select everything. */
function passesFilter(filter: readonly string[] | null, value: string): boolean {
  return filter === null || filter.length === 0 || filter.includes(value);
}

// A slot of the hash table: eight int32 fields (32 bytes), so one probe reads one cache line,
// and the first characters of the prefix sit in the slot: most prefixes are checked against the
// destination without another memory access.
const SLOT_STRIDE = 8;
const SLOT_HASH = 0;
/** Index in `rates` of the prefix's first (cheapest) rate. */
const SLOT_FIRST_RATE = 1;
/** prefix length | rate count << 16 | ALWAYS_VALID; 0 marks an empty slot (prefixes are never empty). */
const SLOT_META = 2;
/** Offset in prefixChars of the characters that do not fit in the slot. */
const SLOT_OVERFLOW_START = 3;
/** Two UTF-16 code units per int32, low half first. */
const SLOT_CHARS = 4;
const INLINE_CHARS = 8;
const MAX_PREFIX_LENGTH = 0xffff;
const MAX_RATES_PER_PREFIX = 0x7fff;
/** Set when no rate of the prefix has a validity window, so the windows need not be read. */
const ALWAYS_VALID = 1 << 31;
const NOT_FOUND = -1;

export class RateIndex {
  // Lookups run millions of times per second over a million prefixes, so the hot path reads
  // typed arrays laid out for few cache misses instead of chasing per-prefix JS objects:
  // - a bit filter rejects most absent prefix lengths without touching anything else;
  // - an open-addressing table finds a prefix's slot, which also holds its first characters
  //   and says where its rates are;
  // - rates are stored cheapest first per prefix, with their validity windows beside them, so
  //   a rate object is only read when an account filters by pricelist or carrier.
  private readonly table: Int32Array;
  private readonly slotShift: number;
  private readonly slotMask: number;
  private readonly prefixChars: Uint16Array;
  private readonly rates: PricelistRate[];
  /** [from, until) of rates[k] at 2k and 2k + 1; open ends are infinite. */
  private readonly windows: Float64Array;
  private readonly filter: Int32Array;
  private readonly filterShift: number;
  private readonly longestPrefix: number;
  /** Scratch space for the hashes of a destination's prefixes; reused by every lookup. */
  private readonly prefixHashes: Int32Array;
  /** How many active rates the index holds. */
  readonly size: number;

  constructor(rates: readonly PricelistRate[]) {
    const entryOf = new Map<string, number>();
    const prefixes: string[] = [];
    const ratesOf: PricelistRate[][] = [];
    let longest = 0;
    let totalChars = 0;
    for (const rate of rates) {
      if (rate.active !== true || rate.prefix.length === 0) continue;
      let entry = entryOf.get(rate.prefix);
      if (entry === undefined) {
        if (rate.prefix.length > MAX_PREFIX_LENGTH) throw new RangeError(`prefix longer than ${MAX_PREFIX_LENGTH} characters`);
        entry = prefixes.length;
        entryOf.set(rate.prefix, entry);
        prefixes.push(rate.prefix);
        ratesOf.push([]);
        totalChars += Math.max(0, rate.prefix.length - INLINE_CHARS);
        longest = Math.max(longest, rate.prefix.length);
      }
      if (ratesOf[entry].length === MAX_RATES_PER_PREFIX) throw new RangeError(`more than ${MAX_RATES_PER_PREFIX} rates for prefix ${rate.prefix}`);
      ratesOf[entry].push(rate);
    }

    const slotBits = bitsFor(prefixes.length * 2);
    this.slotShift = 32 - slotBits;
    this.slotMask = (1 << slotBits) - 1;
    this.table = new Int32Array(SLOT_STRIDE << slotBits);
    // About 8 filter bits per prefix: roughly one absent prefix in eight gets past it.
    const filterBits = Math.max(5, bitsFor(prefixes.length * 8));
    this.filterShift = 32 - filterBits;
    this.filter = new Int32Array(1 << (filterBits - 5));
    this.prefixChars = new Uint16Array(totalChars);
    this.rates = [];
    const windows: number[] = [];
    let chars = 0;
    for (const [entry, prefix] of prefixes.entries()) {
      const sorted = ratesOf[entry].sort(compareForDestination);
      const hash = hashOf(prefix);
      let slot = slotOf(hash, this.slotShift);
      while (this.table[slot * SLOT_STRIDE + SLOT_META] !== 0) slot = (slot + 1) & this.slotMask;
      const at = slot * SLOT_STRIDE;
      const alwaysValid = sorted.every((rate) => rate.datetime_start === null && rate.datetime_end === null);
      this.table[at + SLOT_HASH] = hash;
      this.table[at + SLOT_FIRST_RATE] = this.rates.length;
      this.table[at + SLOT_META] = prefix.length | (sorted.length << 16) | (alwaysValid ? ALWAYS_VALID : 0);
      this.table[at + SLOT_OVERFLOW_START] = chars;
      for (let i = 0; i < Math.min(prefix.length, INLINE_CHARS); i++) {
        this.table[at + SLOT_CHARS + (i >> 1)] |= prefix.charCodeAt(i) << ((i & 1) * 16);
      }
      for (let i = INLINE_CHARS; i < prefix.length; i++) this.prefixChars[chars++] = prefix.charCodeAt(i);
      const bit = filterBitOf(hash, this.filterShift);
      this.filter[bit >>> 5] |= 1 << (bit & 31);
      for (const rate of sorted) {
        this.rates.push(rate);
        windows.push(rate.datetime_start ?? -Infinity, rate.datetime_end ?? Infinity);
      }
    }
    this.windows = Float64Array.from(windows);
    this.longestPrefix = longest;
    this.prefixHashes = new Int32Array(longest + 1);
    this.size = this.rates.length;
  }

  /** Fills prefixHashes[1..n] with the hashes of the destination's first n characters; returns n. */
  private hashPrefixes(destination: string): number {
    const length = Math.min(destination.length, this.longestPrefix);
    let hash = HASH_SEED;
    for (let i = 0; i < length; i++) {
      hash = extendHash(hash, destination.charCodeAt(i));
      this.prefixHashes[i + 1] = hash;
    }
    return length;
  }

  /** Whether the prefix in table slot offset `at` is exactly destination's first `length` characters. */
  private slotMatches(at: number, destination: string, length: number): boolean {
    if ((this.table[at + SLOT_META] & MAX_PREFIX_LENGTH) !== length) return false;
    const inline = length < INLINE_CHARS ? length : INLINE_CHARS;
    for (let i = 0; i < inline; i++) {
      const pair = this.table[at + SLOT_CHARS + (i >> 1)];
      if (((i & 1) === 0 ? pair & 0xffff : pair >>> 16) !== destination.charCodeAt(i)) return false;
    }
    const overflow = this.table[at + SLOT_OVERFLOW_START] - INLINE_CHARS;
    for (let i = INLINE_CHARS; i < length; i++) if (this.prefixChars[overflow + i] !== destination.charCodeAt(i)) return false;
    return true;
  }

  /** Table offset of the slot holding destination's first `length` characters (hashed already), or -1. */
  private slotAt(destination: string, length: number): number {
    const hash = this.prefixHashes[length];
    const bit = filterBitOf(hash, this.filterShift);
    if ((this.filter[bit >>> 5] & (1 << (bit & 31))) === 0) return NOT_FOUND;
    for (let slot = slotOf(hash, this.slotShift); ; slot = (slot + 1) & this.slotMask) {
      const at = slot * SLOT_STRIDE;
      if (this.table[at + SLOT_META] === 0) return NOT_FOUND;
      if (this.table[at + SLOT_HASH] === hash && this.slotMatches(at, destination, length)) return at;
    }
  }

  private isValidAt(k: number, at: Micros): boolean {
    return this.windows[2 * k] <= at && at < this.windows[2 * k + 1];
  }

  /**
   * The rate an account pays to reach `destination` at time `at`: the longest matching prefix
   * among the account's pricelists and carriers, cheapest first among equal prefixes.
   */
  destinationRate(account: RateSelector, destination: string | null, at: Micros): PricelistRate | null {
    if (destination === null || destination.length === 0) return null;
    const filtered = isRestrictive(account.pricelist_tags) || isRestrictive(account.carrier_tags);
    for (let length = this.hashPrefixes(destination); length > 0; length--) {
      const slot = this.slotAt(destination, length);
      if (slot === NOT_FOUND) continue;
      const meta = this.table[slot + SLOT_META];
      const first = this.table[slot + SLOT_FIRST_RATE];
      if (!filtered && (meta & ALWAYS_VALID) !== 0) return this.rates[first];
      const end = first + ((meta >>> 16) & MAX_RATES_PER_PREFIX);
      for (let k = first; k < end; k++) {
        if (!this.isValidAt(k, at)) continue;
        if (!filtered) return this.rates[k];
        const rate = this.rates[k];
        if (passesFilter(account.pricelist_tags, rate.pricelist_tag) && passesFilter(account.carrier_tags, rate.carrier_tag)) return rate;
      }
    }
    return null;
  }

  /**
   * Every rate of any pricelist that can carry `destination` at `at`, cheapest first (every
   * matching prefix length competes). `carrierTags` null means every carrier, [] means none.
   */
  leastCostRouting(carrierTags: readonly string[] | null, destination: string | null, at: Micros): PricelistRate[] {
    const found: PricelistRate[] = [];
    if (destination === null || destination.length === 0 || (carrierTags !== null && carrierTags.length === 0)) return found;
    for (let length = this.hashPrefixes(destination); length > 0; length--) {
      const slot = this.slotAt(destination, length);
      if (slot === NOT_FOUND) continue;
      const first = this.table[slot + SLOT_FIRST_RATE];
      const end = first + ((this.table[slot + SLOT_META] >>> 16) & MAX_RATES_PER_PREFIX);
      for (let k = first; k < end; k++) {
        const rate = this.rates[k];
        if (this.isValidAt(k, at) && (carrierTags === null || carrierTags.includes(rate.carrier_tag))) found.push(rate);
      }
    }
    return found.sort(compareForRouting);
  }
}

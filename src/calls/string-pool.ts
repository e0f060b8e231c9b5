// Interning for the strings a tracked call keeps (account tags, SIP addresses).
//
// Two reasons: the same caller and destination addresses repeat across thousands of concurrent
// calls, so sharing one copy saves memory; and strings cut out of a parsed SIP message may be V8
// "sliced strings" that keep the whole SIP text alive, so every kept string is first copied into
// a fresh, standalone string.

/** A standalone copy of `text` that does not reference the buffer or string it was cut from. */
export function detachString(text: string): string {
  // Short strings are always copied by V8; longer ones may be slices of their parent.
  if (text.length < 13) return text;
  return Buffer.from(text, 'utf8').toString('utf8');
}

export class StringPool {
  private readonly pool = new Map<string, string>();

  /** Bounded so that an attacker sending random addresses cannot grow it forever. */
  constructor(private readonly maxEntries = 50_000) {}

  intern(text: string): string {
    if (text === '') return '';
    const shared = this.pool.get(text);
    if (shared !== undefined) return shared;
    // Dropping the whole pool when full is crude but safe: calls keep their own references,
    // and the pool refills with the strings that are still common.
    if (this.pool.size >= this.maxEntries) this.pool.clear();
    const copy = detachString(text);
    this.pool.set(copy, copy);
    return copy;
  }

  get size(): number {
    return this.pool.size;
  }
}

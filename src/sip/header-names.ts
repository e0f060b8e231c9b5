// Header name lookup keys: SIP header names are case-insensitive and many have a one-letter
// compact form (RFC 3261 §7.3.3 plus later extensions), so both spellings must find the same
// header.

const COMPACT_TO_LONG: ReadonlyMap<string, string> = new Map([
  ['a', 'accept-contact'],
  ['b', 'referred-by'],
  ['c', 'content-type'],
  ['d', 'request-disposition'],
  ['e', 'content-encoding'],
  ['f', 'from'],
  ['i', 'call-id'],
  ['j', 'reject-contact'],
  ['k', 'supported'],
  ['l', 'content-length'],
  ['m', 'contact'],
  ['n', 'identity-info'],
  ['o', 'event'],
  ['r', 'refer-to'],
  ['s', 'subject'],
  ['t', 'to'],
  ['u', 'allow-events'],
  ['v', 'via'],
  ['x', 'session-expires'],
  ['y', 'identity'],
]);

const LONG_TO_COMPACT: ReadonlyMap<string, string> = new Map(
  [...COMPACT_TO_LONG].map(([compact, long]) => [long, compact]),
);

/** The lower-case spellings (long, and compact when one exists) under which a header may appear. */
export interface HeaderNameForms {
  long: string;
  compact: string | null;
}

export function headerNameForms(name: string): HeaderNameForms {
  const lower = name.trim().toLowerCase();
  const long = COMPACT_TO_LONG.get(lower);
  if (long !== undefined) return { long, compact: lower };
  return { long: lower, compact: LONG_TO_COMPACT.get(lower) ?? null };
}

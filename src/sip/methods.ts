// Method names seen on every packet (start line, CSeq) are returned as shared constants, so the
// common case allocates no string at all.
import { asciiText, equalsExactly } from './bytes.ts';

/** The common methods; the scan kernel (assembly/scan-kernel.ts) numbers them in this order. */
export const COMMON_METHODS: readonly string[] = [
  'INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PRACK', 'UPDATE', 'INFO',
  'SUBSCRIBE', 'NOTIFY', 'REFER', 'MESSAGE', 'PUBLISH',
];

// The common method of each (length, first byte & 31), or '' : one lookup finds the only
// candidate, where a scan of the list would compare up to all of them. No two common methods
// share a length and first letter.
const MAX_COMMON_LENGTH = 9;
const CANDIDATES: readonly string[] = (() => {
  const table = new Array<string>((MAX_COMMON_LENGTH + 1) * 32).fill('');
  for (const method of COMMON_METHODS) {
    const slot = method.length * 32 + (method.charCodeAt(0) & 31);
    if (table[slot] !== '') throw new Error(`methods ${table[slot]} and ${method} share a slot`);
    table[slot] = method;
  }
  return table;
})();

/** The method token at payload[start, end) (ASCII, already validated), shared when common. */
export function methodText(payload: Buffer, start: number, end: number): string {
  const length = end - start;
  if (length <= MAX_COMMON_LENGTH) {
    const method = CANDIDATES[length * 32 + (payload[start] & 31)];
    if (method !== '' && equalsExactly(payload, start, end, method)) return method;
  }
  return asciiText(payload, start, end);
}

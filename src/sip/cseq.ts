// CSeq: "<sequence number> <method>".
import { methodText } from './methods.ts';

export interface CSeq {
  number: number | null;
  method: string | null;
}

export function parseCSeq(value: string): CSeq {
  const text = value.trim();
  let i = 0;
  let number = 0;
  while (i < text.length && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) {
    number = number * 10 + (text.charCodeAt(i) - 0x30);
    i++;
  }
  // RFC 3261 caps the number at 2^31-1; anything beyond is not a CSeq we can compare safely.
  const validNumber = i > 0 && i <= 10 && number <= 0x7fffffff;
  const digitsEnd = i;
  while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i++;
  let methodEnd = i;
  while (methodEnd < text.length && text[methodEnd] !== ' ' && text[methodEnd] !== '\t') methodEnd++;
  const method = digitsEnd > 0 && i > digitsEnd && methodEnd > i ? text.slice(i, methodEnd) : null;
  return { number: validNumber ? number : null, method };
}

/** Where scanCSeqInto leaves its answer: one shared object, so the per-packet read allocates none. */
export const scannedCSeq: CSeq = { number: null, method: null };

/**
 * parseCSeq straight from the bytes of an unfolded value already trimmed of spaces and tabs.
 * Returns null (use parseCSeq on the text) when a byte is not printable ASCII or a tab, the only
 * case where the text-level trim could differ.
 */
export function scanCSeq(payload: Buffer, start: number, end: number): CSeq | null {
  return scanCSeqInto(payload, start, end) ? { number: scannedCSeq.number, method: scannedCSeq.method } : null;
}

/** scanCSeq leaving the answer in scannedCSeq; false where scanCSeq returns null. */
export function scanCSeqInto(payload: Buffer, start: number, end: number): boolean {
  // One pass: digits, spaces and tabs are printable by construction, so only the method and
  // whatever follows it need the printable-ASCII check.
  let i = start;
  let number = 0;
  while (i < end) {
    const byte = payload[i];
    if (byte < 0x30 || byte > 0x39) break;
    number = number * 10 + (byte - 0x30);
    i++;
  }
  const digits = i - start;
  const validNumber = digits > 0 && digits <= 10 && number <= 0x7fffffff;
  const digitsEnd = i;
  while (i < end && (payload[i] === 0x20 || payload[i] === 0x09)) i++;
  let methodEnd = i;
  while (methodEnd < end) {
    const byte = payload[methodEnd];
    if (byte === 0x20 || byte === 0x09) break;
    if (byte < 0x20 || byte > 0x7e) return false;
    methodEnd++;
  }
  for (let k = methodEnd; k < end; k++) {
    const byte = payload[k];
    if ((byte < 0x20 && byte !== 0x09) || byte > 0x7e) return false;
  }
  scannedCSeq.number = validNumber ? number : null;
  scannedCSeq.method = digits > 0 && i > digitsEnd && methodEnd > i ? methodText(payload, i, methodEnd) : null;
  return true;
}

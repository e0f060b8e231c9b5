// Byte-level helpers for the hot path: the parser works on the captured Buffer and turns only the
// fields actually read into strings.

export const HT = 0x09;
export const LF = 0x0a;
export const CR = 0x0d;
export const SP = 0x20;
export const QUOTE = 0x22;
export const COMMA = 0x2c;
export const COLON = 0x3a;
export const SEMICOLON = 0x3b;
export const BACKSLASH = 0x5c;

export function isWhitespace(byte: number): boolean {
  return byte === SP || byte === HT;
}

/** RFC 3261 token characters: alphanumerics and - . ! % * _ + ` ' ~ (1 = token byte). */
const TOKEN_BYTES: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (let byte = 0; byte < 256; byte++) {
    const alphanumeric = (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39);
    if (alphanumeric || "-.!%*_+`'~".includes(String.fromCharCode(byte))) table[byte] = 1;
  }
  return table;
})();

/** A table lookup: header names are scanned byte by byte on every packet. */
export function isTokenByte(byte: number): boolean {
  return TOKEN_BYTES[byte] === 1;
}

/**
 * Offset of the next LF at or after `from` and before `limit` (the end of the SIP payload, which
 * may lie inside a larger buffer), or `limit`. Buffer's indexOf (memchr) beats a byte loop once a
 * line's value is longer than a few bytes, which nearly all are; an LF it finds past the limit
 * belongs to whatever follows the payload and counts as none.
 */
export function lineFeedFrom(payload: Buffer, from: number, limit: number): number {
  const lf = payload.indexOf(LF, from);
  return lf === -1 || lf > limit ? limit : lf;
}

/** End of a line's content: the LF (or payload end) at `lf`, minus a CR right before it. */
export function contentEndOf(payload: Buffer, lineStart: number, lf: number): number {
  return lf > lineStart && payload[lf - 1] === CR ? lf - 1 : lf;
}

/** `end` moved back over spaces and tabs, not before `start`. */
export function trimEnd(payload: Buffer, start: number, end: number): number {
  let e = end;
  while (e > start && isWhitespace(payload[e - 1])) e--;
  return e;
}

/** Compares payload[start, end) with a lower-case ASCII name, ignoring ASCII case. */
export function equalsIgnoringCase(payload: Buffer, start: number, end: number, lowerName: string): boolean {
  if (end - start !== lowerName.length) return false;
  for (let i = 0; i < lowerName.length; i++) {
    let byte = payload[start + i];
    if (byte >= 0x41 && byte <= 0x5a) byte += 0x20;
    if (byte !== lowerName.charCodeAt(i)) return false;
  }
  return true;
}

/** Compares payload[start, end) with `text` exactly. */
export function equalsExactly(payload: Buffer, start: number, end: number, text: string): boolean {
  if (end - start !== text.length) return false;
  for (let i = 0; i < text.length; i++) {
    if (payload[start + i] !== text.charCodeAt(i)) return false;
  }
  return true;
}

/** True when every byte of payload[start, end) is ASCII. */
export function isAsciiSpan(payload: Buffer, start: number, end: number): boolean {
  // OR-ing the bytes keeps the loop free of branches; non-ASCII spans are too rare to stop early for.
  let bits = 0;
  for (let i = start; i < end; i++) bits |= payload[i];
  return bits < 0x80;
}

type SliceMethod = (this: Buffer, start: number, end: number) => string;

/**
 * Buffer's own per-encoding slicers, which toString(encoding, start, end) reaches only after
 * dispatching on the encoding name: for the short fields read here that dispatch costs about as
 * much as the copy. They are not in Node's typings, hence the lookup; toString is the fallback.
 */
function bufferSlicer(name: string, encoding: BufferEncoding): SliceMethod {
  const method: unknown = Reflect.get(Buffer.prototype, name);
  if (typeof method === 'function') return method as SliceMethod;
  return function (this: Buffer, start: number, end: number): string {
    return this.toString(encoding, start, end);
  };
}

const latin1Slice = bufferSlicer('latin1Slice', 'latin1');
const utf8Slice = bufferSlicer('utf8Slice', 'utf8');

/**
 * Text of a span known to be ASCII. latin1 decoding equals UTF-8 decoding there and skips the
 * UTF-8 validation; callers check the bytes first.
 */
export function asciiText(payload: Buffer, start: number, end: number): string {
  return latin1Slice.call(payload, start, end);
}

/** UTF-8 text of payload[start, end), as toString('utf8', start, end) gives it. */
export function utf8Text(payload: Buffer, start: number, end: number): string {
  return start >= end ? '' : utf8Slice.call(payload, start, end);
}

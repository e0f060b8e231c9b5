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

export function isDigit(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}

/** RFC 3261 token characters: alphanumerics and - . ! % * _ + ` ' ~ */
export function isTokenByte(byte: number): boolean {
  if (byte >= 0x61 && byte <= 0x7a) return true; // a-z
  if (byte >= 0x41 && byte <= 0x5a) return true; // A-Z
  if (byte >= 0x30 && byte <= 0x39) return true; // 0-9
  return (
    byte === 0x2d || byte === 0x2e || byte === 0x21 || byte === 0x25 || byte === 0x2a ||
    byte === 0x5f || byte === 0x2b || byte === 0x60 || byte === 0x27 || byte === 0x7e
  );
}

/** Index of the first `byte` in payload[from, end), or -1. A JS loop: short spans do not pay for a native call. */
export function indexOfByte(payload: Buffer, byte: number, from: number, end: number): number {
  for (let i = from; i < end; i++) {
    if (payload[i] === byte) return i;
  }
  return -1;
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

/**
 * Text of a span known to be ASCII. latin1 decoding equals UTF-8 decoding there and skips the
 * UTF-8 validation; callers check the bytes first.
 */
export function asciiText(payload: Buffer, start: number, end: number): string {
  return payload.toString('latin1', start, end);
}

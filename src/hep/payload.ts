// Payload post-processing: OpenSIPS can gzip the payload (chunk 0x0010) and, in "HOMER 6" mode
// (homer5_on=0), wraps the SIP text in a JSON object. Both are rare, so the common raw-SIP path
// only pays for one byte comparison.
import { gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import type { HepErrorReason } from './types.ts';

/** Upper bound for an inflated payload: HEP messages are at most 65535 bytes on the wire, a SIP
 *  message that inflates beyond this is either hostile (zip bomb) or not SIP. */
export const MAX_INFLATED_PAYLOAD_BYTES = 1024 * 1024;

export type PayloadOutcome = { ok: true; payload: Buffer } | { ok: false; reason: HepErrorReason; detail: string };

/** Auto-detects gzip or zlib framing, with raw deflate as the last resort (spec hep.md §2.5). */
export function inflatePayload(compressed: Buffer, maxBytes: number = MAX_INFLATED_PAYLOAD_BYTES): PayloadOutcome {
  if (compressed.length === 0) return { ok: false, reason: 'bad_compression', detail: 'empty compressed payload' };
  const options = { maxOutputLength: maxBytes };
  try {
    if (isGzipHeader(compressed)) return { ok: true, payload: gunzipSync(compressed, options) };
    if (isZlibHeader(compressed)) return { ok: true, payload: inflateSync(compressed, options) };
    return { ok: true, payload: inflateRawSync(compressed, options) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, reason: 'bad_compression', detail: `cannot inflate payload: ${message}` };
  }
}

function isGzipHeader(data: Buffer): boolean {
  return data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b;
}

function isZlibHeader(data: Buffer): boolean {
  if (data.length < 2) return false;
  const cmf = data[0];
  // Compression method 8 (deflate) with a window of at most 32 KiB, and the header checksum.
  return (cmf & 0x0f) === 8 && cmf >> 4 <= 7 && ((cmf << 8) | data[1]) % 31 === 0;
}

/** True when the first non-blank byte of payload[start, end) opens a JSON object, the mark of an OpenSIPS homer5_on=0 payload. */
export function looksJsonWrapped(payload: Buffer, start = 0, end: number = payload.length): boolean {
  for (let i = start; i < end; i++) {
    const byte = payload[i];
    if (byte === 0x7b) return true; // '{'
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d && byte !== 0x0a) return false;
  }
  return false;
}

/** The SIP text of a JSON wrapper: bytes[0, length) (the buffer may be longer). */
export type UnwrapOutcome = { ok: true; bytes: Buffer; length: number } | { ok: false; reason: HepErrorReason; detail: string };

/** Extracts the string member "payload" of the JSON-wrapped payload in payload[start, end). */
export function unwrapJsonPayload(payload: Buffer, start = 0, end: number = payload.length): UnwrapOutcome {
  return unwrapCommonShape(payload, start, end) ?? unwrapByJsonParse(payload, start, end);
}

const JSON_QUOTE = 0x22;
const JSON_BACKSLASH = 0x5c;

function skipJsonWhitespace(bytes: Buffer, from: number, end: number): number {
  let i = from;
  while (i < end) {
    const byte = bytes[i];
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) break;
    i++;
  }
  return i;
}

// 1 for the bytes a JSON string holds as themselves here: printable ASCII but '"' and '\\'.
const PLAIN_STRING_BYTES: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (let byte = 0x20; byte < 0x80; byte++) table[byte] = 1;
  table[JSON_QUOTE] = 0;
  table[JSON_BACKSLASH] = 0;
  return table;
})();

// The byte each one-character JSON escape stands for (after the backslash), 0 for none.
const SIMPLE_ESCAPES: Uint8Array = (() => {
  const table = new Uint8Array(256);
  const pairs: Array<[string, number]> = [['"', 0x22], ['\\', 0x5c], ['/', 0x2f], ['b', 0x08], ['f', 0x0c], ['n', 0x0a], ['r', 0x0d], ['t', 0x09]];
  for (const [escape, byte] of pairs) table[escape.charCodeAt(0)] = byte;
  return table;
})();

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/**
 * The wrapper as OpenSIPS sends it, read straight from the bytes: an object whose only member is
 * "payload", a string of ASCII text (escapes included, \u only below 0x80). That is a subset of
 * JSON on which JSON.parse + Buffer.from give these same bytes; anything else (other members,
 * non-ASCII, invalid JSON) returns null and goes through JSON.parse, which decides and words the
 * error. Saves decoding the whole payload to a string, parsing it and encoding the SIP back.
 */
function unwrapCommonShape(bytes: Buffer, start: number, end: number): UnwrapOutcome | null {
  const length = end;
  let i = skipJsonWhitespace(bytes, start, length);
  if (i >= length || bytes[i] !== 0x7b) return null; // '{'
  i = skipJsonWhitespace(bytes, i + 1, length);
  // "payload" spelled without escapes, then ':' and the opening quote of the value.
  if (i + 9 > length || bytes[i] !== JSON_QUOTE || bytes[i + 8] !== JSON_QUOTE) return null;
  for (let k = 0; k < 7; k++) if (bytes[i + 1 + k] !== PAYLOAD_KEY.charCodeAt(k)) return null;
  i = skipJsonWhitespace(bytes, i + 9, length);
  if (i >= length || bytes[i] !== 0x3a) return null; // ':'
  i = skipJsonWhitespace(bytes, i + 1, length);
  if (i >= length || bytes[i] !== JSON_QUOTE) return null;
  i++;
  // The text is at most as long as its escaped form.
  const out = Buffer.allocUnsafe(length - i);
  let n = 0;
  for (;;) {
    if (i >= length) return null;
    let byte = bytes[i];
    // The plain runs between escapes (whole SIP lines) copied in a loop of their own: one test
    // per byte instead of going round the escape handling each time.
    while (PLAIN_STRING_BYTES[byte] === 1) {
      out[n++] = byte;
      if (++i >= length) return null;
      byte = bytes[i];
    }
    if (byte === JSON_QUOTE) break;
    if (byte !== JSON_BACKSLASH) return null; // a control byte (invalid JSON) or non-ASCII
    if (i + 1 >= length) return null;
    const escape = bytes[i + 1];
    const simple = SIMPLE_ESCAPES[escape];
    if (simple !== 0) {
      out[n++] = simple;
      i += 2;
      continue;
    }
    if (escape !== 0x75 || i + 6 > length) return null; // only \uXXXX is left
    const h0 = hexValue(bytes[i + 2]);
    const h1 = hexValue(bytes[i + 3]);
    const h2 = hexValue(bytes[i + 4]);
    const h3 = hexValue(bytes[i + 5]);
    if (h0 !== 0 || h1 !== 0 || h2 < 0 || h2 > 7 || h3 < 0) return null; // not below 0x80, or not hex
    out[n++] = (h2 << 4) | h3;
    i += 6;
  }
  i = skipJsonWhitespace(bytes, i + 1, length);
  if (i >= length || bytes[i] !== 0x7d) return null; // '}'
  if (skipJsonWhitespace(bytes, i + 1, length) !== length) return null;
  return { ok: true, bytes: out, length: n };
}

const PAYLOAD_KEY = 'payload';

function unwrapByJsonParse(payload: Buffer, start: number, end: number): UnwrapOutcome {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8', start, end));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, reason: 'bad_json_payload', detail: `payload looks like JSON but does not parse: ${message}` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, reason: 'bad_json_payload', detail: 'JSON payload is not an object' };
  }
  const inner: unknown = (parsed as Record<string, unknown>).payload;
  if (typeof inner !== 'string') {
    return { ok: false, reason: 'bad_json_payload', detail: 'JSON payload has no string "payload" member' };
  }
  const bytes = Buffer.from(inner, 'utf8');
  return { ok: true, bytes, length: bytes.length };
}

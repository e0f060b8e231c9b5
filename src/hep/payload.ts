// Payload post-processing: OpenSIPS can gzip the payload (chunk 0x0010) and, in "HOMER 6" mode
// (homer5_on=0), wraps the SIP text in a JSON object. Both are rare, so the common raw-SIP path
// only pays for one byte comparison.
import { gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import { sharedScanKernel } from '../scan-kernel/index.ts';
import type { HepErrorReason } from './types.ts';

const kernel = sharedScanKernel();

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

function skipJsonWhitespace(bytes: Buffer, from: number, end: number): number {
  let i = from;
  while (i < end) {
    const byte = bytes[i];
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) break;
    i++;
  }
  return i;
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
  // The string body is read by the kernel, sixteen bytes at a time (a byte loop here cost more
  // than the rest of the decode and the SIP parse together).
  const body = kernel.unescapeJsonString(bytes, i, length);
  if (body === null) return null;
  i = body.closingQuote;
  i = skipJsonWhitespace(bytes, i + 1, length);
  if (i >= length || bytes[i] !== 0x7d) return null; // '}'
  if (skipJsonWhitespace(bytes, i + 1, length) !== length) return null;
  return { ok: true, bytes: body.text, length: body.text.length };
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

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

/** True when the first non-blank byte opens a JSON object, the mark of an OpenSIPS homer5_on=0 payload. */
export function looksJsonWrapped(payload: Buffer): boolean {
  for (let i = 0; i < payload.length; i++) {
    const byte = payload[i];
    if (byte === 0x7b) return true; // '{'
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d && byte !== 0x0a) return false;
  }
  return false;
}

/** Extracts the string member "payload" of a JSON-wrapped payload. */
export function unwrapJsonPayload(payload: Buffer): PayloadOutcome {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
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
  return { ok: true, payload: Buffer.from(inner, 'utf8') };
}

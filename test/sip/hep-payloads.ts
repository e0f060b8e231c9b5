// Test helper: pulls the SIP payloads out of the captured HEP fixtures with a deliberately tiny
// decoder (HEP3 chunk walk, HEPv1/v2 fixed headers, OpenSIPS JSON wrapping), so that the SIP
// parser's tests do not depend on the HEP module being finished.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface CapturedSip {
  /** "<file>#<n>" for messages out of streams. */
  source: string;
  payload: Buffer;
  /** HEP3 chunk 0x0011 when present. */
  correlationId: string | null;
}

export function sharedDir(): string {
  return existsSync('/work/shared') ? '/work/shared' : resolve(process.cwd(), '..', 'shared');
}

function unwrapJson(payload: Buffer): Buffer {
  if (payload[0] !== 0x7b) return payload; // '{'
  const parsed: unknown = JSON.parse(payload.toString('utf8'));
  if (typeof parsed === 'object' && parsed !== null && 'payload' in parsed && typeof parsed.payload === 'string') {
    return Buffer.from(parsed.payload, 'utf8');
  }
  return payload;
}

interface Hep3Message {
  protoType: number | null;
  payload: Buffer | null;
  correlationId: string | null;
}

function decodeHep3(message: Buffer): Hep3Message {
  const result: Hep3Message = { protoType: null, payload: null, correlationId: null };
  let offset = 6;
  while (offset + 6 <= message.length) {
    const type = message.readUInt16BE(offset + 2);
    const length = message.readUInt16BE(offset + 4);
    if (length < 6 || offset + length > message.length) break;
    const body = message.subarray(offset + 6, offset + length);
    if (type === 0x0b) result.protoType = body[0];
    if (type === 0x0f) result.payload = unwrapJson(body);
    if (type === 0x11) result.correlationId = body.toString('utf8');
    offset += length;
  }
  return result;
}

/** Every SIP message in one fixture file (a datagram or a stream of HEP3 messages). */
function sipPayloadsOf(path: string, name: string): CapturedSip[] {
  const data = readFileSync(path);
  if (data.length === 0) return [];
  if (data[0] === 1 || data[0] === 2) {
    // HEPv1: 16-byte header; HEPv2: plus a 12-byte time block. OpenSIPS may pad with NULs.
    let payload = data.subarray(data[0] === 1 ? 16 : 28);
    let end = payload.length;
    while (end > 0 && payload[end - 1] === 0) end--;
    payload = payload.subarray(0, end);
    return [{ source: name, payload, correlationId: null }];
  }
  const found: CapturedSip[] = [];
  let offset = 0;
  let n = 0;
  while (offset + 6 <= data.length && data.toString('latin1', offset, offset + 4) === 'HEP3') {
    const total = data.readUInt16BE(offset + 4);
    if (total < 6 || offset + total > data.length) break;
    const message = decodeHep3(data.subarray(offset, offset + total));
    n++;
    if (message.protoType === 1 && message.payload !== null) {
      found.push({ source: `${name}#${n}`, payload: message.payload, correlationId: message.correlationId });
    }
    offset += total;
  }
  return found;
}

/** The SIP payloads of every HEP fixture (Canyan's three packets and the Kamailio/OpenSIPS captures). */
export function allFixtureSipPayloads(): CapturedSip[] {
  const found: CapturedSip[] = [];
  for (const dir of [join(sharedDir(), 'fixtures', 'canyan'), join(sharedDir(), 'fixtures', 'hep')]) {
    for (const name of readdirSync(dir).sort()) {
      // HEPv2 over TCP has no framing at all, so its records cannot be split reliably.
      if (!name.endsWith('.bin') || name === 'kamailio-tcp-hep2-stream.bin') continue;
      found.push(...sipPayloadsOf(join(dir, name), name));
    }
  }
  return found;
}

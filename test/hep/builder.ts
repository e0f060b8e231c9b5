// Builds HEP packets for tests from readable parts, so vectors state their intent.

export interface ChunkSpec {
  vendor?: number;
  type: number;
  value: Buffer;
}

export function chunk(type: number, value: Buffer, vendor = 0): ChunkSpec {
  return { vendor, type, value };
}

export function u8(value: number): Buffer {
  return Buffer.from([value]);
}

export function u16(value: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(value);
  return out;
}

export function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value);
  return out;
}

export function ipv4(text: string): Buffer {
  return Buffer.from(text.split('.').map(Number));
}

export function encodeChunk(spec: ChunkSpec): Buffer {
  const header = Buffer.alloc(6);
  header.writeUInt16BE(spec.vendor ?? 0, 0);
  header.writeUInt16BE(spec.type, 2);
  header.writeUInt16BE(6 + spec.value.length, 4);
  return Buffer.concat([header, spec.value]);
}

export function buildHep3(chunks: readonly ChunkSpec[]): Buffer {
  const body = Buffer.concat(chunks.map(encodeChunk));
  const header = Buffer.alloc(6);
  header.write('HEP3', 0, 'latin1');
  header.writeUInt16BE(6 + body.length, 4);
  return Buffer.concat([header, body]);
}

/** The usual Kamailio chunk set around a payload. */
export function typicalChunks(payload: Buffer, extra: readonly ChunkSpec[] = []): ChunkSpec[] {
  return [
    chunk(0x0001, u8(2)),
    chunk(0x0002, u8(17)),
    chunk(0x0003, ipv4('10.0.0.1')),
    chunk(0x0004, ipv4('10.0.0.2')),
    chunk(0x0007, u16(5060)),
    chunk(0x0008, u16(5080)),
    chunk(0x0009, u32(1_700_000_000)),
    chunk(0x000a, u32(123_456)),
    chunk(0x000b, u8(1)),
    chunk(0x000c, u32(7)),
    ...extra,
    chunk(0x000f, payload),
  ];
}

export const SAMPLE_SIP = Buffer.from(
  'INVITE sip:bob@example.com SIP/2.0\r\nCall-ID: abc@host\r\nCSeq: 1 INVITE\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nContent-Length: 0\r\n\r\n',
);

/** A HEPv1/v2 packet; `time` is written little-endian as Kamailio does unless `bigEndianTime`. */
export function buildHep12(options: {
  version: 1 | 2;
  family?: number;
  ipv6?: boolean;
  protocol?: number;
  srcPort?: number;
  dstPort?: number;
  src?: Buffer;
  dst?: Buffer;
  seconds?: number;
  micros?: number;
  captureId?: number;
  bigEndianTime?: boolean;
  payload: Buffer;
}): Buffer {
  const ipv6 = options.ipv6 ?? false;
  const headerLength = ipv6 ? 40 : 16;
  const addressBytes = ipv6 ? 16 : 4;
  const header = Buffer.alloc(headerLength);
  header[0] = options.version;
  header[1] = headerLength;
  header[2] = options.family ?? (ipv6 ? 10 : 2);
  header[3] = options.protocol ?? 17;
  header.writeUInt16BE(options.srcPort ?? 5060, 4);
  header.writeUInt16BE(options.dstPort ?? 5080, 6);
  (options.src ?? Buffer.alloc(addressBytes, 1)).copy(header, 8);
  (options.dst ?? Buffer.alloc(addressBytes, 2)).copy(header, 8 + addressBytes);
  const parts: Buffer[] = [header];
  if (options.version === 2) {
    const time = Buffer.alloc(12);
    if (options.bigEndianTime) {
      time.writeUInt32BE(options.seconds ?? 0, 0);
      time.writeUInt32BE(options.micros ?? 0, 4);
      time.writeUInt16BE(options.captureId ?? 0, 8);
    } else {
      time.writeUInt32LE(options.seconds ?? 0, 0);
      time.writeUInt32LE(options.micros ?? 0, 4);
      time.writeUInt16LE(options.captureId ?? 0, 8);
    }
    parts.push(time);
  }
  parts.push(options.payload);
  return Buffer.concat(parts);
}

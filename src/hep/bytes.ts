// Big-endian readers over raw bytes. Callers check bounds first; plain indexing avoids the
// per-call range checks of Buffer#readUInt*, which matter on the per-chunk hot path.

export function u16be(bytes: Buffer, offset: number): number {
  return (bytes[offset] << 8) | bytes[offset + 1];
}

export function u32be(bytes: Buffer, offset: number): number {
  return bytes[offset] * 0x1000000 + ((bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]);
}

export function u16le(bytes: Buffer, offset: number): number {
  return bytes[offset] | (bytes[offset + 1] << 8);
}

export function u32le(bytes: Buffer, offset: number): number {
  return bytes[offset + 3] * 0x1000000 + ((bytes[offset + 2] << 16) | (bytes[offset + 1] << 8) | bytes[offset]);
}

/** "HEP3" as a big-endian u32. */
export const HEP3_MAGIC = 0x48455033;
export const HEP3_HEADER_BYTES = 6;
export const HEP3_CHUNK_HEADER_BYTES = 6;
export const HEP3_MAX_MESSAGE_BYTES = 0xffff;

/** Buffer's own UTF-8 slicer: not in Node's typings, hence this shape. */
interface Utf8Slicer {
  utf8Slice(start: number, end: number): string;
}

/**
 * Whether Buffer has its own UTF-8 slicer, which toString('utf8', start, end) reaches only after
 * dispatching on the encoding name: for the short text chunks (correlation id, node name) that
 * dispatch costs about as much as the decode. Called as a method (not through a saved reference)
 * so that a Buffer stand-in, such as the tests' bounds-checking proxy, can intercept it.
 */
const HAS_UTF8_SLICE = typeof Reflect.get(Buffer.prototype, 'utf8Slice') === 'function';

/** bytes.toString('utf8', start, end) for 0 <= start <= end <= bytes.length. */
export function utf8Text(bytes: Buffer, start: number, end: number): string {
  if (start >= end) return '';
  return HAS_UTF8_SLICE ? (bytes as unknown as Utf8Slicer).utf8Slice(start, end) : bytes.toString('utf8', start, end);
}

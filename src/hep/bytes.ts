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

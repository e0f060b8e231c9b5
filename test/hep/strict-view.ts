// Test helper: a Buffer stand-in that fails loudly on any access outside its bounds.

/** A view of `packet` that throws on any access outside it: out-of-range indexing (which on a
 *  plain Buffer silently yields undefined), and subarray/toString (and Buffer's own utf8Slice /
 *  latin1Slice, which the decoder may call directly) ranges that a plain Buffer would silently
 *  clamp. */
export function strictView(packet: Buffer): Buffer {
  const length = packet.length;
  const checkRange = (start: unknown, end: unknown): void => {
    const s = start === undefined ? 0 : Number(start);
    const e = end === undefined ? length : Number(end);
    if (!(s >= 0 && e <= length && s <= e)) throw new RangeError(`over-read: range [${s}, ${e}) of a ${length}-byte packet`);
  };
  return new Proxy(packet, {
    get(target, property) {
      const index = typeof property === 'string' && property !== '' ? Number(property) : Number.NaN;
      if (Number.isInteger(index)) {
        if (index < 0 || index >= length) throw new RangeError(`over-read: index ${index} of a ${length}-byte packet`);
        return target[index];
      }
      if (property === 'subarray') {
        return (start?: number, end?: number) => {
          checkRange(start, end);
          return target.subarray(start, end);
        };
      }
      if (property === 'copy') {
        return (destination: Uint8Array, targetStart?: number, sourceStart?: number, sourceEnd?: number) => {
          checkRange(sourceStart, sourceEnd);
          const from = sourceStart ?? 0;
          const to = sourceEnd ?? length;
          if ((targetStart ?? 0) + (to - from) > destination.length) throw new RangeError('copy would be truncated at the destination');
          return target.copy(destination, targetStart, sourceStart, sourceEnd);
        };
      }
      if (property === 'utf8Slice' || property === 'latin1Slice') {
        return (start: number, end: number) => {
          checkRange(start, end);
          return target.toString(property === 'utf8Slice' ? 'utf8' : 'latin1', start, end);
        };
      }
      if (property === 'toString') {
        return (encoding?: BufferEncoding, start?: number, end?: number) => {
          checkRange(start, end);
          return target.toString(encoding, start, end);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}


// Stream fixtures for the framer tests, and a naive oracle that splits a stream on the HEP3
// length fields (independent of the framer under test).
import { hepFixtureNames, readHepFixture } from './fixtures.ts';

export function splitOnLengths(stream: Buffer): Buffer[] {
  const messages: Buffer[] = [];
  let offset = 0;
  while (offset + 6 <= stream.length) {
    const length = stream.readUInt16BE(offset + 4);
    if (stream.toString('latin1', offset, offset + 4) !== 'HEP3' || length < 6 || offset + length > stream.length) {
      throw new Error(`fixture stream is not clean HEP3 at offset ${offset}`);
    }
    messages.push(stream.subarray(offset, offset + length));
    offset += length;
  }
  if (offset !== stream.length) throw new Error('fixture stream does not end on a message boundary');
  return messages;
}

/** Every raw single-connection HEP3 stream captured (the combined multi-connection files excluded). */
export function hep3StreamFixtureNames(): string[] {
  return hepFixtureNames(
    (name) =>
      name.endsWith('.bin') &&
      name.includes('-tcp-') &&
      !name.includes('hep2') &&
      !name.includes('nolisten') &&
      !['opensips-tcp-tx-stream.bin', 'opensips-tcp-dlgh5off-stream.bin'].includes(name),
  );
}

export function chunkAt(stream: Buffer, cuts: readonly number[]): Buffer[] {
  const sorted = [...new Set(cuts.filter((c) => c > 0 && c < stream.length))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let start = 0;
  for (const cut of sorted) {
    pieces.push(stream.subarray(start, cut));
    start = cut;
  }
  pieces.push(stream.subarray(start));
  return pieces;
}

export { readHepFixture };

// TCP stream framing for HEP (spec hep.md §3). A HEP-over-TCP stream is HEP3 messages back to
// back with nothing in between; each message's u16 total length is the only framing. One read may
// hold several messages and one message may span many reads, so bytes are buffered per connection.
//
// HEPv1/v2 over TCP: those versions have no total length, so a stream of them (Kamailio sends one
// happily, see fixtures/hep/kamailio-tcp-hep2-stream.bin) could only be split by parsing each SIP
// message's Content-Length. No reference receiver does that, OpenSIPS refuses to send it, and a
// mis-split would silently corrupt every following message. So the framer accepts HEP3 only and
// reports a version 1/2 start as a fatal 'unsupported_version' error: the caller logs and closes,
// and the operator fixes the sender (hep_version=3). Any other bad magic is fatal too ('bad_magic'):
// there is no resync marker, and scanning for "HEP3" inside arbitrary payload bytes could lock on
// to a false start.
import { HEP3_HEADER_BYTES, HEP3_MAX_MESSAGE_BYTES } from './bytes.ts';
import type { HepDecodeError } from './types.ts';

const MAGIC = [0x48, 0x45, 0x50, 0x33]; // "HEP3"

export interface HepStreamFramerOptions {
  /** Largest accepted HEP3 total length; longer messages are a fatal error. Default 65535 (the
   *  u16 maximum, i.e. no extra limit); heplify-server uses 65507. Must be at least 6. */
  maxMessageBytes?: number;
}

export interface HepFrameResult {
  /** Complete HEP3 messages, in stream order. A message that arrived inside one chunk is a view
   *  (subarray) of that chunk, not a copy. */
  packets: Buffer[];
  /** Fatal: the stream cannot be framed any further; close the connection. */
  error: HepDecodeError | null;
}

export class HepStreamFramer {
  private readonly maxMessageBytes: number;
  /** The first bytes of a message while fewer than the 6 header bytes have arrived. */
  private readonly header = Buffer.alloc(HEP3_HEADER_BYTES);
  private headerFilled = 0;
  /** A message whose length is known but whose bytes are still arriving; sized once, filled in place. */
  private partial: Buffer | null = null;
  private partialFilled = 0;
  private failure: HepDecodeError | null = null;

  constructor(options: HepStreamFramerOptions = {}) {
    const max = options.maxMessageBytes ?? HEP3_MAX_MESSAGE_BYTES;
    if (!Number.isInteger(max) || max < HEP3_HEADER_BYTES) {
      throw new RangeError(`maxMessageBytes must be an integer >= ${HEP3_HEADER_BYTES}, got ${String(max)}`);
    }
    this.maxMessageBytes = max;
  }

  /** Bytes held for an incomplete message; never more than maxMessageBytes. */
  get bufferedBytes(): number {
    return this.headerFilled + this.partialFilled;
  }

  push(chunk: Buffer): HepFrameResult {
    const packets: Buffer[] = [];
    if (this.failure !== null) return { packets, error: this.failure };

    let offset = 0;
    const end = chunk.length;
    while (offset < end) {
      if (this.partial !== null) {
        const wanted = this.partial.length - this.partialFilled;
        const take = Math.min(wanted, end - offset);
        chunk.copy(this.partial, this.partialFilled, offset, offset + take);
        this.partialFilled += take;
        offset += take;
        if (this.partialFilled === this.partial.length) {
          packets.push(this.partial);
          this.partial = null;
          this.partialFilled = 0;
        }
        continue;
      }

      if (this.headerFilled === 0 && end - offset >= HEP3_HEADER_BYTES) {
        // Common case: the whole header is in this chunk, often the whole message too.
        const length = this.checkHeader(chunk, offset);
        if (length < 0) return this.fail(packets);
        if (end - offset >= length) {
          packets.push(chunk.subarray(offset, offset + length));
          offset += length;
        } else {
          this.partial = Buffer.allocUnsafe(length);
          chunk.copy(this.partial, 0, offset, end);
          this.partialFilled = end - offset;
          offset = end;
        }
        continue;
      }

      // Header split across reads: collect it byte by byte, rejecting a wrong magic early.
      const take = Math.min(HEP3_HEADER_BYTES - this.headerFilled, end - offset);
      chunk.copy(this.header, this.headerFilled, offset, offset + take);
      const before = this.headerFilled;
      this.headerFilled += take;
      offset += take;
      for (let i = before; i < Math.min(this.headerFilled, MAGIC.length); i++) {
        if (this.header[i] !== MAGIC[i]) {
          this.failure = badStart(this.header.subarray(0, this.headerFilled), i);
          return this.fail(packets);
        }
      }
      if (this.headerFilled < HEP3_HEADER_BYTES) continue;

      const length = this.checkHeader(this.header, 0);
      if (length < 0) return this.fail(packets);
      this.headerFilled = 0;
      if (length === HEP3_HEADER_BYTES) {
        packets.push(Buffer.from(this.header));
        continue;
      }
      this.partial = Buffer.allocUnsafe(length);
      this.header.copy(this.partial, 0);
      this.partialFilled = HEP3_HEADER_BYTES;
    }
    return { packets, error: null };
  }

  /** Returns the message length, or -1 after recording the fatal error. */
  private checkHeader(bytes: Buffer, offset: number): number {
    for (let i = 0; i < MAGIC.length; i++) {
      if (bytes[offset + i] !== MAGIC[i]) {
        this.failure = badStart(bytes.subarray(offset, offset + HEP3_HEADER_BYTES), i);
        return -1;
      }
    }
    const length = (bytes[offset + 4] << 8) | bytes[offset + 5];
    if (length < HEP3_HEADER_BYTES) {
      this.failure = { reason: 'bad_length', detail: `HEP3 total length ${length} is below the header size` };
      return -1;
    }
    if (length > this.maxMessageBytes) {
      this.failure = { reason: 'bad_length', detail: `HEP3 total length ${length} exceeds the limit of ${this.maxMessageBytes} bytes` };
      return -1;
    }
    return length;
  }

  private fail(packets: Buffer[]): HepFrameResult {
    // Drop buffered bytes: the connection is going away and must not pin memory meanwhile.
    this.partial = null;
    this.partialFilled = 0;
    this.headerFilled = 0;
    return { packets, error: this.failure };
  }
}

function badStart(start: Buffer, mismatchAt: number): HepDecodeError {
  if (mismatchAt === 0 && (start[0] === 1 || start[0] === 2)) {
    return {
      reason: 'unsupported_version',
      detail: `HEPv${start[0]} over TCP cannot be framed (no length field); configure the sender for HEPv3`,
    };
  }
  return { reason: 'bad_magic', detail: `expected "HEP3", stream has 0x${start.subarray(0, Math.min(4, start.length)).toString('hex')}` };
}

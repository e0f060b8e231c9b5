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
/** First allocation for a message split across reads: one typical SIP-over-HEP message. */
const INITIAL_PARTIAL_BYTES = 2048;

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
  /** A message whose length is known but whose bytes are still arriving. Its storage grows with
   *  what has arrived (doubling, up to the declared length), so a peer that announces 64 KiB and
   *  then trickles costs memory in proportion to what it actually sent. */
  private partial: Buffer | null = null;
  private partialLength = 0;
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
        const take = Math.min(this.partialLength - this.partialFilled, end - offset);
        const storage = this.reserve(this.partial, this.partialFilled + take);
        chunk.copy(storage, this.partialFilled, offset, offset + take);
        this.partial = storage;
        this.partialFilled += take;
        offset += take;
        if (this.partialFilled === this.partialLength) {
          packets.push(storage);
          this.partial = null;
          this.partialLength = 0;
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
          this.startPartial(length, chunk.subarray(offset, end));
          offset = end;
        }
        continue;
      }

      // Header split across reads: collect its 6 bytes, rejecting a wrong magic as early as possible.
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
      this.startPartial(length, this.header);
    }
    return { packets, error: null };
  }

  private startPartial(length: number, firstBytes: Buffer): void {
    const storage = Buffer.allocUnsafe(Math.min(length, Math.max(INITIAL_PARTIAL_BYTES, 2 * firstBytes.length)));
    firstBytes.copy(storage, 0);
    this.partial = storage;
    this.partialLength = length;
    this.partialFilled = firstBytes.length;
  }

  /** Storage able to hold `needed` bytes of the partial message, the filled part carried over. */
  private reserve(storage: Buffer, needed: number): Buffer {
    if (needed <= storage.length) return storage;
    const grown = Buffer.allocUnsafe(Math.min(this.partialLength, Math.max(needed, 2 * storage.length)));
    storage.copy(grown, 0, 0, this.partialFilled);
    return grown;
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
    this.partialLength = 0;
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

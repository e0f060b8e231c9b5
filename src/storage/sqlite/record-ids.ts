// Ids for new records: UUIDv4 in format (version nibble 4, RFC 4122 variant), as the storage
// contract promises, but laid out like UUIDv7 so that successive ids sort after each other.
//
// Why: every table has a unique index on `id`. With fully random ids each insert lands on a
// random leaf of that index, so every commit rewrote about one index page per new record: in
// the engine benchmark, 6.5 of the 16 pages a group commit wrote to the WAL belonged to the id
// index of `transactions`. Ids that grow with time append to the same rightmost leaf instead.
//
// Layout (hex digits): tttttttt-tttt-4ccc-vrrr-rrrrrrrrrrrr
//   t: milliseconds since the Unix epoch (48 bits), never going backwards within a process;
//   c: a counter (12 bits) for ids made within the same millisecond, starting at a random
//      value each millisecond;
//   v: the variant (binary 10xx) and r: 62 random bits.
// So an id reveals when its record was created (records carry their timestamps anyway). Two
// processes writing in the same millisecond would need the same 62 random bits and the same
// counter to collide; the unique index would refuse the second record rather than mix them up.
import { randomFillSync } from 'node:crypto';

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));
/** Random bytes per id: 2 seed the counter, 8 give the 62 random bits (and the variant). */
const BYTES_PER_ID = 10;
/** Random bytes are drawn in batches: one system call per 256 ids instead of one per id. */
const POOL_BYTES = BYTES_PER_ID * 256;

export class TimeOrderedIds {
  #pool = Buffer.alloc(POOL_BYTES);
  #poolOffset = POOL_BYTES;
  #lastMs = -1;
  #counter = 0;

  constructor(private readonly now: () => number = Date.now) {}

  next(): string {
    const random = this.#randomBytes();
    let ms = Math.max(Math.trunc(this.now()), 0);
    if (ms > this.#lastMs) {
      this.#lastMs = ms;
      // A random start (below 2048, leaving room to count) keeps ids of different processes in
      // the same millisecond apart in the counter too.
      this.#counter = ((random[0] << 8) | random[1]) & 0x7ff;
    } else {
      // Same millisecond, or the clock went back: count on from the last id.
      ms = this.#lastMs;
      this.#counter++;
      if (this.#counter > 0xfff) {
        // 4096 ids in one millisecond: borrow the next millisecond rather than repeat an order.
        ms = ++this.#lastMs;
        this.#counter = 0;
      }
    }
    const high = Math.floor(ms / 0x1000000); // upper 24 bits of the 48-bit time
    const low = ms % 0x1000000;
    return (
      HEX[(high >>> 16) & 0xff] +
      HEX[(high >>> 8) & 0xff] +
      HEX[high & 0xff] +
      HEX[(low >>> 16) & 0xff] +
      '-' +
      HEX[(low >>> 8) & 0xff] +
      HEX[low & 0xff] +
      '-' +
      HEX[0x40 | (this.#counter >>> 8)] +
      HEX[this.#counter & 0xff] +
      '-' +
      HEX[0x80 | (random[2] & 0x3f)] +
      HEX[random[3]] +
      '-' +
      HEX[random[4]] +
      HEX[random[5]] +
      HEX[random[6]] +
      HEX[random[7]] +
      HEX[random[8]] +
      HEX[random[9]]
    );
  }

  /** BYTES_PER_ID fresh random bytes from the pool. */
  #randomBytes(): Buffer {
    if (this.#poolOffset + BYTES_PER_ID > POOL_BYTES) {
      randomFillSync(this.#pool);
      this.#poolOffset = 0;
    }
    const bytes = this.#pool.subarray(this.#poolOffset, this.#poolOffset + BYTES_PER_ID);
    this.#poolOffset += BYTES_PER_ID;
    return bytes;
  }
}

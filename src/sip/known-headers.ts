// The per-packet scan: finds the start line and the first Call-ID, CSeq, From, To and
// P-Asserted-Identity headers without building the full header table (built only when some
// other header is asked for, see header-table.ts). Via is not among them: the agent does not read
// it per packet, and Via lines come first and are the longest, so passing over them with one
// memchr each, rather than matching and recording them, saves a measurable part of the scan.
// The header lines are scanned lazily, only as far as the headers asked for so far: a packet
// whose Call-ID, CSeq, From and To come first (as nearly all do) never has its Contact,
// Content-*, Allow, User-Agent... lines looked at. Lines whose first byte cannot start one of the
// scanned names are skipped with one memchr.
import { COLON, CR, LF, contentEndOf, isTokenByte, isWhitespace, lineFeedFrom, trimEnd } from './bytes.ts';

export const CALL_ID = 0;
export const CSEQ = 1;
export const FROM = 2;
export const TO = 3;
export const VIA = 4;
export const P_ASSERTED_IDENTITY = 5;
export type KnownHeader = typeof CALL_ID | typeof CSEQ | typeof FROM | typeof TO | typeof VIA | typeof P_ASSERTED_IDENTITY;
/** The known headers the per-packet scan records (the full table records Via too). */
export type ScannedHeader = Exclude<KnownHeader, typeof VIA>;

/** The known header named by payload[start, end), or -1. Switches on length and first byte first. */
export function knownHeaderOf(payload: Buffer, start: number, end: number): KnownHeader | -1 {
  const first = payload[start] | 0x20; // ASCII lower case; names are tokens, so no false hits
  switch (end - start) {
    case 1:
      if (first === 0x69) return CALL_ID; // i
      if (first === 0x66) return FROM; // f
      if (first === 0x74) return TO; // t
      if (first === 0x76) return VIA; // v
      return -1;
    case 2:
      return first === 0x74 && (payload[start + 1] | 0x20) === 0x6f ? TO : -1;
    case 3:
      return first === 0x76 && restEquals(payload, start, 'via') ? VIA : -1;
    case 4:
      if (first === 0x66) return restEquals(payload, start, 'from') ? FROM : -1;
      if (first === 0x63) return restEquals(payload, start, 'cseq') ? CSEQ : -1;
      return -1;
    case 7:
      return first === 0x63 && restEquals(payload, start, 'call-id') ? CALL_ID : -1;
    case 19:
      return first === 0x70 && restEquals(payload, start, 'p-asserted-identity') ? P_ASSERTED_IDENTITY : -1;
    default:
      return -1;
  }
}

/** payload[start + 1, start + name.length) equals the rest of the lower-case `name`, ignoring ASCII case. */
function restEquals(payload: Buffer, start: number, name: string): boolean {
  for (let i = 1; i < name.length; i++) {
    let byte = payload[start + i];
    if (byte >= 0x41 && byte <= 0x5a) byte += 0x20;
    if (byte !== name.charCodeAt(i)) return false;
  }
  return true;
}

/** payload[pos, pos + name.length) equals the lower-case `name` after its first byte, ignoring ASCII case. */
function restMatches(payload: Buffer, pos: number, length: number, name: string): boolean {
  return pos + name.length <= length && restEquals(payload, pos, name);
}

/** Start line bounds and the value span of the first header of each known name. */
export class KnownHeaders {
  /** The buffer holding the SIP message, which spans [payloadStart, limit) of it. */
  readonly payload: Buffer;
  readonly payloadStart: number;
  readonly limit: number;
  startLineStart = 0;
  /** Exclusive, line terminator excluded. */
  startLineEnd = 0;
  /** Start of the next header line to scan, or -1 once the header section has been scanned whole. */
  position = 0;
  /** Where the scan stopped for good (the blank line, or the payload end); valid once position is -1. */
  sectionEnd = 0;
  /** Bit per known header whose first line is followed by a line starting with whitespace. */
  foldedMask = 0;
  // Value start and end (exclusive) per scanned header, -1 when absent; index = header * 2 (Via's
  // slot stays empty).
  readonly spans: number[] = [-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1];

  constructor(payload: Buffer, payloadStart: number, limit: number) {
    this.payload = payload;
    this.payloadStart = payloadStart;
    this.limit = limit;
  }

  valueStart(header: ScannedHeader): number {
    if (this.spans[header * 2] === -1 && this.position !== -1) scanUntil(this, header);
    return this.spans[header * 2];
  }

  valueEnd(header: ScannedHeader): number {
    if (this.spans[header * 2] === -1 && this.position !== -1) scanUntil(this, header);
    return this.spans[header * 2 + 1];
  }

  /**
   * True when the first `header` line may be continued on folded lines: its span is then not the
   * whole value and the full table decides. (Conservative: every line starting with whitespace
   * right after it counts, even one the table would ignore.)
   */
  isFolded(header: ScannedHeader): boolean {
    if (this.spans[header * 2] === -1 && this.position !== -1) scanUntil(this, header);
    return (this.foldedMask & (1 << header)) !== 0;
  }

  /** True when the first line of any scanned header may be folded; scans the whole header section. */
  get folded(): boolean {
    if (this.position !== -1) scanUntil(this, ALL_HEADERS);
    return this.foldedMask !== 0;
  }

  /** Offset up to which header lines have been scanned: every span found so far ends before it. */
  scannedEnd(): number {
    return this.position === -1 ? this.sectionEnd : this.position;
  }
}

/** scanUntil target meaning "every header": the scan runs to the end of the header section. */
const ALL_HEADERS = -1;

/** The byte at `at` with bit 0x20 set, or -1 past `length`: compared only with lower-case letters, which that folds exactly. */
function lowerAt(payload: Buffer, at: number, length: number): number {
  return at < length ? payload[at] | 0x20 : -1;
}

/**
 * The known header whose name starts the line at `pos`, as `header + 8 * name length`, or -1.
 * Matches the names themselves rather than scanning each line's name first, so most other
 * header lines are rejected on their first or second byte (the C lines, the most common, on the
 * second: Contact, Content-*).
 */
function knownNameAt(payload: Buffer, pos: number, length: number): number {
  const first = payload[pos] | 0x20;
  let header: number;
  let nameLength = 1;
  if (first === 0x66) { // f
    header = FROM;
    if (lowerAt(payload, pos + 1, length) === 0x72 && lowerAt(payload, pos + 2, length) === 0x6f && lowerAt(payload, pos + 3, length) === 0x6d) nameLength = 4;
  } else if (first === 0x74) { // t
    header = TO;
    if (lowerAt(payload, pos + 1, length) === 0x6f) nameLength = 2;
  } else if (first === 0x63) { // c
    const second = lowerAt(payload, pos + 1, length);
    if (second === 0x61) {
      // "call-id" after "ca": unrolled (every packet has one).
      if (
        pos + 7 > length ||
        (payload[pos + 2] | 0x20) !== 0x6c ||
        (payload[pos + 3] | 0x20) !== 0x6c ||
        payload[pos + 4] !== 0x2d ||
        (payload[pos + 5] | 0x20) !== 0x69 ||
        (payload[pos + 6] | 0x20) !== 0x64
      ) {
        return -1;
      }
      header = CALL_ID;
      nameLength = 7;
    } else if (second === 0x73) {
      if (pos + 4 > length || (payload[pos + 2] | 0x20) !== 0x65 || (payload[pos + 3] | 0x20) !== 0x71) return -1;
      header = CSEQ;
      nameLength = 4;
    } else {
      return -1;
    }
  } else if (first === 0x69) { // i
    header = CALL_ID;
  } else if (first === 0x70) { // p
    if (!restMatches(payload, pos, length, 'p-asserted-identity')) return -1;
    header = P_ASSERTED_IDENTITY;
    nameLength = 19;
  } else {
    return -1;
  }
  const end = pos + nameLength;
  if (end < length && isTokenByte(payload[end])) return -1;
  return header + 8 * nameLength;
}

// 1 for bytes that may start a line the scan must look at: CR, LF (a blank line ends the
// headers) and the first letters of the known names in either case. Continuation lines (space,
// tab) need nothing: the header they continue was marked folded when it was recorded.
const LINE_START: Uint8Array = (() => {
  const table = new Uint8Array(256);
  table[CR] = 1;
  table[LF] = 1;
  for (const letter of 'cfipt') {
    table[letter.charCodeAt(0)] = 1;
    table[letter.toUpperCase().charCodeAt(0)] = 1;
  }
  return table;
})();

/** Where the start line begins: stream keep-alives and stray blank lines may precede it (RFC 3261 §7.5). */
export function startLineStartOf(payload: Buffer, from: number, limit: number): number {
  const length = limit;
  let start = from;
  while (start < length && (payload[start] === CR || payload[start] === LF)) start++;
  return start;
}

/**
 * Locates the start line; the header lines are scanned on demand (see KnownHeaders). Same line
 * rules as scanLayout (header-table.ts): junk lines are skipped, a blank line ends the headers.
 */
export function scanKnownHeaders(payload: Buffer, from = 0, limit: number = payload.length): KnownHeaders {
  const start = startLineStartOf(payload, from, limit);
  const firstLf = lineFeedFrom(payload, start, limit);
  return knownHeadersAfter(payload, from, limit, start, contentEndOf(payload, start, firstLf), firstLf);
}

/**
 * scanKnownHeaders for the message in payload[from, limit) when its start line [start, end) and
 * that line's line feed `lf` (or the limit) are already known.
 */
export function knownHeadersAfter(payload: Buffer, from: number, limit: number, start: number, end: number, lf: number): KnownHeaders {
  const known = new KnownHeaders(payload, from, limit);
  const length = limit;
  known.startLineStart = start;
  known.startLineEnd = end;
  known.position = lf + 1 < length ? lf + 1 : -1;
  known.sectionEnd = length;
  return known;
}

/**
 * Scans header lines from known.position until the first `target` header has been recorded (or,
 * for ALL_HEADERS, the header section ends), recording the first line of every known header on
 * the way. Lines that cannot matter (see LINE_START) cost one table lookup and one memchr.
 */
function scanUntil(known: KnownHeaders, target: number): void {
  const payload = known.payload;
  const spans = known.spans;
  const length = known.limit;
  let pos = known.position;
  while (pos < length) {
    const first = payload[pos];
    if (LINE_START[first] === 0) {
      pos = lineFeedFrom(payload, pos, length) + 1;
      continue;
    }
    if (first === LF || (first === CR && (pos + 1 === length || payload[pos + 1] === LF))) break; // blank line
    let i = pos;
    const match = knownNameAt(payload, pos, length);
    if (match !== -1 && spans[(match & 7) * 2] === -1) {
      const header = match & 7;
      const slot = header * 2;
      i = pos + (match >> 3);
      while (i < length && isWhitespace(payload[i])) i++;
      if (i < length && payload[i] === COLON) {
        i++;
        while (i < length && isWhitespace(payload[i])) i++;
        const lf = lineFeedFrom(payload, i, length);
        spans[slot] = i;
        spans[slot + 1] = trimEnd(payload, i, contentEndOf(payload, pos, lf));
        if (lf + 1 < length && isWhitespace(payload[lf + 1])) known.foldedMask |= 1 << header;
        pos = lf + 1;
        if (header === target) {
          known.position = pos < length ? pos : -1;
          return;
        }
        continue;
      }
    }
    pos = lineFeedFrom(payload, i, length) + 1;
  }
  known.position = -1;
  known.sectionEnd = pos < length ? pos : length;
}

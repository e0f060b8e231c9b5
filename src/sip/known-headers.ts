// The per-packet scan: finds the start line and the first Call-ID, CSeq, From, To and
// P-Asserted-Identity headers without building the full header table (built only when some
// other header is asked for, see header-table.ts). The header lines are read by the WebAssembly
// scan kernel (assembly/scan-kernel.ts), sixteen bytes at a time: in JavaScript, each line cost a
// memchr call into C++ and every byte a bounds-checked load, which made this scan a quarter of
// the time to decode and parse a packet. The first scan, made with the start line, stops once
// Call-ID, CSeq, From and To are found (what the agent reads from every packet, and nearly always
// the first lines after Via), so the Contact, Content-*, Allow, User-Agent... lines are only read
// if P-Asserted-Identity or the folding of the whole section is asked for.
import { CR, LF, contentEndOf, lineFeedFrom } from './bytes.ts';
import { scanLayout } from './header-table.ts';
import { NOT_SCANNED, START_LINE_UNREAD, TOO_LONG, sharedScanKernel, type KnownHeaderScan } from '../scan-kernel/index.ts';
import { scanStartLineAt, scannedStartLine } from './start-line.ts';

const kernel = sharedScanKernel();

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

/**
 * Start line bounds, the value span of the first header of each known name and, for the headers
 * the kernel recorded, what it read from their values (NOT_SCANNED otherwise: the message's
 * JavaScript fast paths read them then).
 */
export class KnownHeaders implements KnownHeaderScan {
  /** The buffer holding the SIP message, which spans [payloadStart, limit) of it. */
  readonly payload: Buffer;
  readonly payloadStart: number;
  readonly limit: number;
  startLineStart = 0;
  /** Exclusive, line terminator excluded. */
  startLineEnd = 0;
  /** Start of the next header line to scan, or -1 once the header section has been scanned whole. */
  position = 0;
  /** Bit per known header whose first line is followed by a line starting with whitespace. */
  foldedMask = 0;
  // Value start and end (exclusive) per scanned header, -1 when absent; index = header * 2 (Via's
  // slot stays empty).
  readonly spans: number[] = [-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1];
  fromTagStatus = NOT_SCANNED;
  fromTagStart = -1;
  fromTagEnd = -1;
  toTagStatus = NOT_SCANNED;
  toTagStart = -1;
  toTagEnd = -1;
  cseqStatus = NOT_SCANNED;
  cseqNumber = -1;
  cseqMethodStart = -1;
  cseqMethodEnd = -1;
  cseqMethodIndex = -1;
  callIdAscii = NOT_SCANNED;

  constructor(payload: Buffer, payloadStart: number, limit: number) {
    this.payload = payload;
    this.payloadStart = payloadStart;
    this.limit = limit;
  }

  valueStart(header: ScannedHeader): number {
    if (this.spans[header * 2] === -1 && this.position !== -1) scanFor(this, 1 << header);
    return this.spans[header * 2];
  }

  valueEnd(header: ScannedHeader): number {
    if (this.spans[header * 2] === -1 && this.position !== -1) scanFor(this, 1 << header);
    return this.spans[header * 2 + 1];
  }

  /**
   * True when the first `header` line may be continued on folded lines: its span is then not the
   * whole value and the full table decides. (Conservative: every line starting with whitespace
   * right after it counts, even one the table would ignore.)
   */
  isFolded(header: ScannedHeader): boolean {
    if (this.spans[header * 2] === -1 && this.position !== -1) scanFor(this, 1 << header);
    return (this.foldedMask & (1 << header)) !== 0;
  }

  /** True when the first line of any scanned header may be folded; scans the whole header section. */
  get folded(): boolean {
    if (this.position !== -1) scanFor(this, WHOLE_SECTION);
    return this.foldedMask !== 0;
  }

  /** Offset up to which the known values found so far end (the start line's end when none is). */
  knownEnd(): number {
    const spans = this.spans;
    let end = this.startLineEnd;
    for (let slot = 1; slot < 12; slot += 2) if (spans[slot] > end) end = spans[slot];
    return end;
  }
}

/** The headers the agent reads from every packet: the first scan stops once it has them. */
const PER_PACKET = (1 << CALL_ID) | (1 << CSEQ) | (1 << FROM) | (1 << TO);
/** A wanted set never complete (Via is not recorded), so the scan reads the whole section. */
const WHOLE_SECTION = 1 << VIA;

/** Scans on from known.position until the headers in `wanted` have been found, or the section ends. */
function scanFor(known: KnownHeaders, wanted: number): void {
  const next = kernel.scanHeaderLines(known.payload, known.payloadStart, known.position, known.limit, wanted, known);
  if (next === TOO_LONG) fillFromTable(known);
  else known.position = next;
}

/** Where the start line begins: stream keep-alives and stray blank lines may precede it (RFC 3261 §7.5). */
export function startLineStartOf(payload: Buffer, from: number, limit: number): number {
  const length = limit;
  let start = from;
  while (start < length && (payload[start] === CR || payload[start] === LF)) start++;
  return start;
}

/**
 * Locates the start line and the known headers. Same line rules as scanLayout
 * (header-table.ts): junk lines are skipped, a blank line ends the headers.
 */
export function scanKnownHeaders(payload: Buffer, from = 0, limit: number = payload.length): KnownHeaders {
  const start = startLineStartOf(payload, from, limit);
  const firstLf = lineFeedFrom(payload, start, limit);
  return knownHeadersAfter(payload, from, limit, start, contentEndOf(payload, start, firstLf), firstLf);
}

const SCANNED_HEADERS: readonly ScannedHeader[] = [CALL_ID, CSEQ, FROM, TO, P_ASSERTED_IDENTITY];

/**
 * scanKnownHeaders for the message in payload[from, limit) when its start line [start, end) and
 * that line's line feed `lf` (or the limit) are already known. The per-packet headers are
 * scanned for at once: the kernel's memory is reused by the next message, and one call with
 * one copy of the bytes costs less than one per header.
 */
export function knownHeadersAfter(payload: Buffer, from: number, limit: number, start: number, end: number, lf: number): KnownHeaders {
  const known = new KnownHeaders(payload, from, limit);
  known.startLineStart = start;
  known.startLineEnd = end;
  known.position = lf + 1 < limit ? lf + 1 : -1;
  if (known.position !== -1) scanFor(known, PER_PACKET);
  return known;
}

/**
 * The start line at `start` and the per-packet headers after it, read in one kernel call: the
 * line's parts are left in scannedStartLine (start-line.ts). Null when the line is not one the
 * byte-level readers take (extra spaces, bad syntax...): the text parser decides then.
 */
export function scanStartLineAndHeaders(payload: Buffer, from: number, limit: number, start: number): KnownHeaders | null {
  const known = new KnownHeaders(payload, from, limit);
  const next = kernel.scanMessage(payload, from, start, limit, PER_PACKET, known, scannedStartLine);
  if (next === START_LINE_UNREAD) return null;
  if (next === TOO_LONG) {
    if (!scanStartLineAt(payload, start, limit)) return null;
    return knownHeadersAfter(payload, from, limit, start, scannedStartLine.lineEnd, scannedStartLine.lineFeed);
  }
  known.startLineStart = start;
  known.startLineEnd = scannedStartLine.lineEnd;
  known.position = next;
  return known;
}

/**
 * For a message longer than the kernel takes (over 1 MiB: no HEP packet carries one), the
 * known headers are read off the full header table instead, at JavaScript speed. A header the
 * table has folded is marked so, and its span is then not used.
 */
function fillFromTable(known: KnownHeaders): void {
  const table = scanLayout(known.payload, known.payloadStart, known.limit).headers;
  for (const header of SCANNED_HEADERS) {
    const index = table.firstIndex(header);
    if (index === -1 || known.spans[header * 2] !== -1) continue;
    known.spans[header * 2] = table.valueStart(index);
    known.spans[header * 2 + 1] = table.valueEnd(index);
    if (table.isFolded(index)) known.foldedMask |= 1 << header;
  }
  known.position = -1;
}

// A SIP message over the captured bytes. Only the start line is read up front; the known headers
// are located (known-headers.ts, scanning only as far as needed) and every field decoded on first
// access and cached, because the agent reads a handful of headers per packet. Other headers are found through the full table, built on demand.
// One class with fixed fields (undefined = not decoded yet) keeps property access monomorphic.
import type { SipMessage, SipNameAddr } from './types.ts';
import { scanLayout, type HeaderTable } from './header-table.ts';
import { CALL_ID, CSEQ, FROM, P_ASSERTED_IDENTITY, TO, VIA, type KnownHeaders, type ScannedHeader } from './known-headers.ts';
import { headerNameForms, type HeaderNameForms } from './header-names.ts';
import { parseNameAddr } from './name-addr.ts';
import { TAG_ABSENT, TAG_FOUND, scanNameAddrIn, scanTagIn, tagSpan } from './name-addr-bytes.ts';
import { viaBranch } from './via.ts';
import { parseCSeq, scanCSeqInto, scannedCSeq } from './cseq.ts';
import { asciiText, equalsIgnoringCase, isAsciiSpan, utf8Text } from './bytes.ts';
import { COMMON_METHODS } from './methods.ts';
import { CSEQ_SCANNED, NOT_SCANNED } from '../scan-kernel/index.ts';

/** Joins folded lines: each line break plus the whitespace around it becomes one space. */
function unfold(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '\r' || c === '\n') {
      out = out.trimEnd();
      while (i < text.length && (text[i] === '\r' || text[i] === '\n' || text[i] === ' ' || text[i] === '\t')) i++;
      out += ' ';
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

export class CapturedSipMessage implements SipMessage {
  /** The buffer the message lies in, at [known.payloadStart, known.limit); all offsets are into it. */
  private readonly bytes: Buffer;
  private payloadView: Buffer | undefined = undefined;
  readonly isRequest: boolean;
  readonly method: string | null;
  readonly statusCode: number | null;
  private readonly known: KnownHeaders;
  private table: HeaderTable | null = null;
  private readonly requestUriStart: number;
  private readonly requestUriEnd: number;
  private cachedRequestUri: string | null | undefined;
  private cachedCallId: string | null | undefined = undefined;
  private cseqRead = false;
  private cachedCseqNumber: number | null = null;
  private cachedCseqMethod: string | null = null;
  private cachedFrom: SipNameAddr | null | undefined = undefined;
  private cachedTo: SipNameAddr | null | undefined = undefined;
  private cachedFromTag: string | null | undefined = undefined;
  private cachedToTag: string | null | undefined = undefined;
  private cachedPai: SipNameAddr | null | undefined = undefined;
  private cachedViaBranch: string | null | undefined = undefined;
  // latin1 text of the payload from the start line to the end of the last known header: the
  // fields read per packet are slices of it (see headerSource).
  private headerText: string | null = null;
  private headerTextEnd = -1;

  /**
   * `requestUri` is the decoded Request-URI when the start line was read as text; otherwise the
   * URI is decoded on demand from payload[requestUriStart, requestUriEnd).
   */
  constructor(
    payload: Buffer,
    known: KnownHeaders,
    isRequest: boolean,
    method: string | null,
    statusCode: number | null,
    requestUriStart: number,
    requestUriEnd: number,
    requestUri: string | null | undefined,
  ) {
    this.bytes = payload;
    this.known = known;
    this.isRequest = isRequest;
    this.method = method;
    this.statusCode = statusCode;
    this.requestUriStart = requestUriStart;
    this.requestUriEnd = requestUriEnd;
    this.cachedRequestUri = requestUri;
  }

  /** The message's own bytes: a view made on first access, or the buffer itself when the message fills it. */
  get payload(): Buffer {
    if (this.payloadView === undefined) {
      const { payloadStart, limit } = this.known;
      this.payloadView = payloadStart === 0 && limit === this.bytes.length ? this.bytes : this.bytes.subarray(payloadStart, limit);
    }
    return this.payloadView;
  }

  get requestUri(): string | null {
    if (this.cachedRequestUri === undefined) {
      // Cut at ASCII spaces, so decoding this span equals slicing the decoded line.
      this.cachedRequestUri = utf8Text(this.bytes, this.requestUriStart, this.requestUriEnd);
    }
    return this.cachedRequestUri;
  }

  get callId(): string | null {
    if (this.cachedCallId === undefined) {
      const known = this.known;
      let text: string | null;
      if (known.callIdAscii === 1 && !known.isFolded(CALL_ID)) {
        // The kernel found it all ASCII: a slice of the header text, with no check of its own.
        text = this.asciiSlice(known.valueStart(CALL_ID), known.valueEnd(CALL_ID));
      } else {
        text = this.knownText(CALL_ID);
      }
      this.cachedCallId = text === null || text.length === 0 ? null : text;
    }
    return this.cachedCallId;
  }

  get callIdStart(): number {
    return this.known.isFolded(CALL_ID) ? -1 : this.known.valueStart(CALL_ID);
  }

  get callIdEnd(): number {
    return this.known.isFolded(CALL_ID) ? -1 : this.known.valueEnd(CALL_ID);
  }

  get cseqNumber(): number | null {
    if (!this.cseqRead) this.readCSeq();
    return this.cachedCseqNumber;
  }

  get cseqMethod(): string | null {
    if (!this.cseqRead) this.readCSeq();
    return this.cachedCseqMethod;
  }

  get from(): SipNameAddr | null {
    if (this.cachedFrom === undefined) this.cachedFrom = this.nameAddr(FROM);
    return this.cachedFrom;
  }

  get to(): SipNameAddr | null {
    if (this.cachedTo === undefined) this.cachedTo = this.nameAddr(TO);
    return this.cachedTo;
  }

  get fromTag(): string | null {
    if (this.cachedFromTag === undefined) {
      this.cachedFromTag = this.cachedFrom !== undefined ? (this.cachedFrom?.tag ?? null) : this.tagOf(FROM);
    }
    return this.cachedFromTag;
  }

  get toTag(): string | null {
    if (this.cachedToTag === undefined) {
      this.cachedToTag = this.cachedTo !== undefined ? (this.cachedTo?.tag ?? null) : this.tagOf(TO);
    }
    return this.cachedToTag;
  }

  get pAssertedIdentity(): SipNameAddr | null {
    if (this.cachedPai === undefined) this.cachedPai = this.nameAddr(P_ASSERTED_IDENTITY);
    return this.cachedPai;
  }

  get viaBranch(): string | null {
    if (this.cachedViaBranch === undefined) {
      // Not read per packet by the agent, so not worth the per-packet scan (see known-headers.ts).
      const table = this.fullTable();
      const index = table.firstIndex(VIA);
      this.cachedViaBranch = index === -1 ? null : viaBranch(this.value(table, index));
    }
    return this.cachedViaBranch;
  }

  header(name: string): string | null {
    const forms = headerNameForms(name);
    const table = this.fullTable();
    for (let i = 0; i < table.count; i++) {
      if (this.isNamed(table, i, forms)) return this.value(table, i);
    }
    return null;
  }

  headers(name: string): string[] {
    const forms = headerNameForms(name);
    const table = this.fullTable();
    const values: string[] = [];
    for (let i = 0; i < table.count; i++) {
      if (this.isNamed(table, i, forms)) values.push(this.value(table, i));
    }
    return values;
  }

  private fullTable(): HeaderTable {
    if (this.table === null) this.table = scanLayout(this.bytes, this.known.payloadStart, this.known.limit).headers;
    return this.table;
  }

  /**
   * The decoded header section, from the start line up to the end of the last known header (or
   * `end` if that lies further), built on the first field read. One native decode plus cheap
   * string slices costs less than one per field.
   */
  private headerSource(end: number): string {
    if (this.headerText === null || end > this.headerTextEnd) {
      this.headerTextEnd = Math.max(end, this.known.knownEnd());
      this.headerText = asciiText(this.bytes, this.known.startLineStart, this.headerTextEnd);
    }
    return this.headerText;
  }

  /** payload[start, end) as text: a slice of the decoded header section when it is ASCII (latin1 = UTF-8 there). */
  private headerSlice(start: number, end: number): string {
    return isAsciiSpan(this.bytes, start, end) ? this.asciiSlice(start, end) : utf8Text(this.bytes, start, end);
  }

  /** payload[start, end), known to be ASCII, as a slice of the decoded header section. */
  private asciiSlice(start: number, end: number): string {
    const base = this.known.startLineStart;
    return this.headerSource(end).slice(start - base, end - base);
  }

  /** The value of the first `header`, unfolded; null when there is none. */
  private knownText(header: ScannedHeader): string | null {
    const known = this.known;
    if (!known.isFolded(header)) {
      const start = known.valueStart(header);
      return start === -1 ? null : this.headerSlice(start, known.valueEnd(header));
    }
    const table = this.fullTable();
    const index = table.firstIndex(header);
    return index === -1 ? null : this.value(table, index);
  }

  private readCSeq(): void {
    this.cseqRead = true;
    const known = this.known;
    const start = known.isFolded(CSEQ) ? -1 : known.valueStart(CSEQ);
    if (start !== -1 && known.cseqStatus === CSEQ_SCANNED) {
      this.cachedCseqNumber = known.cseqNumber === -1 ? null : known.cseqNumber;
      const methodStart = known.cseqMethodStart;
      if (methodStart === -1) this.cachedCseqMethod = null;
      else if (known.cseqMethodIndex !== -1) this.cachedCseqMethod = COMMON_METHODS[known.cseqMethodIndex];
      else this.cachedCseqMethod = asciiText(this.bytes, methodStart, known.cseqMethodEnd);
      return;
    }
    if (start !== -1 && known.cseqStatus === NOT_SCANNED && scanCSeqInto(this.bytes, start, known.valueEnd(CSEQ))) {
      this.cachedCseqNumber = scannedCSeq.number;
      this.cachedCseqMethod = scannedCSeq.method;
      return;
    }
    const text = this.knownText(CSEQ);
    if (text === null) return;
    const cseq = parseCSeq(text);
    this.cachedCseqNumber = cseq.number;
    this.cachedCseqMethod = cseq.method;
  }

  private nameAddr(header: ScannedHeader): SipNameAddr | null {
    const known = this.known;
    if (!known.isFolded(header)) {
      const start = known.valueStart(header);
      if (start === -1) return null;
      const end = known.valueEnd(header);
      const scanned = scanNameAddrIn(this.bytes, start, end, this.headerSource(end), known.startLineStart);
      if (scanned !== null) return scanned;
    }
    const text = this.knownText(header);
    return text === null ? null : parseNameAddr(text);
  }

  /** The tag of the From or To name-addr; values the byte scan does not handle take the full parse. */
  private tagOf(header: typeof FROM | typeof TO): string | null {
    const known = this.known;
    if (!known.isFolded(header)) {
      const start = known.valueStart(header);
      if (start === -1) return null;
      const end = known.valueEnd(header);
      // What the kernel read from the value when it recorded it, else the same read in JavaScript.
      let status = header === FROM ? known.fromTagStatus : known.toTagStatus;
      let tagStart = header === FROM ? known.fromTagStart : known.toTagStart;
      let tagEnd = header === FROM ? known.fromTagEnd : known.toTagEnd;
      if (status === NOT_SCANNED) {
        status = scanTagIn(this.bytes, start, end);
        tagStart = tagSpan.start;
        tagEnd = tagSpan.end;
      }
      if (status === TAG_ABSENT) return null;
      if (status === TAG_FOUND) {
        // Only printable ASCII is accepted, so a slice of the latin1 header text is exact.
        return this.asciiSlice(tagStart, tagEnd);
      }
    }
    const nameAddr = header === FROM ? this.from : this.to;
    return nameAddr === null ? null : nameAddr.tag;
  }

  private isNamed(table: HeaderTable, index: number, forms: HeaderNameForms): boolean {
    const start = table.nameStart(index);
    const end = table.nameEnd(index);
    return (
      equalsIgnoringCase(this.bytes, start, end, forms.long) ||
      (forms.compact !== null && equalsIgnoringCase(this.bytes, start, end, forms.compact))
    );
  }

  private value(table: HeaderTable, index: number): string {
    const text = utf8Text(this.bytes, table.valueStart(index), table.valueEnd(index));
    return table.isFolded(index) ? unfold(text) : text;
  }
}

// A SIP message over the captured bytes. Only the layout scan happens up front; every field is
// decoded on first access and cached, because the agent reads a handful of headers per packet.
// One class with fixed fields (undefined = not decoded yet) keeps property access monomorphic.
import type { SipMessage, SipNameAddr } from './types.ts';
import type { HeaderTable } from './header-table.ts';
import { headerNameForms, type HeaderNameForms } from './header-names.ts';
import { parseNameAddr } from './name-addr.ts';
import { scanNameAddr } from './name-addr-bytes.ts';
import { viaBranch } from './via.ts';
import { parseCSeq, scanCSeq } from './cseq.ts';
import { equalsIgnoringCase, utf8Text } from './bytes.ts';

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
  readonly payload: Buffer;
  readonly isRequest: boolean;
  readonly method: string | null;
  readonly statusCode: number | null;
  private readonly table: HeaderTable;
  private readonly requestUriStart: number;
  private readonly requestUriEnd: number;
  private cachedRequestUri: string | null | undefined;
  private cachedCallId: string | null | undefined = undefined;
  private cseqRead = false;
  private cachedCseqNumber: number | null = null;
  private cachedCseqMethod: string | null = null;
  private cachedFrom: SipNameAddr | null | undefined = undefined;
  private cachedTo: SipNameAddr | null | undefined = undefined;
  private cachedPai: SipNameAddr | null | undefined = undefined;
  private cachedViaBranch: string | null | undefined = undefined;

  /**
   * `requestUri` is the decoded Request-URI when the start line was read as text; otherwise the
   * URI is decoded on demand from payload[requestUriStart, requestUriEnd).
   */
  constructor(
    payload: Buffer,
    table: HeaderTable,
    isRequest: boolean,
    method: string | null,
    statusCode: number | null,
    requestUriStart: number,
    requestUriEnd: number,
    requestUri: string | null | undefined,
  ) {
    this.payload = payload;
    this.table = table;
    this.isRequest = isRequest;
    this.method = method;
    this.statusCode = statusCode;
    this.requestUriStart = requestUriStart;
    this.requestUriEnd = requestUriEnd;
    this.cachedRequestUri = requestUri;
  }

  get requestUri(): string | null {
    if (this.cachedRequestUri === undefined) {
      // Cut at ASCII spaces, so decoding this span equals slicing the decoded line.
      this.cachedRequestUri = utf8Text(this.payload, this.requestUriStart, this.requestUriEnd);
    }
    return this.cachedRequestUri;
  }

  get callId(): string | null {
    if (this.cachedCallId === undefined) {
      const index = this.table.callId;
      this.cachedCallId = index === -1 ? null : this.nonEmpty(this.value(index));
    }
    return this.cachedCallId;
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
    if (this.cachedFrom === undefined) this.cachedFrom = this.nameAddr(this.table.from);
    return this.cachedFrom;
  }

  get to(): SipNameAddr | null {
    if (this.cachedTo === undefined) this.cachedTo = this.nameAddr(this.table.to);
    return this.cachedTo;
  }

  get pAssertedIdentity(): SipNameAddr | null {
    if (this.cachedPai === undefined) this.cachedPai = this.nameAddr(this.table.pAssertedIdentity);
    return this.cachedPai;
  }

  get viaBranch(): string | null {
    if (this.cachedViaBranch === undefined) {
      const index = this.table.via;
      this.cachedViaBranch = index === -1 ? null : viaBranch(this.value(index));
    }
    return this.cachedViaBranch;
  }

  header(name: string): string | null {
    const forms = headerNameForms(name);
    for (let i = 0; i < this.table.count; i++) {
      if (this.isNamed(i, forms)) return this.value(i);
    }
    return null;
  }

  headers(name: string): string[] {
    const forms = headerNameForms(name);
    const values: string[] = [];
    for (let i = 0; i < this.table.count; i++) {
      if (this.isNamed(i, forms)) values.push(this.value(i));
    }
    return values;
  }

  private readCSeq(): void {
    this.cseqRead = true;
    const index = this.table.cseq;
    if (index === -1) return;
    const table = this.table;
    const cseq =
      (table.isFolded(index) ? null : scanCSeq(this.payload, table.valueStart(index), table.valueEnd(index))) ??
      parseCSeq(this.value(index));
    this.cachedCseqNumber = cseq.number;
    this.cachedCseqMethod = cseq.method;
  }

  private nameAddr(index: number): SipNameAddr | null {
    if (index === -1) return null;
    const table = this.table;
    if (!table.isFolded(index)) {
      const scanned = scanNameAddr(this.payload, table.valueStart(index), table.valueEnd(index));
      if (scanned !== null) return scanned;
    }
    return parseNameAddr(this.value(index));
  }

  private nonEmpty(value: string): string | null {
    return value.length === 0 ? null : value;
  }

  private isNamed(index: number, forms: HeaderNameForms): boolean {
    const start = this.table.nameStart(index);
    const end = this.table.nameEnd(index);
    return (
      equalsIgnoringCase(this.payload, start, end, forms.long) ||
      (forms.compact !== null && equalsIgnoringCase(this.payload, start, end, forms.compact))
    );
  }

  private value(index: number): string {
    const text = utf8Text(this.payload, this.table.valueStart(index), this.table.valueEnd(index));
    return this.table.isFolded(index) ? unfold(text) : text;
  }
}

// A SIP message over the captured bytes. Only the layout scan happens up front; every field is
// decoded on first access and cached, because the agent reads a handful of headers per packet.
import type { SipMessage, SipNameAddr } from './types.ts';
import type { HeaderTable, MessageLayout } from './header-table.ts';
import type { StartLine } from './start-line.ts';
import { headerNameForms, type HeaderNameForms } from './header-names.ts';
import { parseNameAddr } from './name-addr.ts';
import { viaBranch } from './via.ts';
import { parseCSeq, type CSeq } from './cseq.ts';

/** Compares payload[start, end) with an all-lower-case ASCII name, ignoring ASCII case. */
function nameMatches(payload: Buffer, start: number, end: number, lowerName: string): boolean {
  if (end - start !== lowerName.length) return false;
  for (let i = 0; i < lowerName.length; i++) {
    let byte = payload[start + i];
    if (byte >= 0x41 && byte <= 0x5a) byte += 0x20;
    if (byte !== lowerName.charCodeAt(i)) return false;
  }
  return true;
}

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

const FROM = headerNameForms('From');
const TO = headerNameForms('To');
const CALL_ID = headerNameForms('Call-ID');
const CSEQ = headerNameForms('CSeq');
const VIA = headerNameForms('Via');
const P_ASSERTED_IDENTITY = headerNameForms('P-Asserted-Identity');

/** Sentinel for "not computed yet", distinct from a computed null. */
const UNSET: unique symbol = Symbol('unset');
type Lazy<T> = T | typeof UNSET;

export class CapturedSipMessage implements SipMessage {
  readonly payload: Buffer;
  private readonly table: HeaderTable;
  private readonly startLine: StartLine;
  private cachedFrom: Lazy<SipNameAddr | null> = UNSET;
  private cachedTo: Lazy<SipNameAddr | null> = UNSET;
  private cachedPai: Lazy<SipNameAddr | null> = UNSET;
  private cachedCallId: Lazy<string | null> = UNSET;
  private cachedCSeq: Lazy<CSeq> = UNSET;
  private cachedViaBranch: Lazy<string | null> = UNSET;

  constructor(payload: Buffer, layout: MessageLayout, startLine: StartLine) {
    this.payload = payload;
    this.table = layout.headers;
    this.startLine = startLine;
  }

  get isRequest(): boolean {
    return this.startLine.kind === 'request';
  }

  get method(): string | null {
    return this.startLine.kind === 'request' ? this.startLine.method : null;
  }

  get statusCode(): number | null {
    return this.startLine.kind === 'response' ? this.startLine.statusCode : null;
  }

  get requestUri(): string | null {
    return this.startLine.kind === 'request' ? this.startLine.requestUri : null;
  }

  get callId(): string | null {
    if (this.cachedCallId === UNSET) this.cachedCallId = this.nonEmpty(this.firstValue(CALL_ID));
    return this.cachedCallId;
  }

  get cseqNumber(): number | null {
    return this.cseq().number;
  }

  get cseqMethod(): string | null {
    return this.cseq().method;
  }

  get from(): SipNameAddr | null {
    if (this.cachedFrom === UNSET) this.cachedFrom = this.nameAddr(FROM);
    return this.cachedFrom;
  }

  get to(): SipNameAddr | null {
    if (this.cachedTo === UNSET) this.cachedTo = this.nameAddr(TO);
    return this.cachedTo;
  }

  get pAssertedIdentity(): SipNameAddr | null {
    if (this.cachedPai === UNSET) this.cachedPai = this.nameAddr(P_ASSERTED_IDENTITY);
    return this.cachedPai;
  }

  get viaBranch(): string | null {
    if (this.cachedViaBranch === UNSET) {
      const top = this.firstValue(VIA);
      this.cachedViaBranch = top === null ? null : viaBranch(top);
    }
    return this.cachedViaBranch;
  }

  header(name: string): string | null {
    return this.firstValue(headerNameForms(name));
  }

  headers(name: string): string[] {
    const forms = headerNameForms(name);
    const values: string[] = [];
    for (let i = 0; i < this.table.count; i++) {
      if (this.isNamed(i, forms)) values.push(this.value(i));
    }
    return values;
  }

  private cseq(): CSeq {
    if (this.cachedCSeq === UNSET) {
      const value = this.firstValue(CSEQ);
      this.cachedCSeq = value === null ? { number: null, method: null } : parseCSeq(value);
    }
    return this.cachedCSeq;
  }

  private nameAddr(forms: HeaderNameForms): SipNameAddr | null {
    const value = this.firstValue(forms);
    return value === null ? null : parseNameAddr(value);
  }

  private nonEmpty(value: string | null): string | null {
    return value === null || value.length === 0 ? null : value;
  }

  private firstValue(forms: HeaderNameForms): string | null {
    for (let i = 0; i < this.table.count; i++) {
      if (this.isNamed(i, forms)) return this.value(i);
    }
    return null;
  }

  private isNamed(index: number, forms: HeaderNameForms): boolean {
    const start = this.table.nameStart(index);
    const end = this.table.nameEnd(index);
    return (
      nameMatches(this.payload, start, end, forms.long) ||
      (forms.compact !== null && nameMatches(this.payload, start, end, forms.compact))
    );
  }

  private value(index: number): string {
    const text = this.payload.toString('utf8', this.table.valueStart(index), this.table.valueEnd(index));
    return this.table.isFolded(index) ? unfold(text) : text;
  }
}

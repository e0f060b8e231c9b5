// One pass over the start line and header section of a SIP payload. It records only byte offsets
// (no strings), and notes where the headers the agent reads on every packet are, so that reading
// them later needs no search by name.
import { COLON, CR, LF, isTokenByte, isWhitespace } from './bytes.ts';

/** Offsets of each header line; values may span folded continuation lines. */
export class HeaderTable {
  // Flat layout, five numbers per header: name start, name end, value start, value end, folded.
  private readonly spans: number[] = [];
  // Index of the first Call-ID / CSeq / From / To / Via / P-Asserted-Identity header, or -1.
  callId = -1;
  cseq = -1;
  from = -1;
  to = -1;
  via = -1;
  pAssertedIdentity = -1;

  get count(): number {
    return this.spans.length / 5;
  }

  add(nameStart: number, nameEnd: number, valueStart: number, valueEnd: number): void {
    this.spans.push(nameStart, nameEnd, valueStart, valueEnd, 0);
  }

  /** Extends the last header's value over a continuation line ending at `valueEnd`. */
  extendLast(valueEnd: number): void {
    const base = this.spans.length - 5;
    this.spans[base + 3] = valueEnd;
    this.spans[base + 4] = 1;
  }

  /** Replaces the last header's (empty) value with one that starts on a continuation line. */
  setLastValue(valueStart: number, valueEnd: number): void {
    const base = this.spans.length - 5;
    this.spans[base + 2] = valueStart;
    this.spans[base + 3] = valueEnd;
  }

  nameStart(index: number): number {
    return this.spans[index * 5];
  }

  nameEnd(index: number): number {
    return this.spans[index * 5 + 1];
  }

  valueStart(index: number): number {
    return this.spans[index * 5 + 2];
  }

  valueEnd(index: number): number {
    return this.spans[index * 5 + 3];
  }

  isFolded(index: number): boolean {
    return this.spans[index * 5 + 4] === 1;
  }

  /**
   * Notes header `index` if it is the first of a well-known name. The switch on length and first
   * byte rejects almost every other name before any comparison.
   */
  classify(payload: Buffer, index: number, start: number, end: number): void {
    const first = payload[start] | 0x20; // ASCII lower case; names are tokens, so no false hits
    switch (end - start) {
      case 1:
        if (first === 0x69) { if (this.callId === -1) this.callId = index; } // i
        else if (first === 0x66) { if (this.from === -1) this.from = index; } // f
        else if (first === 0x74) { if (this.to === -1) this.to = index; } // t
        else if (first === 0x76) { if (this.via === -1) this.via = index; } // v
        return;
      case 2:
        if (first === 0x74 && (payload[start + 1] | 0x20) === 0x6f && this.to === -1) this.to = index;
        return;
      case 3:
        if (first === 0x76 && this.via === -1 && lowerEquals(payload, start, 'via')) this.via = index;
        return;
      case 4:
        if (first === 0x66) { if (this.from === -1 && lowerEquals(payload, start, 'from')) this.from = index; }
        else if (first === 0x63) { if (this.cseq === -1 && lowerEquals(payload, start, 'cseq')) this.cseq = index; }
        return;
      case 7:
        if (first === 0x63 && this.callId === -1 && lowerEquals(payload, start, 'call-id')) this.callId = index;
        return;
      case 19:
        if (first === 0x70 && this.pAssertedIdentity === -1 && lowerEquals(payload, start, 'p-asserted-identity')) {
          this.pAssertedIdentity = index;
        }
        return;
      default:
        return;
    }
  }
}

/** payload[start, start + name.length) equals the lower-case `name`, ignoring ASCII case. */
function lowerEquals(payload: Buffer, start: number, name: string): boolean {
  for (let i = 1; i < name.length; i++) {
    let byte = payload[start + i];
    if (byte >= 0x41 && byte <= 0x5a) byte += 0x20;
    if (byte !== name.charCodeAt(i)) return false;
  }
  return true;
}

export class MessageLayout {
  constructor(
    readonly startLineStart: number,
    /** Exclusive, line terminator excluded. */
    readonly startLineEnd: number,
    readonly headers: HeaderTable,
    /** Offset of the body, or the payload length when there is no blank line. */
    readonly bodyStart: number,
  ) {}
}

/**
 * Offset of the next LF at or after `from`, or the payload length. Buffer's indexOf (memchr) beats
 * a byte loop once a line's value is longer than a few bytes, which nearly all are.
 */
function lineFeedFrom(payload: Buffer, from: number, length: number): number {
  const lf = payload.indexOf(LF, from);
  return lf === -1 ? length : lf;
}

/** End of a line's content: the LF (or payload end) at `lf`, minus a CR right before it. */
function contentEndOf(payload: Buffer, lineStart: number, lf: number): number {
  return lf > lineStart && payload[lf - 1] === CR ? lf - 1 : lf;
}

function trimEnd(payload: Buffer, start: number, end: number): number {
  let e = end;
  while (e > start && isWhitespace(payload[e - 1])) e--;
  return e;
}

export function scanLayout(payload: Buffer): MessageLayout {
  const length = payload.length;
  let start = 0;
  // Stream keep-alives and stray blank lines may precede the start line (RFC 3261 §7.5).
  while (start < length && (payload[start] === CR || payload[start] === LF)) start++;
  const firstLf = lineFeedFrom(payload, start, length);
  const startLineEnd = contentEndOf(payload, start, firstLf);
  const headers = new HeaderTable();
  let pos = firstLf + 1;
  let bodyStart = length;
  let previousLineWasHeader = false;
  while (pos < length) {
    const first = payload[pos];
    if (isWhitespace(first)) {
      // A folded continuation of the previous header (obsolete but legal line folding).
      const lf = lineFeedFrom(payload, pos, length);
      const valueEnd = trimEnd(payload, pos, contentEndOf(payload, pos, lf));
      if (previousLineWasHeader && valueEnd > pos) {
        const last = headers.count - 1;
        if (headers.valueEnd(last) === headers.valueStart(last)) {
          // The header line itself had an empty value: the value starts on this line.
          let valueStart = pos;
          while (isWhitespace(payload[valueStart])) valueStart++;
          headers.setLastValue(valueStart, valueEnd);
        } else {
          headers.extendLast(valueEnd);
        }
      }
      pos = lf + 1;
      continue;
    }
    // Name, optional whitespace, colon, optional whitespace. None of these bytes is CR or LF, so
    // the scan cannot run past the line; a line that is not "token *WS : value" is skipped rather
    // than failing the packet, since captured traffic does contain junk lines.
    let i = pos;
    while (i < length && isTokenByte(payload[i])) i++;
    const nameEnd = i;
    while (i < length && isWhitespace(payload[i])) i++;
    if (nameEnd > pos && i < length && payload[i] === COLON) {
      i++;
      while (i < length && isWhitespace(payload[i])) i++;
      const lf = lineFeedFrom(payload, i, length);
      headers.classify(payload, headers.count, pos, nameEnd);
      headers.add(pos, nameEnd, i, trimEnd(payload, i, contentEndOf(payload, pos, lf)));
      previousLineWasHeader = true;
      pos = lf + 1;
      continue;
    }
    const lf = lineFeedFrom(payload, i, length);
    if (contentEndOf(payload, pos, lf) === pos) {
      bodyStart = lf < length ? lf + 1 : length;
      break;
    }
    previousLineWasHeader = false;
    pos = lf + 1;
  }
  return new MessageLayout(start, startLineEnd, headers, bodyStart);
}

// The full header table: one pass over the start line and header section of a SIP payload,
// recording only byte offsets (no strings). Built when a header is looked up by name, or when
// the message has folded lines; the per-packet path uses known-headers.ts instead.
import { COLON, CR, LF, contentEndOf, isTokenByte, isWhitespace, lineFeedFrom, trimEnd } from './bytes.ts';
import { knownHeaderOf, type KnownHeader } from './known-headers.ts';

/** Offsets of each header line; values may span folded continuation lines. */
export class HeaderTable {
  // Flat layout, five numbers per header: name start, name end, value start, value end, folded.
  private readonly spans: number[] = [];
  // Index of the first header of each known name (see known-headers.ts), or -1.
  private readonly firstIndexes: number[] = [-1, -1, -1, -1, -1, -1];

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

  /** Notes header `index` if it is the first of a known name. */
  classify(payload: Buffer, index: number, start: number, end: number): void {
    const header = knownHeaderOf(payload, start, end);
    if (header !== -1 && this.firstIndexes[header] === -1) this.firstIndexes[header] = index;
  }

  /** Index of the first header of a known name, or -1. */
  firstIndex(header: KnownHeader): number {
    return this.firstIndexes[header];
  }
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

/** The layout of the SIP message in payload[from, limit) (by default the whole buffer); offsets are the buffer's. */
export function scanLayout(payload: Buffer, from = 0, limit: number = payload.length): MessageLayout {
  const length = limit;
  let start = from;
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

// One pass over the start line and header section of a SIP payload. It records only byte offsets
// (no strings), so that a packet whose headers are never read costs a handful of memchr calls.

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

/** Offsets of each header line; values may span folded continuation lines. */
export class HeaderTable {
  // Flat layout, five numbers per header: name start, name end, value start, value end, folded.
  private readonly spans: number[] = [];

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
}

export interface MessageLayout {
  startLineStart: number;
  /** Exclusive, line terminator excluded. */
  startLineEnd: number;
  headers: HeaderTable;
  /** Offset of the body, or the payload length when there is no blank line. */
  bodyStart: number;
}

function isWhitespace(byte: number): boolean {
  return byte === SP || byte === HT;
}

// RFC 3261 token characters: alphanumerics and - . ! % * _ + ` ' ~
function isTokenByte(byte: number): boolean {
  if (byte >= 0x61 && byte <= 0x7a) return true; // a-z
  if (byte >= 0x41 && byte <= 0x5a) return true; // A-Z
  if (byte >= 0x30 && byte <= 0x39) return true; // 0-9
  return (
    byte === 0x2d || byte === 0x2e || byte === 0x21 || byte === 0x25 || byte === 0x2a ||
    byte === 0x5f || byte === 0x2b || byte === 0x60 || byte === 0x27 || byte === 0x7e
  );
}

/** Line content end (before LF or CRLF) and the start of the next line, for the line at `from`. */
function lineBounds(payload: Buffer, from: number): { contentEnd: number; next: number } {
  const lf = payload.indexOf(LF, from);
  const end = lf === -1 ? payload.length : lf;
  const contentEnd = end > from && payload[end - 1] === CR ? end - 1 : end;
  return { contentEnd, next: lf === -1 ? payload.length : lf + 1 };
}

function trimEnd(payload: Buffer, start: number, end: number): number {
  let e = end;
  while (e > start && isWhitespace(payload[e - 1])) e--;
  return e;
}

/**
 * Reads the header line starting at `lineStart` and records it. Lines that are not
 * "token *WS : value" are skipped rather than failing the whole packet: captured traffic does
 * contain junk lines, and the headers around them are still worth reading.
 */
function addHeaderLine(payload: Buffer, lineStart: number, contentEnd: number, table: HeaderTable): boolean {
  let i = lineStart;
  while (i < contentEnd && isTokenByte(payload[i])) i++;
  const nameEnd = i;
  if (nameEnd === lineStart) return false;
  while (i < contentEnd && isWhitespace(payload[i])) i++;
  if (i >= contentEnd || payload[i] !== COLON) return false;
  i++;
  while (i < contentEnd && isWhitespace(payload[i])) i++;
  table.add(lineStart, nameEnd, i, trimEnd(payload, i, contentEnd));
  return true;
}

export function scanLayout(payload: Buffer): MessageLayout {
  const length = payload.length;
  let start = 0;
  // Stream keep-alives and stray blank lines may precede the start line (RFC 3261 §7.5).
  while (start < length && (payload[start] === CR || payload[start] === LF)) start++;
  const first = lineBounds(payload, start);
  const headers = new HeaderTable();
  let pos = first.next;
  let bodyStart = length;
  let previousLineWasHeader = false;
  while (pos < length) {
    const { contentEnd, next } = lineBounds(payload, pos);
    if (contentEnd === pos) {
      bodyStart = next;
      break;
    }
    if (isWhitespace(payload[pos])) {
      // A folded continuation of the previous header (obsolete but legal line folding).
      const valueEnd = trimEnd(payload, pos, contentEnd);
      if (previousLineWasHeader && valueEnd > pos) {
        if (headers.valueEnd(headers.count - 1) === headers.valueStart(headers.count - 1)) {
          // The header line itself had an empty value: the value starts on this line.
          let valueStart = pos;
          while (isWhitespace(payload[valueStart])) valueStart++;
          headers.setLastValue(valueStart, valueEnd);
        } else {
          headers.extendLast(valueEnd);
        }
      }
    } else {
      previousLineWasHeader = addHeaderLine(payload, pos, contentEnd, headers);
    }
    pos = next;
  }
  return { startLineStart: start, startLineEnd: first.contentEnd, headers, bodyStart };
}

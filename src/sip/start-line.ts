// The first line of a SIP message: "METHOD Request-URI SIP/2.0" or "SIP/2.0 Status-Code Reason".
import { isTokenByte } from './bytes.ts';

export type StartLine =
  | { kind: 'request'; method: string; requestUri: string }
  | { kind: 'response'; statusCode: number };

export type StartLineResult = { ok: true; line: StartLine } | { ok: false; reason: string };

const TOKEN_PUNCTUATION = "-.!%*_+`'~";

function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const alnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    if (!alnum && !TOKEN_PUNCTUATION.includes(text[i])) return false;
  }
  return true;
}

/** "SIP/" DIGITS "." DIGITS, case-insensitive as RFC 3261 §7.1 allows. */
function isSipVersion(text: string): boolean {
  if (text.length < 7 || text.slice(0, 4).toUpperCase() !== 'SIP/') return false;
  const dot = text.indexOf('.', 4);
  if (dot <= 4 || dot === text.length - 1) return false;
  for (let i = 4; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (i !== dot && (c < 0x30 || c > 0x39)) return false;
  }
  return true;
}

function hasControlCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

/** Splits on runs of spaces/tabs; senders are not always strict about single spaces. */
function splitWords(text: string, maxWords: number): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length && words.length < maxWords) {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i++;
    if (i >= text.length) break;
    let end = i;
    if (words.length === maxWords - 1) {
      end = text.length; // the last word keeps the rest (e.g. a reason phrase with spaces)
    } else {
      while (end < text.length && text[end] !== ' ' && text[end] !== '\t') end++;
    }
    words.push(text.slice(i, end));
    i = end;
  }
  return words;
}

export function parseStartLine(text: string): StartLineResult {
  if (text.length === 0) return { ok: false, reason: 'empty start line' };
  if (hasControlCharacters(text)) return { ok: false, reason: 'control characters in start line' };
  if (text.slice(0, 4).toUpperCase() === 'SIP/') {
    const [version = '', code = ''] = splitWords(text, 3);
    if (!isSipVersion(version)) return { ok: false, reason: `bad SIP version in status line: ${version}` };
    if (!/^[1-6][0-9][0-9]$/.test(code)) return { ok: false, reason: `bad status code: ${code}` };
    return { ok: true, line: { kind: 'response', statusCode: Number(code) } };
  }
  const words = splitWords(text, 4);
  if (words.length !== 3) return { ok: false, reason: 'request line is not "METHOD URI SIP/2.0"' };
  const [method, requestUri, version] = words;
  if (!isToken(method)) return { ok: false, reason: `bad method: ${method}` };
  if (!requestUri.includes(':')) return { ok: false, reason: `bad request URI: ${requestUri}` };
  if (!isSipVersion(version)) return { ok: false, reason: `bad SIP version in request line: ${version}` };
  return { ok: true, line: { kind: 'request', method, requestUri } };
}

/** Where the parts of a start line read by the byte-level scan are; -1 when absent. */
export class StartLineSpans {
  constructor(
    readonly isRequest: boolean,
    readonly methodStart: number,
    readonly methodEnd: number,
    readonly uriStart: number,
    readonly uriEnd: number,
    readonly statusCode: number,
  ) {}
}

/** Bytes that make the text-level parser reject the line (see hasControlCharacters). */
function isControlByte(byte: number): boolean {
  return (byte < 0x20 && byte !== 0x09) || byte === 0x7f;
}

/** Offset just past "SIP/" DIGITS "." DIGITS at `from` (ASCII case-insensitive), or -1. */
function sipVersionEnd(payload: Buffer, from: number, end: number): number {
  if (from + 7 > end) return -1;
  if ((payload[from] | 0x20) !== 0x73 || (payload[from + 1] | 0x20) !== 0x69 || (payload[from + 2] | 0x20) !== 0x70) return -1;
  if (payload[from + 3] !== 0x2f) return -1;
  let i = from + 4;
  const major = i;
  while (i < end && payload[i] >= 0x30 && payload[i] <= 0x39) i++;
  if (i === major || i >= end || payload[i] !== 0x2e) return -1;
  i++;
  const minor = i;
  while (i < end && payload[i] >= 0x30 && payload[i] <= 0x39) i++;
  return i === minor ? -1 : i;
}

// What each start-line byte means to the byte scan, one table lookup per byte instead of a
// chain of comparisons: plain, a separator (SP, HT), the Request-URI's ':', or a control byte
// (which makes the text-level parser reject the line, see hasControlCharacters).
const LINE_PLAIN = 0;
const LINE_SEPARATOR = 1;
const LINE_COLON = 2;
const LINE_CONTROL = 3;
const LINE_CLASS: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (let byte = 0; byte < 256; byte++) if (isControlByte(byte)) table[byte] = LINE_CONTROL;
  table[0x20] = LINE_SEPARATOR;
  table[0x09] = LINE_SEPARATOR;
  table[0x3a] = LINE_COLON;
  return table;
})();

/** Where scanStartLineInto leaves its answer: one shared object, so parsing allocates none. */
export const scannedStartLine = {
  isRequest: false, methodStart: -1, methodEnd: -1, uriStart: -1, uriEnd: -1, statusCode: -1,
  /** The method's index in COMMON_METHODS when the scan kernel read the line, else -1. */
  methodIndex: -1,
  /** scanStartLineAt only: the line's content end (terminator excluded) and its LF (or the limit when it has none). */
  lineEnd: -1,
  lineFeed: -1,
};

/**
 * The usual start lines read straight from the bytes: "METHOD URI SIP/x.y" and
 * "SIP/x.y CODE[ reason]" with single spaces. Returns null for anything else, valid or not, so
 * that parseStartLine decides (and words its reason) exactly as for any other line.
 */
export function scanStartLine(payload: Buffer, start: number, end: number): StartLineSpans | null {
  if (!scanStartLineInto(payload, start, end)) return null;
  const s = scannedStartLine;
  return new StartLineSpans(s.isRequest, s.methodStart, s.methodEnd, s.uriStart, s.uriEnd, s.statusCode);
}

function setScanned(isRequest: boolean, methodStart: number, methodEnd: number, uriStart: number, uriEnd: number, statusCode: number): true {
  const s = scannedStartLine;
  s.isRequest = isRequest;
  s.methodStart = methodStart;
  s.methodEnd = methodEnd;
  s.uriStart = uriStart;
  s.uriEnd = uriEnd;
  s.statusCode = statusCode;
  s.methodIndex = -1;
  return true;
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Notes where the line ends when the scan meets the control byte at `at` (or the limit): an LF,
 * or a CR right before an LF or the limit, ends it, as contentEndOf (bytes.ts) cuts a line; any
 * other control byte is one the text-level parser rejects. False in that case.
 */
function endLineAt(payload: Buffer, at: number, limit: number): boolean {
  const s = scannedStartLine;
  if (at >= limit) {
    s.lineEnd = limit;
    s.lineFeed = limit;
    return true;
  }
  const byte = payload[at];
  if (byte === LF) {
    s.lineEnd = at;
    s.lineFeed = at;
    return true;
  }
  if (byte !== CR) return false;
  if (at + 1 === limit) {
    s.lineEnd = at;
    s.lineFeed = limit;
    return true;
  }
  if (payload[at + 1] !== LF) return false;
  s.lineEnd = at;
  s.lineFeed = at + 1;
  return true;
}

/** scanStartLine leaving the spans in scannedStartLine; false where scanStartLine returns null. */
export function scanStartLineInto(payload: Buffer, start: number, end: number): boolean {
  // The line [start, end) is whole only if the scan runs to `end` without meeting a terminator.
  return scanStartLineAt(payload, start, end) && scannedStartLine.lineEnd === end;
}

/**
 * scanStartLineInto for the line starting at `start`, whose end it finds on the way (leaving it
 * in scannedStartLine.lineEnd and lineFeed): the scan reads every byte of the line anyway, so
 * this saves looking for the line feed first. Nothing at or past `limit` is read.
 */
export function scanStartLineAt(payload: Buffer, start: number, limit: number): boolean {
  const versionEnd = sipVersionEnd(payload, start, limit);
  if (versionEnd !== -1) {
    if (versionEnd + 4 > limit || payload[versionEnd] !== 0x20) return false;
    const c0 = payload[versionEnd + 1] - 0x30;
    const c1 = payload[versionEnd + 2] - 0x30;
    const c2 = payload[versionEnd + 3] - 0x30;
    if (c0 < 1 || c0 > 6 || c1 < 0 || c1 > 9 || c2 < 0 || c2 > 9) return false;
    const after = versionEnd + 4;
    if (after < limit) {
      const byte = payload[after];
      if (byte !== 0x20 && byte !== 0x09 && byte !== LF && byte !== CR) return false;
    }
    // The reason phrase is the only part not checked byte by byte above; its first control byte
    // ends the line or rejects it.
    let i = after;
    while (i < limit && LINE_CLASS[payload[i]] !== LINE_CONTROL) i++;
    return endLineAt(payload, i, limit) && setScanned(false, -1, -1, -1, -1, c0 * 100 + c1 * 10 + c2);
  }
  // Token, version and separator bytes are never control bytes; only the URI needs checking.
  let i = start;
  while (i < limit && isTokenByte(payload[i])) i++;
  const methodEnd = i;
  if (methodEnd === start || i >= limit || payload[i] !== 0x20) return false;
  const uriStart = i + 1;
  let colon = false;
  i = uriStart;
  for (; i < limit; i++) {
    const kind = LINE_CLASS[payload[i]];
    if (kind === LINE_PLAIN) continue;
    if (kind === LINE_SEPARATOR) break;
    if (kind === LINE_CONTROL) return false;
    colon = true;
  }
  const uriEnd = i;
  if (!colon || i >= limit || payload[i] !== 0x20) return false;
  const versionAt = sipVersionEnd(payload, i + 1, limit);
  if (versionAt === -1) return false;
  // The version must end the line: only a terminator (or the limit) may follow it.
  if (versionAt < limit && payload[versionAt] !== LF && payload[versionAt] !== CR) return false;
  return endLineAt(payload, versionAt, limit) && setScanned(true, start, methodEnd, uriStart, uriEnd, -1);
}

// The byte-level twin of parseNameAddr for the values seen on nearly every packet: printable
// ASCII without commas, backslashes or line folds. Anything else returns null and goes through
// parseNameAddr, so both paths give the same answer wherever this one answers at all (a property
// test checks it). Only the final fields become strings, as slices of the one decoded value.
import type { SipNameAddr, SipUri } from './types.ts';
import { BACKSLASH, COLON, COMMA, QUOTE, SEMICOLON, SP, asciiText } from './bytes.ts';

const LT = 0x3c;
const GT = 0x3e;
const AT = 0x40;
const QUESTION = 0x3f;
const EQUALS = 0x3d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

function indexIn(payload: Buffer, byte: number, from: number, end: number): number {
  for (let i = from; i < end; i++) {
    if (payload[i] === byte) return i;
  }
  return -1;
}

/** First ';' or '?' in [from, end), or end. */
function endOfHostPart(payload: Buffer, from: number, end: number): number {
  for (let i = from; i < end; i++) {
    const byte = payload[i];
    if (byte === SEMICOLON || byte === QUESTION) return i;
  }
  return end;
}

function isSchemeSpan(payload: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const byte = payload[i];
    const lower = byte | 0x20;
    if (lower >= 0x61 && lower <= 0x7a) continue;
    if (i > start && ((byte >= 0x30 && byte <= 0x39) || byte === 0x2b || byte === 0x2d || byte === 0x2e)) continue;
    return false;
  }
  return true;
}

function schemeText(payload: Buffer, start: number, end: number, raw: string, base: number): string {
  const length = end - start;
  if (length === 3 || length === 4) {
    const first = payload[start] | 0x20;
    const second = payload[start + 1] | 0x20;
    const third = payload[start + 2] | 0x20;
    if (first === 0x73 && second === 0x69 && third === 0x70) {
      if (length === 3) return 'sip';
      if ((payload[start + 3] | 0x20) === 0x73) return 'sips';
    } else if (length === 3 && first === 0x74 && second === 0x65 && third === 0x6c) {
      return 'tel';
    }
  }
  return raw.slice(start - base, end - base).toLowerCase();
}

function portOf(payload: Buffer, start: number, end: number): number | null {
  if (end <= start || end - start > 5) return null;
  let port = 0;
  for (let i = start; i < end; i++) {
    const byte = payload[i];
    if (byte < 0x30 || byte > 0x39) return null;
    port = port * 10 + (byte - 0x30);
  }
  return port <= 65535 ? port : null;
}

/**
 * 3 or 4 when payload[start, end) opens with "sip:" or "sips:" (scheme in any case), else 0: the
 * scheme of nearly every From and To, recognised without the general scheme scan.
 */
function sipSchemeLength(payload: Buffer, start: number, end: number): number {
  if (start + 4 > end || (payload[start] | 0x20) !== 0x73 || (payload[start + 1] | 0x20) !== 0x69 || (payload[start + 2] | 0x20) !== 0x70) return 0;
  if (payload[start + 3] === COLON) return 3;
  return start + 5 <= end && (payload[start + 3] | 0x20) === 0x73 && payload[start + 4] === COLON ? 4 : 0;
}

/** parseUri over payload[start, end); `raw` is the decoded value starting at payload offset `base`. */
function uriOf(payload: Buffer, start: number, end: number, raw: string, base: number): SipUri | null {
  let s = start;
  let e = end;
  while (s < e && payload[s] === SP) s++;
  while (e > s && payload[e - 1] === SP) e--;
  let colon = s + sipSchemeLength(payload, s, e);
  let scheme: string;
  if (colon !== s) {
    scheme = colon - s === 3 ? 'sip' : 'sips';
  } else {
    colon = indexIn(payload, COLON, s, e);
    if (colon <= s) return null;
    if (!isSchemeSpan(payload, s, colon)) return null;
    scheme = schemeText(payload, s, colon, raw, base);
  }
  const rest = colon + 1;
  if (scheme === 'tel' || (scheme !== 'sip' && scheme !== 'sips')) {
    const partEnd = endOfHostPart(payload, rest, e);
    if (partEnd === rest) return null;
    const text = raw.slice(rest - base, partEnd - base);
    return scheme === 'tel' ? { scheme, user: text, host: '', port: null } : { scheme, user: null, host: text, port: null };
  }
  // The first '@' and, on the way to it, the first ':' (which starts a password in the userinfo).
  let at = -1;
  let passwordColon = -1;
  for (let i = rest; i < e; i++) {
    const byte = payload[i];
    if (byte === AT) {
      at = i;
      break;
    }
    if (byte === COLON && passwordColon === -1) passwordColon = i;
  }
  let user: string | null = null;
  let hostStart = rest;
  if (at !== -1) {
    user = raw.slice(rest - base, (passwordColon === -1 ? at : passwordColon) - base);
    hostStart = at + 1;
  }
  if (hostStart < e && payload[hostStart] === OPEN_BRACKET) {
    const hostEnd = endOfHostPart(payload, hostStart, e);
    const close = indexIn(payload, CLOSE_BRACKET, hostStart, hostEnd);
    if (close === -1 || close - hostStart < 2) return null;
    const after = close + 1;
    if (after < hostEnd && payload[after] !== COLON) return null;
    const port = after < hostEnd ? portOf(payload, after + 1, hostEnd) : null;
    return { scheme, user, host: raw.slice(hostStart - base, after - base), port };
  }
  // One pass over host[:port]: it ends at the first ';' or '?'; the host at the first ':'.
  let portColon = -1;
  let hasSpace = false;
  let hostEnd = hostStart;
  for (; hostEnd < e; hostEnd++) {
    const byte = payload[hostEnd];
    if (byte === SEMICOLON || byte === QUESTION) break;
    if (byte === COLON) {
      if (portColon === -1) portColon = hostEnd;
    } else if (byte === SP && portColon === -1) {
      hasSpace = true;
    }
  }
  const nameEnd = portColon === -1 ? hostEnd : portColon;
  if (nameEnd === hostStart || hasSpace) return null;
  const port = portColon === -1 ? null : portOf(payload, portColon + 1, hostEnd);
  return { scheme, user, host: raw.slice(hostStart - base, nameEnd - base), port };
}

/**
 * findParameter(params, 'tag') over the parameters after the '>' of a name-addr, payload[start,
 * end), which the first pass has not looked at: every byte is checked here as it is split, and
 * undefined means one the fast path does not handle (the caller then gives up). Hence no early
 * return once the tag is found: the bytes after it must be checked too.
 */
function checkedTagOf(payload: Buffer, start: number, end: number, raw: string, base: number): string | null | undefined {
  let tag: string | null = null;
  let found = false;
  let partStart = start;
  while (partStart <= end) {
    let partEnd = partStart;
    let inQuotes = false;
    let eq = -1; // the first '=' of the part, quoted or not
    while (partEnd < end) {
      const byte = payload[partEnd];
      if (BYTE_CLASS[byte] === UNHANDLED) return undefined;
      if (byte === QUOTE) inQuotes = !inQuotes;
      else if (byte === SEMICOLON && !inQuotes) break;
      else if (byte === EQUALS && eq === -1) eq = partEnd;
      partEnd++;
    }
    if (!found && isTagKey(payload, partStart, eq === -1 ? partEnd : eq)) {
      found = true;
      tag = eq === -1 ? '' : paramValue(payload, eq + 1, partEnd, raw, base);
    }
    partStart = partEnd + 1;
  }
  return tag;
}

/** findParameter(params, 'tag') over payload[start, end), already checked by the first pass. */
function tagOf(payload: Buffer, start: number, end: number, raw: string, base: number): string | null {
  let partStart = start;
  while (partStart <= end) {
    let partEnd = partStart;
    let inQuotes = false;
    let eq = -1; // the first '=' of the part, quoted or not
    while (partEnd < end) {
      const byte = payload[partEnd];
      if (byte === QUOTE) inQuotes = !inQuotes;
      else if (byte === SEMICOLON && !inQuotes) break;
      else if (byte === EQUALS && eq === -1) eq = partEnd;
      partEnd++;
    }
    if (isTagKey(payload, partStart, eq === -1 ? partEnd : eq)) return eq === -1 ? '' : paramValue(payload, eq + 1, partEnd, raw, base);
    partStart = partEnd + 1;
  }
  return null;
}

/** payload[start, end), trimmed of spaces, is "tag" in any case. */
function isTagKey(payload: Buffer, start: number, end: number): boolean {
  let keyStart = start;
  let keyEnd = end;
  while (keyStart < keyEnd && payload[keyStart] === SP) keyStart++;
  while (keyEnd > keyStart && payload[keyEnd - 1] === SP) keyEnd--;
  return (
    keyEnd - keyStart === 3 &&
    (payload[keyStart] | 0x20) === 0x74 && (payload[keyStart + 1] | 0x20) === 0x61 && (payload[keyStart + 2] | 0x20) === 0x67
  );
}

/** The parameter value in payload[start, end), trimmed of spaces. */
function paramValue(payload: Buffer, start: number, end: number, raw: string, base: number): string {
  let valueStart = start;
  let valueEnd = end;
  while (valueStart < valueEnd && payload[valueStart] === SP) valueStart++;
  while (valueEnd > valueStart && payload[valueEnd - 1] === SP) valueEnd--;
  return raw.slice(valueStart - base, valueEnd - base);
}

// What each byte means to the first pass over a value: 0 plain, 1 not handled here (controls,
// tab, non-ASCII, backslash, comma), then the bytes whose first positions the parse needs. A
// table keeps that pass to one lookup and one test per ordinary byte.
const PLAIN = 0;
const UNHANDLED = 1;
const QUOTE_CLASS = 2;
const LT_CLASS = 3;
const GT_CLASS = 4;
const SEMICOLON_CLASS = 5;
const BYTE_CLASS: Uint8Array = (() => {
  const table = new Uint8Array(256).fill(UNHANDLED);
  for (let byte = 0x20; byte <= 0x7e; byte++) table[byte] = PLAIN;
  table[BACKSLASH] = UNHANDLED;
  table[COMMA] = UNHANDLED;
  table[QUOTE] = QUOTE_CLASS;
  table[LT] = LT_CLASS;
  table[GT] = GT_CLASS;
  table[SEMICOLON] = SEMICOLON_CLASS;
  return table;
})();

/**
 * The name-addr in payload[start, end) (a header value already trimmed of spaces and tabs), or
 * null when the value needs the general parser.
 */
export function scanNameAddr(payload: Buffer, start: number, end: number): SipNameAddr | null {
  return scanNameAddrIn(payload, start, end, null, 0);
}

/**
 * scanNameAddr for a message whose header section is already decoded: `source` is the latin1
 * text of the payload from offset `sourceBase`, covering [start, end). The value is taken as a
 * slice of it instead of a fresh decode (a native call that costs more than the whole parse of
 * a short value); latin1 is exact here because only ASCII values are accepted.
 */
export function scanNameAddrIn(payload: Buffer, start: number, end: number, source: string | null, sourceBase: number): SipNameAddr | null {
  if (end <= start) return null;
  // One pass finds the first '<' outside quotes, the first '>' after it and the first ';'. It
  // stops at that '>': what follows is checked while the parameters are split (checkedTagOf).
  let lt = -1;
  let gt = -1;
  let semi = -1;
  let inQuotes = false;
  for (let i = start; i < end; i++) {
    const kind = BYTE_CLASS[payload[i]];
    if (kind === PLAIN) continue;
    if (kind === UNHANDLED) return null;
    if (kind === QUOTE_CLASS) inQuotes = !inQuotes;
    else if (kind === LT_CLASS) {
      if (!inQuotes && lt === -1) lt = i;
    } else if (kind === GT_CLASS) {
      if (lt !== -1) {
        gt = i;
        break;
      }
    } else if (semi === -1) {
      semi = i;
    }
  }
  const raw = source === null ? asciiText(payload, start, end) : source.slice(start - sourceBase, end - sourceBase);
  if (lt === -1) {
    // Without <>, everything after the first ';' is a header parameter (RFC 3261 §20.10).
    const uri = uriOf(payload, start, semi === -1 ? end : semi, raw, start);
    return { raw, displayName: null, uri, tag: semi === -1 ? null : tagOf(payload, semi, end, raw, start) };
  }
  let displayStart = start;
  let displayEnd = lt;
  while (displayEnd > displayStart && payload[displayEnd - 1] === SP) displayEnd--;
  if (displayEnd - displayStart >= 2 && payload[displayStart] === QUOTE && payload[displayEnd - 1] === QUOTE) {
    displayStart++;
    displayEnd--;
  }
  const tag = gt === -1 ? null : checkedTagOf(payload, gt + 1, end, raw, start);
  if (tag === undefined) return null;
  const uri = uriOf(payload, lt + 1, gt === -1 ? end : gt, raw, start);
  return {
    raw,
    displayName: displayEnd > displayStart ? raw.slice(displayStart - start, displayEnd - start) : null,
    uri,
    tag,
  };
}

/** Where scanTagIn found the tag value: payload[tagSpan.start, tagSpan.end), trimmed of spaces. */
export const tagSpan = { start: 0, end: 0 };
export const TAG_FOUND = 1;
export const TAG_ABSENT = 0;
export const TAG_UNHANDLED = -1;

/**
 * The tag parameter of the name-addr in payload[start, end), without building the name-addr: on
 * TAG_FOUND the value's span is left in tagSpan (no string is made, the caller slices it from
 * text it may already have). TAG_UNHANDLED means the general parser must decide; otherwise the
 * answer is parseNameAddr's.
 *
 * With <...>, the bytes between the brackets cannot change the tag, so they are skipped with
 * one memchr for the '>' rather than checked: parseNameAddr takes the first '>' after the '<'
 * whatever precedes it, and the only way URI bytes could matter is by changing where
 * firstElement cuts the value at a comma, which needs a comma after the '>' (the URI is inside
 * brackets or, after a stray quote, inside quotes, where commas never cut). The parameters after
 * the '>' are checked byte by byte and any comma there hands the value over. Before the '<',
 * the bytes are checked as in scanNameAddrIn (quotes decide which '<' opens the URI).
 */
export function scanTagIn(payload: Buffer, start: number, end: number): number {
  if (end <= start) return TAG_UNHANDLED;
  let semi = -1;
  let inQuotes = false;
  for (let i = start; i < end; i++) {
    const kind = BYTE_CLASS[payload[i]];
    if (kind === PLAIN || kind === GT_CLASS) continue;
    if (kind === UNHANDLED) return TAG_UNHANDLED;
    if (kind === QUOTE_CLASS) inQuotes = !inQuotes;
    else if (kind === LT_CLASS) {
      if (inQuotes) continue;
      const gt = payload.indexOf(GT, i + 1);
      return gt === -1 || gt >= end ? TAG_ABSENT : tagSpanOf(payload, gt + 1, end, true);
    } else if (semi === -1) {
      semi = i;
    }
  }
  // Without <>, everything after the first ';' is a header parameter (RFC 3261 §20.10).
  return semi === -1 ? TAG_ABSENT : tagSpanOf(payload, semi, end, false);
}

// What each byte means when parameters are split: 0 plain, then the bytes the split looks at,
// and (only when checking) the bytes the fast path does not handle, as in BYTE_CLASS.
const PARAM_PLAIN = 0;
const PARAM_UNHANDLED = 1;
const PARAM_QUOTE = 2;
const PARAM_SEMICOLON = 3;
const PARAM_EQUALS = 4;
const PARAM_CLASS: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (let byte = 0; byte < 256; byte++) table[byte] = BYTE_CLASS[byte] === UNHANDLED ? PARAM_UNHANDLED : PARAM_PLAIN;
  table[QUOTE] = PARAM_QUOTE;
  table[SEMICOLON] = PARAM_SEMICOLON;
  table[EQUALS] = PARAM_EQUALS;
  return table;
})();

/**
 * tagOf / checkedTagOf over payload[start, end), leaving the value's span in tagSpan. With
 * `check`, the bytes are checked as in checkedTagOf, so every part is split even after the tag.
 */
function tagSpanOf(payload: Buffer, start: number, end: number, check: boolean): number {
  let found = false;
  let partStart = start;
  while (partStart <= end) {
    let partEnd = partStart;
    let inQuotes = false;
    let eq = -1;
    for (; partEnd < end; partEnd++) {
      const kind = PARAM_CLASS[payload[partEnd]];
      if (kind === PARAM_PLAIN) continue;
      if (kind === PARAM_QUOTE) inQuotes = !inQuotes;
      else if (kind === PARAM_SEMICOLON) {
        if (!inQuotes) break;
      } else if (kind === PARAM_EQUALS) {
        if (eq === -1) eq = partEnd;
      } else if (check) {
        return TAG_UNHANDLED;
      }
    }
    if (!found && isTagKey(payload, partStart, eq === -1 ? partEnd : eq)) {
      found = true;
      let valueStart = eq === -1 ? partEnd : eq + 1;
      let valueEnd = partEnd;
      while (valueStart < valueEnd && payload[valueStart] === SP) valueStart++;
      while (valueEnd > valueStart && payload[valueEnd - 1] === SP) valueEnd--;
      tagSpan.start = valueStart;
      tagSpan.end = valueEnd;
      if (!check) return TAG_FOUND;
    }
    partStart = partEnd + 1;
  }
  return found ? TAG_FOUND : TAG_ABSENT;
}

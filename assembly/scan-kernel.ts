// The byte-scanning kernel, compiled to WebAssembly (npm run build:kernel) and loaded by
// src/scan-kernel/index.ts. In JavaScript every byte of a loop costs a bounds-checked load,
// about 1-3 ns on our machines; here sixteen bytes are tested at a time with SIMD. The kernel
// owns two scratch regions: the caller copies its bytes into the input region, calls a scan,
// and copies out what it needs before the next call. Nothing in here outlives a call.

/** The largest span a scan accepts: the largest payload the HEP decoder hands on (an inflated one). */
export const CAPACITY: i32 = 1 << 20;

// Each region has 16 bytes of slack, so a 16-byte vector load or store that starts inside it
// never leaves it.
const INPUT: usize = memory.data(CAPACITY + 16, 16);
const OUTPUT: usize = memory.data(CAPACITY + 16, 16);

export function inputOffset(): usize {
  return INPUT;
}

export function outputOffset(): usize {
  return OUTPUT;
}

/** How many bytes the last successful unescapeJsonString wrote to the output region. */
export let outputLength: i32 = 0;

function hexValue(byte: u32): i32 {
  if (byte - 0x30 <= 9) return <i32>(byte - 0x30);
  const lower = byte | 0x20;
  return lower - 0x61 <= 5 ? <i32>(lower - 0x61 + 10) : -1;
}

/** The byte a one-character JSON escape stands for (the byte after the backslash), 0 for none. */
function simpleEscape(escape: u32): u32 {
  switch (escape) {
    case 0x22: return 0x22; // \"
    case 0x5c: return 0x5c; // \\
    case 0x2f: return 0x2f; // \/
    case 0x62: return 0x08; // \b
    case 0x66: return 0x0c; // \f
    case 0x6e: return 0x0a; // \n
    case 0x72: return 0x0d; // \r
    case 0x74: return 0x09; // \t
    default: return 0;
  }
}

/**
 * Unescapes the body of a JSON string that starts at input[from] (just after its opening quote)
 * and must end before input[end], into the output region. Accepts only printable ASCII and the
 * escapes \" \\ \/ \b \f \n \r \t and \u00XX below 0x80 (what OpenSIPS writes); returns the
 * offset of the closing quote, or -1 for anything else (control bytes, non-ASCII, other
 * escapes, no closing quote), which the caller hands to a full JSON parser.
 */
export function unescapeJsonString(from: i32, end: i32): i32 {
  if (from < 0 || end > CAPACITY || from > end) return -1;
  const quote = i8x16.splat(0x22);
  const backslash = i8x16.splat(0x5c);
  const space = i8x16.splat(0x20);
  let i = from;
  let n: i32 = 0;
  for (;;) {
    // Runs of plain bytes, sixteen at a time. A signed compare below 0x20 also catches every
    // byte from 0x80 up (negative as i8). The vector is stored whole even when it holds a
    // special byte: the bytes before it are the ones wanted, the rest is overwritten next.
    while (i + 16 <= end) {
      const chunk = v128.load(INPUT + <usize>i);
      const special = v128.or(v128.or(i8x16.lt_s(chunk, space), i8x16.eq(chunk, quote)), i8x16.eq(chunk, backslash));
      v128.store(OUTPUT + <usize>n, chunk);
      const mask = i8x16.bitmask(special);
      if (mask == 0) {
        i += 16;
        n += 16;
        continue;
      }
      const plain = <i32>ctz(mask);
      i += plain;
      n += plain;
      break;
    }
    if (i >= end) return -1;
    const byte = <u32>load<u8>(INPUT + <usize>i);
    if (byte == 0x22) {
      outputLength = n;
      return i;
    }
    if (byte != 0x5c) {
      if (byte < 0x20 || byte >= 0x80) return -1;
      store<u8>(OUTPUT + <usize>n, <u8>byte); // a plain byte of the last, partial vector
      i++;
      n++;
      continue;
    }
    if (i + 1 >= end) return -1;
    const escape = <u32>load<u8>(INPUT + <usize>(i + 1));
    const simple = simpleEscape(escape);
    if (simple != 0) {
      store<u8>(OUTPUT + <usize>n, <u8>simple);
      n++;
      i += 2;
      continue;
    }
    if (escape != 0x75 || i + 6 > end) return -1; // only \uXXXX is left
    const h0 = hexValue(load<u8>(INPUT + <usize>(i + 2)));
    const h1 = hexValue(load<u8>(INPUT + <usize>(i + 3)));
    const h2 = hexValue(load<u8>(INPUT + <usize>(i + 4)));
    const h3 = hexValue(load<u8>(INPUT + <usize>(i + 5)));
    if (h0 != 0 || h1 != 0 || h2 < 0 || h2 > 7 || h3 < 0) return -1; // not below 0x80, or not hex
    store<u8>(OUTPUT + <usize>n, <u8>((h2 << 4) | h3));
    n++;
    i += 6;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// SIP header lines: the first Call-ID, CSeq, From, To and P-Asserted-Identity of a message.
// Same rules as the full header table in src/sip/header-table.ts, which the parser's tests
// compare this with: junk lines are skipped, a blank line ends the headers, names are matched
// ignoring ASCII case, compact forms included.

const CALL_ID: i32 = 0;
const CSEQ: i32 = 1;
const FROM: i32 = 2;
const TO: i32 = 3;
const P_ASSERTED_IDENTITY: i32 = 5;

/** Results of scanHeaders, as i32s: value start and end per header (index = header * 2, -1 when
 *  absent), the folded mask (bit per header whose first line is followed by a line starting
 *  with whitespace), then what was read from the values of the lines recorded by this call
 *  (see readValueDetails); offsets are into the input region. */
const HEADER_RESULTS: usize = memory.data(48 * 4, 16);
export const HEADER_FOLDED_MASK: i32 = 12;
/** Tag of From: TAG_FOUND, TAG_ABSENT or TAG_UNHANDLED, then the value's start and end. */
export const FROM_TAG_STATUS: i32 = 13;
/** Tag of To, as for From (start and end at +1, +2). */
export const TO_TAG_STATUS: i32 = 16;
/** CSeq: CSEQ_SCANNED or CSEQ_UNHANDLED, the number (-1 when not a valid one), the method's
 *  start and end (-1 when there is none) and its index in COMMON_METHODS (-1 when not common). */
export const CSEQ_STATUS: i32 = 19;
/** 1 when every byte of the Call-ID value is ASCII, else 0. */
export const CALL_ID_ASCII: i32 = 24;
/** scanMessage's start line: 1 when read, then request (1) or response (0), the method's start,
 *  end and index in COMMON_METHODS, the Request-URI's start and end, the status code, where the
 *  line's content ends and its LF (both the limit when it has none). */
export const START_LINE_READ: i32 = 25;

export const TAG_FOUND: i32 = 1;
export const TAG_ABSENT: i32 = 0;
export const TAG_UNHANDLED: i32 = -1;
export const CSEQ_SCANNED: i32 = 1;
export const CSEQ_UNHANDLED: i32 = 0;

export function headerResultsOffset(): usize {
  return HEADER_RESULTS;
}

@inline function byteAt(at: i32): u32 {
  return <u32>load<u8>(INPUT + <usize>at);
}

@inline function isSpaceOrTab(byte: u32): bool {
  return byte == 0x20 || byte == 0x09;
}

/** RFC 3261 token bytes: alphanumerics and - . ! % * _ + ` ' ~ */
function isTokenByte(byte: u32): bool {
  if ((byte | 0x20) - 0x61 < 26 || byte - 0x30 < 10) return true;
  switch (byte) {
    case 0x2d: case 0x2e: case 0x21: case 0x25: case 0x2a: case 0x5f: case 0x2b: case 0x60: case 0x27: case 0x7e:
      return true;
    default:
      return false;
  }
}

/** Offset of the first LF in [from, limit), or limit. */
function lineFeedFrom(from: i32, limit: i32): i32 {
  const lf = i8x16.splat(0x0a);
  let i = from;
  while (i + 16 <= limit) {
    const mask = i8x16.bitmask(i8x16.eq(v128.load(INPUT + <usize>i), lf));
    if (mask != 0) return i + <i32>ctz(mask);
    i += 16;
  }
  while (i < limit) {
    if (byteAt(i) == 0x0a) return i;
    i++;
  }
  return limit;
}

/** The byte at `at` with bit 0x20 set (ASCII lower case for letters), or 0xffffffff past `length`. */
@inline function lowerAt(at: i32, length: i32): u32 {
  return at < length ? byteAt(at) | 0x20 : 0xffffffff;
}

/** input[pos + 1, pos + 19) spells "-asserted-identity", ignoring ASCII case. */
function restIsAssertedIdentity(pos: i32, length: i32): bool {
  if (pos + 19 > length) return false;
  const rest = '-asserted-identity';
  for (let k = 0; k < 18; k++) {
    let byte = byteAt(pos + 1 + k);
    if (byte - 0x41 < 26) byte += 0x20;
    if (byte != <u32>rest.charCodeAt(k)) return false;
  }
  return true;
}

/** The known header whose name starts the line at `pos`, as header + 8 * name length, or -1. */
function knownNameAt(pos: i32, length: i32): i32 {
  const first = byteAt(pos) | 0x20;
  let header: i32;
  let nameLength = 1;
  if (first == 0x66) { // f
    header = FROM;
    if (lowerAt(pos + 1, length) == 0x72 && lowerAt(pos + 2, length) == 0x6f && lowerAt(pos + 3, length) == 0x6d) nameLength = 4;
  } else if (first == 0x74) { // t
    header = TO;
    if (lowerAt(pos + 1, length) == 0x6f) nameLength = 2;
  } else if (first == 0x63) { // c
    const second = lowerAt(pos + 1, length);
    if (second == 0x61) {
      if (
        pos + 7 > length ||
        (byteAt(pos + 2) | 0x20) != 0x6c ||
        (byteAt(pos + 3) | 0x20) != 0x6c ||
        byteAt(pos + 4) != 0x2d ||
        (byteAt(pos + 5) | 0x20) != 0x69 ||
        (byteAt(pos + 6) | 0x20) != 0x64
      ) {
        return -1;
      }
      header = CALL_ID;
      nameLength = 7;
    } else if (second == 0x73) {
      if (pos + 4 > length || (byteAt(pos + 2) | 0x20) != 0x65 || (byteAt(pos + 3) | 0x20) != 0x71) return -1;
      header = CSEQ;
      nameLength = 4;
    } else {
      return -1;
    }
  } else if (first == 0x69) { // i
    header = CALL_ID;
  } else if (first == 0x70) { // p
    if (!restIsAssertedIdentity(pos, length)) return -1;
    header = P_ASSERTED_IDENTITY;
    nameLength = 19;
  } else {
    return -1;
  }
  const end = pos + nameLength;
  if (end < length && isTokenByte(byteAt(end))) return -1;
  return header + 8 * nameLength;
}

/** A line starting with this byte may matter: CR, LF, or the first letter of a known name. */
@inline function mayStartKnownLine(byte: u32): bool {
  const lower = byte | 0x20;
  return byte == 0x0d || byte == 0x0a || lower == 0x63 || lower == 0x66 || lower == 0x69 || lower == 0x70 || lower == 0x74;
}

/**
 * Scans the header lines of input[position, length) (position: the start of a header line),
 * recording the first line of each known header in HEADER_RESULTS, until every header in
 * `wanted` (bit per header) has been recorded or the header section ends. Returns where the
 * next line starts in the first case, -1 in the second. Offsets are into the input region.
 */
export function scanHeaders(position: i32, length: i32, wanted: i32): i32 {
  const results = HEADER_RESULTS;
  for (let k = 0; k < 12; k++) store<i32>(results + (<usize>k << 2), -1);
  let folded: i32 = 0;
  let found: i32 = 0;
  let pos = position;
  if (length > CAPACITY) length = CAPACITY;
  while (pos < length) {
    const first = byteAt(pos);
    if (!mayStartKnownLine(first)) {
      pos = lineFeedFrom(pos, length) + 1;
      continue;
    }
    if (first == 0x0a || (first == 0x0d && (pos + 1 == length || byteAt(pos + 1) == 0x0a))) break; // blank line
    let i = pos;
    const match = knownNameAt(pos, length);
    if (match != -1) {
      const header = match & 7;
      const slot = results + (<usize>(header * 2) << 2);
      if (load<i32>(slot) == -1) {
        i = pos + (match >> 3);
        while (i < length && isSpaceOrTab(byteAt(i))) i++;
        if (i < length && byteAt(i) == 0x3a) { // ':'
          i++;
          while (i < length && isSpaceOrTab(byteAt(i))) i++;
          const lf = lineFeedFrom(i, length);
          let valueEnd = lf > pos && byteAt(lf - 1) == 0x0d ? lf - 1 : lf;
          while (valueEnd > i && isSpaceOrTab(byteAt(valueEnd - 1))) valueEnd--;
          store<i32>(slot, i);
          store<i32>(slot + 4, valueEnd);
          readValueDetails(header, i, valueEnd);
          if (lf + 1 < length && isSpaceOrTab(byteAt(lf + 1))) folded |= 1 << header;
          pos = lf + 1;
          found |= 1 << header;
          if ((found & wanted) == wanted && pos < length) {
            store<i32>(results + (<usize>HEADER_FOLDED_MASK << 2), folded);
            return pos;
          }
          continue;
        }
      }
    }
    pos = lineFeedFrom(i, length) + 1;
  }
  store<i32>(results + (<usize>HEADER_FOLDED_MASK << 2), folded);
  return -1;
}

// ---------------------------------------------------------------------------------------------
// What the agent reads from the values of every packet, read while the bytes are here: the tag
// of From and To, the CSeq number and method, whether the Call-ID is ASCII. Same rules as the
// JavaScript fast paths (src/sip/name-addr-bytes.ts scanTagIn, src/sip/cseq.ts scanCSeqInto),
// which stay for messages the kernel does not take; the parser's property tests hold both to
// the general parser's answers.

@inline function setResult(index: i32, value: i32): void {
  store<i32>(HEADER_RESULTS + (<usize>index << 2), value);
}

function readValueDetails(header: i32, start: i32, end: i32): void {
  if (header == FROM) scanTag(FROM_TAG_STATUS, start, end);
  else if (header == TO) scanTag(TO_TAG_STATUS, start, end);
  else if (header == CSEQ) scanCSeq(start, end);
  else if (header == CALL_ID) setResult(CALL_ID_ASCII, isAsciiSpan(start, end) ? 1 : 0);
}

function isAsciiSpan(start: i32, end: i32): bool {
  let bits: u32 = 0;
  for (let i = start; i < end; i++) bits |= byteAt(i);
  return bits < 0x80;
}

/** Bytes the fast path leaves to the general parser: controls (tab included), DEL and non-ASCII, backslash, comma. */
@inline function isUnhandledByte(byte: u32): bool {
  return byte < 0x20 || byte >= 0x7f || byte == 0x5c || byte == 0x2c;
}

/** input[start, end), trimmed of spaces, spells "tag" in any case. */
function isTagKey(start: i32, end: i32): bool {
  let keyStart = start;
  let keyEnd = end;
  while (keyStart < keyEnd && byteAt(keyStart) == 0x20) keyStart++;
  while (keyEnd > keyStart && byteAt(keyEnd - 1) == 0x20) keyEnd--;
  return keyEnd - keyStart == 3 && (byteAt(keyStart) | 0x20) == 0x74 && (byteAt(keyStart + 1) | 0x20) == 0x61 && (byteAt(keyStart + 2) | 0x20) == 0x67;
}

/**
 * The tag parameter among the ';'-separated parameters in input[start, end): the first one
 * whose key is "tag". With `check`, a byte the fast path does not handle anywhere in them makes
 * the answer TAG_UNHANDLED.
 */
function scanTagParameters(result: i32, start: i32, end: i32, check: bool): void {
  let found = false;
  let partStart = start;
  while (partStart <= end) {
    let partEnd = partStart;
    let inQuotes = false;
    let eq = -1;
    while (partEnd < end) {
      const byte = byteAt(partEnd);
      if (byte == 0x22) inQuotes = !inQuotes;
      else if (byte == 0x3b) {
        if (!inQuotes) break;
      } else if (byte == 0x3d) {
        if (eq == -1) eq = partEnd;
      } else if (check && isUnhandledByte(byte)) {
        setResult(result, TAG_UNHANDLED);
        return;
      }
      partEnd++;
    }
    if (!found && isTagKey(partStart, eq == -1 ? partEnd : eq)) {
      found = true;
      let valueStart = eq == -1 ? partEnd : eq + 1;
      let valueEnd = partEnd;
      while (valueStart < valueEnd && byteAt(valueStart) == 0x20) valueStart++;
      while (valueEnd > valueStart && byteAt(valueEnd - 1) == 0x20) valueEnd--;
      setResult(result + 1, valueStart);
      setResult(result + 2, valueEnd);
      if (!check) {
        setResult(result, TAG_FOUND);
        return;
      }
    }
    partStart = partEnd + 1;
  }
  setResult(result, found ? TAG_FOUND : TAG_ABSENT);
}

/** The tag of the name-addr in input[start, end) (a From or To value), as scanTagIn. */
function scanTag(result: i32, start: i32, end: i32): void {
  if (end <= start) {
    setResult(result, TAG_UNHANDLED);
    return;
  }
  let semi = -1;
  let inQuotes = false;
  for (let i = start; i < end; i++) {
    const byte = byteAt(i);
    if (isUnhandledByte(byte)) {
      setResult(result, TAG_UNHANDLED);
      return;
    }
    if (byte == 0x22) {
      inQuotes = !inQuotes;
    } else if (byte == 0x3c) { // '<'
      if (inQuotes) continue;
      let gt = i + 1;
      while (gt < end && byteAt(gt) != 0x3e) gt++;
      if (gt >= end) setResult(result, TAG_ABSENT);
      else scanTagParameters(result, gt + 1, end, true);
      return;
    } else if (byte == 0x3b && semi == -1) {
      semi = i;
    }
  }
  // Without <>, everything after the first ';' is a header parameter (RFC 3261 §20.10).
  if (semi == -1) setResult(result, TAG_ABSENT);
  else scanTagParameters(result, semi, end, false);
}

// The methods the parser returns as shared strings (src/sip/methods.ts COMMON_METHODS, same order).
const COMMON_METHODS: string[] = [
  'INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PRACK', 'UPDATE', 'INFO',
  'SUBSCRIBE', 'NOTIFY', 'REFER', 'MESSAGE', 'PUBLISH',
];

/** Index of input[start, end) in COMMON_METHODS (exact bytes), or -1. */
function commonMethodIndex(start: i32, end: i32): i32 {
  const length = end - start;
  for (let m = 0; m < COMMON_METHODS.length; m++) {
    const method = unchecked(COMMON_METHODS[m]);
    if (method.length != length) continue;
    let k = 0;
    while (k < length && byteAt(start + k) == <u32>method.charCodeAt(k)) k++;
    if (k == length) return m;
  }
  return -1;
}

/** CSeq "<number> <method>" in input[start, end) (a value trimmed of spaces and tabs), as scanCSeqInto. */
function scanCSeq(start: i32, end: i32): void {
  let i = start;
  let number: i64 = 0;
  while (i < end) {
    const byte = byteAt(i);
    if (byte - 0x30 > 9) break;
    if (i - start < 11) number = number * 10 + <i64>(byte - 0x30); // more digits are invalid anyway
    i++;
  }
  const digits = i - start;
  const validNumber = digits > 0 && digits <= 10 && number <= 0x7fffffff;
  const digitsEnd = i;
  while (i < end && isSpaceOrTab(byteAt(i))) i++;
  let methodEnd = i;
  while (methodEnd < end) {
    const byte = byteAt(methodEnd);
    if (isSpaceOrTab(byte)) break;
    if (byte < 0x20 || byte > 0x7e) {
      setResult(CSEQ_STATUS, CSEQ_UNHANDLED);
      return;
    }
    methodEnd++;
  }
  for (let k = methodEnd; k < end; k++) {
    const byte = byteAt(k);
    if ((byte < 0x20 && byte != 0x09) || byte > 0x7e) {
      setResult(CSEQ_STATUS, CSEQ_UNHANDLED);
      return;
    }
  }
  setResult(CSEQ_STATUS, CSEQ_SCANNED);
  setResult(CSEQ_STATUS + 1, validNumber ? <i32>number : -1);
  const hasMethod = digits > 0 && i > digitsEnd && methodEnd > i;
  setResult(CSEQ_STATUS + 2, hasMethod ? i : -1);
  setResult(CSEQ_STATUS + 3, hasMethod ? methodEnd : -1);
  setResult(CSEQ_STATUS + 4, hasMethod ? commonMethodIndex(i, methodEnd) : -1);
}

// ---------------------------------------------------------------------------------------------
// The start line, read before the header lines in the same call: "METHOD URI SIP/x.y" and
// "SIP/x.y CODE[ reason]" with single spaces. Anything else, valid or not, is left to the text
// parser (src/sip/start-line.ts parseStartLine), which decides and words the rejection. Same
// rules as scanStartLineAt there.

@inline function isDigit(byte: u32): bool {
  return byte - 0x30 <= 9;
}

/** Bytes the text parser rejects in a start line: controls but tab, and DEL. */
@inline function isControlByte(byte: u32): bool {
  return (byte < 0x20 && byte != 0x09) || byte == 0x7f;
}

/** Offset just past "SIP/" DIGITS "." DIGITS at `from` (ASCII case-insensitive), or -1. */
function sipVersionEnd(from: i32, end: i32): i32 {
  if (from + 7 > end) return -1;
  if ((byteAt(from) | 0x20) != 0x73 || (byteAt(from + 1) | 0x20) != 0x69 || (byteAt(from + 2) | 0x20) != 0x70) return -1;
  if (byteAt(from + 3) != 0x2f) return -1;
  let i = from + 4;
  const major = i;
  while (i < end && isDigit(byteAt(i))) i++;
  if (i == major || i >= end || byteAt(i) != 0x2e) return -1;
  i++;
  const minor = i;
  while (i < end && isDigit(byteAt(i))) i++;
  return i == minor ? -1 : i;
}

/**
 * Notes where the line ends when the scan meets the byte at `at` (or the limit): an LF, or a CR
 * right before an LF or the limit, ends it; any other byte means the line is not one taken here.
 */
function endLineAt(at: i32, limit: i32): bool {
  const result = START_LINE_READ + 8;
  if (at >= limit) {
    setResult(result, limit);
    setResult(result + 1, limit);
    return true;
  }
  const byte = byteAt(at);
  if (byte == 0x0a) {
    setResult(result, at);
    setResult(result + 1, at);
    return true;
  }
  if (byte != 0x0d) return false;
  if (at + 1 == limit) {
    setResult(result, at);
    setResult(result + 1, limit);
    return true;
  }
  if (byteAt(at + 1) != 0x0a) return false;
  setResult(result, at);
  setResult(result + 1, at + 1);
  return true;
}

function setStartLine(isRequest: bool, methodStart: i32, methodEnd: i32, uriStart: i32, uriEnd: i32, statusCode: i32): void {
  setResult(START_LINE_READ, 1);
  setResult(START_LINE_READ + 1, isRequest ? 1 : 0);
  setResult(START_LINE_READ + 2, methodStart);
  setResult(START_LINE_READ + 3, methodEnd);
  setResult(START_LINE_READ + 4, isRequest ? commonMethodIndex(methodStart, methodEnd) : -1);
  setResult(START_LINE_READ + 5, uriStart);
  setResult(START_LINE_READ + 6, uriEnd);
  setResult(START_LINE_READ + 7, statusCode);
}

function scanStartLine(start: i32, limit: i32): bool {
  const versionEnd = sipVersionEnd(start, limit);
  if (versionEnd != -1) {
    if (versionEnd + 4 > limit || byteAt(versionEnd) != 0x20) return false;
    const c0 = <i32>byteAt(versionEnd + 1) - 0x30;
    const c1 = <i32>byteAt(versionEnd + 2) - 0x30;
    const c2 = <i32>byteAt(versionEnd + 3) - 0x30;
    if (c0 < 1 || c0 > 6 || c1 < 0 || c1 > 9 || c2 < 0 || c2 > 9) return false;
    const after = versionEnd + 4;
    if (after < limit) {
      const byte = byteAt(after);
      if (byte != 0x20 && byte != 0x09 && byte != 0x0a && byte != 0x0d) return false;
    }
    // The reason phrase: its first control byte ends the line or rejects it.
    let i = after;
    while (i < limit && !isControlByte(byteAt(i))) i++;
    if (!endLineAt(i, limit)) return false;
    setStartLine(false, -1, -1, -1, -1, c0 * 100 + c1 * 10 + c2);
    return true;
  }
  // Token, version and separator bytes are never control bytes; only the URI needs checking.
  let i = start;
  while (i < limit && isTokenByte(byteAt(i))) i++;
  const methodEnd = i;
  if (methodEnd == start || i >= limit || byteAt(i) != 0x20) return false;
  const uriStart = i + 1;
  let colon = false;
  for (i = uriStart; i < limit; i++) {
    const byte = byteAt(i);
    if (isSpaceOrTab(byte)) break;
    if (isControlByte(byte)) return false;
    if (byte == 0x3a) colon = true;
  }
  const uriEnd = i;
  if (!colon || i >= limit || byteAt(i) != 0x20) return false;
  const versionAt = sipVersionEnd(i + 1, limit);
  if (versionAt == -1) return false;
  // The version must end the line: only a terminator (or the limit) may follow it.
  if (versionAt < limit && byteAt(versionAt) != 0x0a && byteAt(versionAt) != 0x0d) return false;
  if (!endLineAt(versionAt, limit)) return false;
  setStartLine(true, start, methodEnd, uriStart, uriEnd, -1);
  return true;
}

/**
 * The start line at input[start] and then, when it is one read here, the header lines after it
 * as scanHeaders(wanted) reads them. Returns scanHeaders's answer, or -1 with START_LINE_READ
 * at 0 when the start line is left to the text parser (nothing else is read then).
 */
export function scanMessage(start: i32, length: i32, wanted: i32): i32 {
  if (length > CAPACITY) length = CAPACITY;
  if (!scanStartLine(start, length)) {
    setResult(START_LINE_READ, 0);
    return -1;
  }
  const lineFeed = load<i32>(HEADER_RESULTS + (<usize>(START_LINE_READ + 9) << 2));
  return scanHeaders(lineFeed + 1, length, wanted);
}

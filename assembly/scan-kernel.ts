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

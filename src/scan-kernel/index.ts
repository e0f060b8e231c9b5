// Loads the byte-scanning kernel (assembly/scan-kernel.ts, built to scan-kernel.wasm next to this
// file by `npm run build:kernel`) and wraps it for Buffers: the bytes are copied into the
// kernel's input region, scanned, and what the caller needs is copied out before returning, so
// no Buffer ever points into the kernel's memory and the next call may reuse it.
import { readFileSync } from 'node:fs';

// Header numbers as the kernel and src/sip/known-headers.ts number them.
const CALL_ID = 0;
const CSEQ = 1;
const FROM = 2;
const TO = 3;

interface KernelExports {
  memory: WebAssembly.Memory;
  CAPACITY: WebAssembly.Global;
  outputLength: WebAssembly.Global;
  inputOffset(): number;
  outputOffset(): number;
  unescapeJsonString(from: number, end: number): number;
  headerResultsOffset(): number;
  scanHeaders(position: number, length: number, wanted: number): number;
  scanMessage(start: number, length: number, wanted: number): number;
}

// Where scanHeaders leaves its results (i32 indexes into the results area): the value spans at
// header * 2, then these, as assembly/scan-kernel.ts lays them out. Read from the module's own
// exports at load, so a rebuilt kernel with another layout cannot be misread.
const RESULT_INDEXES = ['HEADER_FOLDED_MASK', 'FROM_TAG_STATUS', 'TO_TAG_STATUS', 'CSEQ_STATUS', 'CALL_ID_ASCII', 'START_LINE_READ'] as const;
type ResultIndexName = (typeof RESULT_INDEXES)[number];
/** Size of the results area, in i32s (assembly/scan-kernel.ts HEADER_RESULTS). */
const RESULT_SLOTS = 48;

/** A tag status left by the kernel (the same values as name-addr-bytes.ts's TAG_*). */
export const TAG_FOUND = 1;
export const TAG_ABSENT = 0;
export const TAG_UNHANDLED = -1;
/** CSeq status: read by the kernel, or to be read by the JavaScript fallback. */
export const CSEQ_SCANNED = 1;
export const CSEQ_UNHANDLED = 0;
/** A status for a header value the kernel has not read (the header was found some other way). */
export const NOT_SCANNED = -2;

/**
 * Where scanHeaderLines writes what it found; offsets are into the scanned buffer. The value
 * details are written only for the headers it records, and stay NOT_SCANNED otherwise.
 */
export interface KnownHeaderScan {
  /** Value start and end per header (at header * 2), -1 when not found yet. */
  readonly spans: number[];
  /** Bit per header whose first line is followed by a line starting with whitespace. */
  foldedMask: number;
  /** Tag of From: TAG_FOUND (its value at [fromTagStart, fromTagEnd)), TAG_ABSENT, TAG_UNHANDLED. */
  fromTagStatus: number;
  fromTagStart: number;
  fromTagEnd: number;
  toTagStatus: number;
  toTagStart: number;
  toTagEnd: number;
  /** CSEQ_SCANNED, then the number (-1: none valid), the method span (-1: none) and its index in COMMON_METHODS (-1: not common). */
  cseqStatus: number;
  cseqNumber: number;
  cseqMethodStart: number;
  cseqMethodEnd: number;
  cseqMethodIndex: number;
  /** 1 when the Call-ID value is all ASCII, 0 when not. */
  callIdAscii: number;
}

function isKernelExports(exports: WebAssembly.Exports): exports is WebAssembly.Exports & KernelExports {
  return (
    exports.memory instanceof WebAssembly.Memory &&
    exports.CAPACITY instanceof WebAssembly.Global &&
    exports.outputLength instanceof WebAssembly.Global &&
    typeof exports.inputOffset === 'function' &&
    typeof exports.outputOffset === 'function' &&
    typeof exports.unescapeJsonString === 'function' &&
    typeof exports.headerResultsOffset === 'function' &&
    typeof exports.scanHeaders === 'function' &&
    typeof exports.scanMessage === 'function' &&
    RESULT_INDEXES.every((name) => exports[name] instanceof WebAssembly.Global)
  );
}

/** Where unescapeJsonString leaves the closing quote it found (an offset into the caller's buffer). */
export interface JsonStringText {
  /** The unescaped bytes, in a Buffer of their own. */
  text: Buffer;
  /** Offset of the string's closing quote in the scanned buffer. */
  closingQuote: number;
}

/** What scanHeaderLines and scanMessage return for a message longer than the kernel's capacity. */
export const TOO_LONG = -2;
/** What scanMessage returns when the start line is not one the kernel reads (the text parser decides). */
export const START_LINE_UNREAD = -3;

/** Where scanMessage writes the start line it read; offsets are into the scanned buffer. */
export interface StartLineScan {
  isRequest: boolean;
  /** Method span and its index in COMMON_METHODS (-1: not common); -1 for a response. */
  methodStart: number;
  methodEnd: number;
  methodIndex: number;
  /** Request-URI span; -1 for a response. */
  uriStart: number;
  uriEnd: number;
  /** Status code; -1 for a request. */
  statusCode: number;
  /** Where the line's content ends (terminator excluded) and its LF (the limit when it has none). */
  lineEnd: number;
  lineFeed: number;
}

export class ScanKernel {
  /** The largest span one call can scan. */
  readonly capacity: number;
  private readonly exports: KernelExports;
  // A Buffer over the kernel's memory, made once: its memory never grows (the regions are static
  // data), so the view stays valid.
  private readonly memory: Buffer;
  private readonly bytes: Uint8Array;
  private readonly input: number;
  private readonly output: number;
  private readonly headerResults: Int32Array;
  private readonly foldedMaskIndex: number;
  private readonly fromTagIndex: number;
  private readonly toTagIndex: number;
  private readonly cseqIndex: number;
  private readonly callIdAsciiIndex: number;
  private readonly startLineIndex: number;

  constructor(module: WebAssembly.Module) {
    const exports = new WebAssembly.Instance(module, {}).exports;
    if (!isKernelExports(exports)) throw new Error('scan-kernel.wasm does not export what the scan kernel needs; rebuild it with npm run build:kernel');
    this.exports = exports;
    this.capacity = Number(exports.CAPACITY.value);
    this.memory = Buffer.from(exports.memory.buffer);
    this.bytes = new Uint8Array(exports.memory.buffer);
    this.input = exports.inputOffset();
    this.output = exports.outputOffset();
    this.headerResults = new Int32Array(exports.memory.buffer, exports.headerResultsOffset(), RESULT_SLOTS);
    const index = (name: ResultIndexName): number => {
      const value: unknown = (exports[name] as WebAssembly.Global).value;
      if (typeof value !== 'number' || value < 12 || value >= RESULT_SLOTS - 9) throw new Error(`scan-kernel.wasm: result index ${name} is out of range`);
      return value;
    };
    this.foldedMaskIndex = index('HEADER_FOLDED_MASK');
    this.fromTagIndex = index('FROM_TAG_STATUS');
    this.toTagIndex = index('TO_TAG_STATUS');
    this.cseqIndex = index('CSEQ_STATUS');
    this.callIdAsciiIndex = index('CALL_ID_ASCII');
    this.startLineIndex = index('START_LINE_READ');
  }

  /**
   * Copies the bytes holding [from, limit) into the input region and returns what to subtract
   * from an offset into `bytes` to get the kernel's offset, or -1 when the span is too long.
   * A buffer that fits is copied whole: TypedArray#set of a whole array costs a third of
   * Buffer#copy of a span (which first makes a view of it).
   */
  private load(bytes: Buffer, from: number, limit: number): number {
    if (bytes.length <= this.capacity) {
      this.bytes.set(bytes, this.input);
      return 0;
    }
    if (limit - from > this.capacity) return -1;
    bytes.copy(this.memory, this.input, from, limit);
    return from;
  }

  /**
   * Scans the SIP header lines of bytes[position, limit) (position: the start of a header line;
   * the message starts at `from` <= position) until every header in `wanted` (bit per header)
   * has been seen, or the header section ends. The first Call-ID, CSeq, From, To and
   * P-Asserted-Identity lines seen are recorded in `into` where it has none yet, with what the
   * kernel read from their values. Returns where the next line starts when every wanted header
   * was seen, -1 when the header section ended, TOO_LONG (touching nothing) when the message is
   * longer than the kernel's capacity.
   */
  scanHeaderLines(bytes: Buffer, from: number, position: number, limit: number, wanted: number, into: KnownHeaderScan): number {
    const base = this.load(bytes, from, limit);
    if (base < 0) return TOO_LONG;
    return this.readHeaderResults(this.exports.scanHeaders(position - base, limit - base, wanted), base, into);
  }

  /**
   * The start line at bytes[start] and, when the kernel reads it, the header lines after it as
   * scanHeaderLines(wanted) reads them, in one call. Returns scanHeaderLines's answer, TOO_LONG,
   * or START_LINE_UNREAD (nothing written) when the start line is left to the text parser.
   */
  scanMessage(bytes: Buffer, from: number, start: number, limit: number, wanted: number, into: KnownHeaderScan, line: StartLineScan): number {
    const base = this.load(bytes, from, limit);
    if (base < 0) return TOO_LONG;
    const next = this.exports.scanMessage(start - base, limit - base, wanted);
    const results = this.headerResults;
    const at = this.startLineIndex;
    if (results[at] !== 1) return START_LINE_UNREAD;
    const isRequest = results[at + 1] === 1;
    line.isRequest = isRequest;
    line.methodStart = isRequest ? results[at + 2] + base : -1;
    line.methodEnd = isRequest ? results[at + 3] + base : -1;
    line.methodIndex = results[at + 4];
    line.uriStart = isRequest ? results[at + 5] + base : -1;
    line.uriEnd = isRequest ? results[at + 6] + base : -1;
    line.statusCode = results[at + 7];
    line.lineEnd = results[at + 8] + base;
    line.lineFeed = results[at + 9] + base;
    return this.readHeaderResults(next, base, into);
  }

  /** Copies what scanHeaders left into `into` (see scanHeaderLines); returns `next` as an offset into the buffer. */
  private readHeaderResults(next: number, base: number, into: KnownHeaderScan): number {
    const results = this.headerResults;
    const spans = into.spans;
    let taken = 0;
    for (let header = 0; header < 6; header++) {
      const slot = header * 2;
      const start = results[slot];
      if (start === -1 || spans[slot] !== -1) continue;
      spans[slot] = start + base;
      spans[slot + 1] = results[slot + 1] + base;
      taken |= 1 << header;
    }
    into.foldedMask |= results[this.foldedMaskIndex] & taken;
    if ((taken & (1 << CALL_ID)) !== 0) into.callIdAscii = results[this.callIdAsciiIndex];
    if ((taken & (1 << FROM)) !== 0) {
      const at = this.fromTagIndex;
      into.fromTagStatus = results[at];
      into.fromTagStart = results[at + 1] + base;
      into.fromTagEnd = results[at + 2] + base;
    }
    if ((taken & (1 << TO)) !== 0) {
      const at = this.toTagIndex;
      into.toTagStatus = results[at];
      into.toTagStart = results[at + 1] + base;
      into.toTagEnd = results[at + 2] + base;
    }
    if ((taken & (1 << CSEQ)) !== 0) {
      const at = this.cseqIndex;
      into.cseqStatus = results[at];
      into.cseqNumber = results[at + 1];
      const methodStart = results[at + 2];
      into.cseqMethodStart = methodStart === -1 ? -1 : methodStart + base;
      into.cseqMethodEnd = methodStart === -1 ? -1 : results[at + 3] + base;
      into.cseqMethodIndex = results[at + 4];
    }
    return next === -1 ? -1 : next + base;
  }

  /**
   * The body of the JSON string that opens at bytes[from] (just after the quote) and closes
   * before bytes[end], unescaped; null when it holds anything beyond printable ASCII and the
   * escapes OpenSIPS writes (the caller then asks a full JSON parser), or is longer than capacity.
   */
  unescapeJsonString(bytes: Buffer, from: number, end: number): JsonStringText | null {
    if (end < from) return null;
    const base = this.load(bytes, from, end);
    if (base < 0) return null;
    const closing = this.exports.unescapeJsonString(from - base, end - base);
    if (closing < 0) return null;
    const textLength = Number(this.exports.outputLength.value);
    const text = Buffer.allocUnsafe(textLength);
    this.memory.copy(text, 0, this.output, this.output + textLength);
    return { text, closingQuote: closing + base };
  }
}

/** Compiles the kernel shipped next to this module (synchronously: it is a few kilobytes). */
export function loadScanKernel(): ScanKernel {
  const binary = readFileSync(new URL('./scan-kernel.wasm', import.meta.url));
  return new ScanKernel(new WebAssembly.Module(binary));
}

let shared: ScanKernel | null = null;

/**
 * The kernel the HEP decoder and the SIP parser share (one per thread). It holds no state from
 * one call to the next, only scratch memory, so sharing it is safe; one instance keeps that
 * memory (2 MiB) allocated once.
 */
export function sharedScanKernel(): ScanKernel {
  if (shared === null) shared = loadScanKernel();
  return shared;
}

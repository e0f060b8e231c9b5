// Loads the byte-scanning kernel (assembly/scan-kernel.ts, built to scan-kernel.wasm next to this
// file by `npm run build:kernel`) and wraps it for Buffers: the bytes are copied into the
// kernel's input region, scanned, and what the caller needs is copied out before returning, so
// no Buffer ever points into the kernel's memory and the next call may reuse it.
import { readFileSync } from 'node:fs';

interface KernelExports {
  memory: WebAssembly.Memory;
  CAPACITY: WebAssembly.Global;
  outputLength: WebAssembly.Global;
  inputOffset(): number;
  outputOffset(): number;
  unescapeJsonString(from: number, end: number): number;
  headerResultsOffset(): number;
  HEADER_FOLDED_MASK: WebAssembly.Global;
  scanHeaders(position: number, length: number, wanted: number): number;
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
    exports.HEADER_FOLDED_MASK instanceof WebAssembly.Global &&
    typeof exports.scanHeaders === 'function'
  );
}

/** Where unescapeJsonString leaves the closing quote it found (an offset into the caller's buffer). */
export interface JsonStringText {
  /** The unescaped bytes, in a Buffer of their own. */
  text: Buffer;
  /** Offset of the string's closing quote in the scanned buffer. */
  closingQuote: number;
}

/** What scanHeaderLines returns for a message longer than the kernel's capacity. */
export const TOO_LONG = -2;

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
  /** Set by scanHeaderLines: bit per header it wrote whose line is followed by one starting with whitespace. */
  foldedMask = 0;

  constructor(module: WebAssembly.Module) {
    const exports = new WebAssembly.Instance(module, {}).exports;
    if (!isKernelExports(exports)) throw new Error('scan-kernel.wasm does not export what the scan kernel needs; rebuild it with npm run build:kernel');
    this.exports = exports;
    this.capacity = Number(exports.CAPACITY.value);
    this.memory = Buffer.from(exports.memory.buffer);
    this.bytes = new Uint8Array(exports.memory.buffer);
    this.input = exports.inputOffset();
    this.output = exports.outputOffset();
    this.headerResults = new Int32Array(exports.memory.buffer, exports.headerResultsOffset(), 16);
    this.foldedMaskIndex = Number(exports.HEADER_FOLDED_MASK.value);
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
   * has been seen, or the header section ends. The value span of the first Call-ID, CSeq,
   * From, To and P-Asserted-Identity line seen is written into `spans` (start and end at
   * header * 2) where `spans` has none yet (-1), and foldedMask tells which of those lines are
   * followed by one starting with whitespace. Returns where the next line starts when every
   * wanted header was seen, -1 when the header section ended, TOO_LONG (touching nothing) when
   * the message is longer than the kernel's capacity.
   */
  scanHeaderLines(bytes: Buffer, from: number, position: number, limit: number, wanted: number, spans: number[]): number {
    const base = this.load(bytes, from, limit);
    if (base < 0) return TOO_LONG;
    const next = this.exports.scanHeaders(position - base, limit - base, wanted);
    const results = this.headerResults;
    const folded = results[this.foldedMaskIndex];
    let taken = 0;
    for (let header = 0; header < 6; header++) {
      const slot = header * 2;
      const start = results[slot];
      if (start === -1 || spans[slot] !== -1) continue;
      spans[slot] = start + base;
      spans[slot + 1] = results[slot + 1] + base;
      taken |= 1 << header;
    }
    this.foldedMask = folded & taken;
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

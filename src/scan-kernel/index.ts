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
}

function isKernelExports(exports: WebAssembly.Exports): exports is WebAssembly.Exports & KernelExports {
  return (
    exports.memory instanceof WebAssembly.Memory &&
    exports.CAPACITY instanceof WebAssembly.Global &&
    exports.outputLength instanceof WebAssembly.Global &&
    typeof exports.inputOffset === 'function' &&
    typeof exports.outputOffset === 'function' &&
    typeof exports.unescapeJsonString === 'function'
  );
}

/** Where unescapeJsonString leaves the closing quote it found (an offset into the caller's buffer). */
export interface JsonStringText {
  /** The unescaped bytes, in a Buffer of their own. */
  text: Buffer;
  /** Offset of the string's closing quote in the scanned buffer. */
  closingQuote: number;
}

export class ScanKernel {
  /** The largest span one call can scan. */
  readonly capacity: number;
  private readonly exports: KernelExports;
  // A Buffer over the kernel's memory, made once: its memory never grows (the regions are static
  // data), so the view stays valid.
  private readonly memory: Buffer;
  private readonly input: number;
  private readonly output: number;

  constructor(module: WebAssembly.Module) {
    const exports = new WebAssembly.Instance(module, {}).exports;
    if (!isKernelExports(exports)) throw new Error('scan-kernel.wasm does not export what the scan kernel needs; rebuild it with npm run build:kernel');
    this.exports = exports;
    this.capacity = Number(exports.CAPACITY.value);
    this.memory = Buffer.from(exports.memory.buffer);
    this.input = exports.inputOffset();
    this.output = exports.outputOffset();
  }

  /**
   * The body of the JSON string that opens at bytes[from] (just after the quote) and closes
   * before bytes[end], unescaped; null when it holds anything beyond printable ASCII and the
   * escapes OpenSIPS writes (the caller then asks a full JSON parser), or is longer than capacity.
   */
  unescapeJsonString(bytes: Buffer, from: number, end: number): JsonStringText | null {
    const length = end - from;
    if (length < 0 || length > this.capacity) return null;
    bytes.copy(this.memory, this.input, from, end);
    const closing = this.exports.unescapeJsonString(0, length);
    if (closing < 0) return null;
    const textLength = Number(this.exports.outputLength.value);
    const text = Buffer.allocUnsafe(textLength);
    this.memory.copy(text, 0, this.output, this.output + textLength);
    return { text, closingQuote: from + closing };
  }
}

/** Compiles the kernel shipped next to this module (synchronously: it is a few hundred bytes). */
export function loadScanKernel(): ScanKernel {
  const binary = readFileSync(new URL('./scan-kernel.wasm', import.meta.url));
  return new ScanKernel(new WebAssembly.Module(binary));
}

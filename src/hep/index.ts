// HEP capture protocol: message decoder (UDP datagrams, framed TCP messages) and TCP stream framer.
export type { DecodedHep, HepDecodeError, HepDecodeResult, HepErrorReason, HepMessage } from './types.ts';
export { decodeHep } from './decode.ts';
export { HepStreamFramer, type HepFrameResult, type HepStreamFramerOptions } from './framer.ts';

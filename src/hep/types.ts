// Public shapes of the HEP decoder (agreed cross-team interface "(4) HEP").

export type HepErrorReason =
  | 'empty'
  | 'truncated'
  | 'bad_magic'
  | 'bad_length'
  | 'bad_chunk'
  | 'unsupported_version'
  | 'no_payload'
  | 'bad_compression'
  | 'bad_json_payload';

export interface HepDecodeError {
  reason: HepErrorReason;
  detail: string;
}

export interface HepMessage {
  version: 1 | 2 | 3;
  ipFamily: 4 | 6 | null;
  ipProtocol: number | null;
  srcIp: string | null;
  dstIp: string | null;
  srcPort: number | null;
  dstPort: number | null;
  /** Capture time from HEP (s*1e6+us); null when the packet has none (or both fields are zero). */
  timestampMicros: number | null;
  /** Chunk 0x000b; 1 = SIP. HEPv1/v2 can only carry SIP, so they report 1. */
  payloadType: number | null;
  captureId: number | null;
  authKey: string | null;
  correlationId: string | null;
  /** Chunk 0x0013 as sent; null when absent (no fallback to the capture id here). */
  nodeName: string | null;
  /** Captured payload (decompressed, JSON-unwrapped): SIP text for payloadType 1. */
  payload: Buffer;
}

/**
 * What the decoder returns: a HepMessage that also says where its payload lies, as
 * payloadBytes[payloadStart, payloadEnd) (the packet itself unless the payload was inflated or
 * unwrapped). `payload` is a view made on first access; a parser given the span needs none.
 */
export interface DecodedHep extends HepMessage {
  readonly payloadBytes: Buffer;
  readonly payloadStart: number;
  readonly payloadEnd: number;
  /**
   * Whether the correlation id chunk holds exactly the bytes bytes[start, end) (false without
   * the chunk). Kamailio and OpenSIPS send the Call-ID there: a caller holding the Call-ID can
   * then assign it as the correlation id instead of decoding the same text a second time.
   */
  correlationIdEquals(bytes: Buffer, start: number, end: number): boolean;
}

export type HepDecodeResult = { ok: true; message: DecodedHep } | { ok: false; error: HepDecodeError };

export function hepFailure(reason: HepErrorReason, detail: string): HepDecodeResult {
  return { ok: false, error: { reason, detail } };
}

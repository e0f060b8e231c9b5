// The decoded HEP message. The numbers are read while the chunks are walked (they cost nothing
// to keep); the text fields (addresses, correlation id, node name, auth key) are only located
// then, and turned into strings on first access, because building them costs more than the
// rest of the decode and the per-packet path reads at most one or two of them. Each is cached,
// so every access after the first returns the same string.
//
// The offsets point into the packet, which the message keeps (the payload is already a view of
// it): the bytes must not be overwritten while the message is in use, as for the payload.
import { utf8Text } from './bytes.ts';
import { formatIpv4, formatIpv6 } from './ip-format.ts';
import type { DecodedHep, HepMessage } from './types.ts';

/**
 * Where the lazily decoded text fields lie (`start` is -1 when the packet has none). The decoders
 * fill one shared instance (reset() first) and the message copies it, so a decode allocates no
 * extra object for them.
 */
export class TextSpans {
  srcIpStart = -1;
  /** 4 (IPv4) or 16 (IPv6) bytes. */
  srcIpSize = 0;
  dstIpStart = -1;
  dstIpSize = 0;
  authKeyStart = -1;
  authKeyEnd = -1;
  correlationIdStart = -1;
  correlationIdEnd = -1;
  nodeNameStart = -1;
  nodeNameEnd = -1;

  reset(): void {
    this.srcIpStart = -1;
    this.srcIpSize = 0;
    this.dstIpStart = -1;
    this.dstIpSize = 0;
    this.authKeyStart = -1;
    this.authKeyEnd = -1;
    this.correlationIdStart = -1;
    this.correlationIdEnd = -1;
    this.nodeNameStart = -1;
    this.nodeNameEnd = -1;
  }
}

/** The instance the decoders fill; read only by the DecodedHepMessage constructor. */
export const scannedText = new TextSpans();

function ipText(packet: Buffer, start: number, size: number): string | null {
  if (start === -1) return null;
  return size === 4 ? formatIpv4(packet, start) : formatIpv6(packet, start);
}

function textOf(packet: Buffer, start: number, end: number): string | null {
  return start === -1 ? null : utf8Text(packet, start, end);
}

/**
 * HepMessage with its text fields decoded on demand. One class with fixed fields (undefined =
 * not decoded yet) keeps property access monomorphic. Setters keep the fields assignable, as
 * the interface has them.
 */
export class DecodedHepMessage implements DecodedHep {
  version: 1 | 2 | 3;
  ipFamily: 4 | 6 | null;
  ipProtocol: number | null;
  srcPort: number | null;
  dstPort: number | null;
  timestampMicros: number | null;
  payloadType: number | null;
  captureId: number | null;
  payloadBytes: Buffer;
  payloadStart: number;
  payloadEnd: number;
  private payloadView: Buffer | undefined = undefined;
  private readonly packet: Buffer;
  private readonly srcIpStart: number;
  private readonly srcIpSize: number;
  private readonly dstIpStart: number;
  private readonly dstIpSize: number;
  private readonly authKeyStart: number;
  private readonly authKeyEnd: number;
  private readonly correlationIdStart: number;
  private readonly correlationIdEnd: number;
  private readonly nodeNameStart: number;
  private readonly nodeNameEnd: number;
  private srcIpText: string | null | undefined = undefined;
  private dstIpText: string | null | undefined = undefined;
  private authKeyText: string | null | undefined = undefined;
  private correlationIdText: string | null | undefined = undefined;
  private nodeNameText: string | null | undefined = undefined;

  constructor(
    packet: Buffer,
    spans: TextSpans,
    version: 1 | 2 | 3,
    ipFamily: 4 | 6 | null,
    ipProtocol: number | null,
    srcPort: number | null,
    dstPort: number | null,
    timestampMicros: number | null,
    payloadType: number | null,
    captureId: number | null,
    payloadBytes: Buffer,
    payloadStart: number,
    payloadEnd: number,
  ) {
    this.packet = packet;
    this.srcIpStart = spans.srcIpStart;
    this.srcIpSize = spans.srcIpSize;
    this.dstIpStart = spans.dstIpStart;
    this.dstIpSize = spans.dstIpSize;
    this.authKeyStart = spans.authKeyStart;
    this.authKeyEnd = spans.authKeyEnd;
    this.correlationIdStart = spans.correlationIdStart;
    this.correlationIdEnd = spans.correlationIdEnd;
    this.nodeNameStart = spans.nodeNameStart;
    this.nodeNameEnd = spans.nodeNameEnd;
    this.version = version;
    this.ipFamily = ipFamily;
    this.ipProtocol = ipProtocol;
    this.srcPort = srcPort;
    this.dstPort = dstPort;
    this.timestampMicros = timestampMicros;
    this.payloadType = payloadType;
    this.captureId = captureId;
    this.payloadBytes = payloadBytes;
    this.payloadStart = payloadStart;
    this.payloadEnd = payloadEnd;
  }

  /** A view of payloadBytes made on first access (creating one costs as much as the rest of the decode). */
  get payload(): Buffer {
    if (this.payloadView === undefined) {
      const bytes = this.payloadBytes;
      this.payloadView = this.payloadStart === 0 && this.payloadEnd === bytes.length ? bytes : bytes.subarray(this.payloadStart, this.payloadEnd);
    }
    return this.payloadView;
  }

  /** Replacing the payload makes it the whole span. */
  set payload(value: Buffer) {
    this.payloadView = value;
    this.payloadBytes = value;
    this.payloadStart = 0;
    this.payloadEnd = value.length;
  }

  get srcIp(): string | null {
    if (this.srcIpText === undefined) this.srcIpText = ipText(this.packet, this.srcIpStart, this.srcIpSize);
    return this.srcIpText;
  }

  set srcIp(value: string | null) {
    this.srcIpText = value;
  }

  get dstIp(): string | null {
    if (this.dstIpText === undefined) this.dstIpText = ipText(this.packet, this.dstIpStart, this.dstIpSize);
    return this.dstIpText;
  }

  set dstIp(value: string | null) {
    this.dstIpText = value;
  }

  get authKey(): string | null {
    if (this.authKeyText === undefined) this.authKeyText = textOf(this.packet, this.authKeyStart, this.authKeyEnd);
    return this.authKeyText;
  }

  set authKey(value: string | null) {
    this.authKeyText = value;
  }

  get correlationId(): string | null {
    if (this.correlationIdText === undefined) {
      this.correlationIdText = textOf(this.packet, this.correlationIdStart, this.correlationIdEnd);
    }
    return this.correlationIdText;
  }

  set correlationId(value: string | null) {
    this.correlationIdText = value;
  }

  correlationIdEquals(bytes: Buffer, start: number, end: number): boolean {
    const chunkStart = this.correlationIdStart;
    if (chunkStart === -1 || this.correlationIdEnd - chunkStart !== end - start) return false;
    const packet = this.packet;
    for (let i = 0; i < end - start; i++) {
      if (packet[chunkStart + i] !== bytes[start + i]) return false;
    }
    return true;
  }

  get nodeName(): string | null {
    if (this.nodeNameText === undefined) this.nodeNameText = textOf(this.packet, this.nodeNameStart, this.nodeNameEnd);
    return this.nodeNameText;
  }

  set nodeName(value: string | null) {
    this.nodeNameText = value;
  }

  /** The fields of HepMessage as a plain object (what JSON, spreading and logging see). */
  toJSON(): HepMessage {
    return {
      version: this.version,
      ipFamily: this.ipFamily,
      ipProtocol: this.ipProtocol,
      srcIp: this.srcIp,
      dstIp: this.dstIp,
      srcPort: this.srcPort,
      dstPort: this.dstPort,
      timestampMicros: this.timestampMicros,
      payloadType: this.payloadType,
      captureId: this.captureId,
      authKey: this.authKey,
      correlationId: this.correlationId,
      nodeName: this.nodeName,
      payload: this.payload,
    };
  }
}

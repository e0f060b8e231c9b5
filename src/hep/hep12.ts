// HEPv1/HEPv2 decoder (spec hep.md §1). Fixed header: version, header length (16 for IPv4, 40 for
// IPv6; it covers the addresses only), address family, IP protocol, ports (BE), addresses. v2 adds
// a 12-byte time block (u32 seconds, u32 microseconds, u16 capture id, 2 pad bytes) which Kamailio
// writes little-endian. There is no total length: the payload runs to the end of the datagram.
import { u16be, u16le, u32be, u32le } from './bytes.ts';
import { DecodedHepMessage, scannedText } from './message.ts';
import { hepFailure, type HepDecodeResult } from './types.ts';

const IPV4_HEADER_BYTES = 16;
const IPV6_HEADER_BYTES = 40;
const V2_TIME_BLOCK_BYTES = 12;
const PROTOCOL_TYPE_SIP = 1;

export function decodeHep12(packet: Buffer): HepDecodeResult {
  const version = packet[0];
  if (version !== 1 && version !== 2) return hepFailure('unsupported_version', `HEP version byte ${version}`);
  if (packet.length < 2) return hepFailure('truncated', `HEPv${version} header needs at least 16 bytes, got ${packet.length}`);

  const headerLength = packet[1];
  if (headerLength !== IPV4_HEADER_BYTES && headerLength !== IPV6_HEADER_BYTES) {
    return hepFailure('bad_length', `HEPv${version} header length ${headerLength} is neither 16 (IPv4) nor 40 (IPv6)`);
  }
  const fixedBytes = headerLength + (version === 2 ? V2_TIME_BLOCK_BYTES : 0);
  if (packet.length < fixedBytes) {
    return hepFailure('truncated', `HEPv${version} header needs ${fixedBytes} bytes, got ${packet.length}`);
  }

  // The family byte is the sender OS's raw AF value (10, 28, 30 ... for IPv6), so the header
  // length, which fixes the address size, is what decides.
  const ipv6 = headerLength === IPV6_HEADER_BYTES;
  const addressBytes = ipv6 ? 16 : 4;

  let timestampMicros: number | null = null;
  let captureId: number | null = null;
  if (version === 2) {
    const time = readV2TimeBlock(packet, headerLength);
    timestampMicros = time.timestampMicros;
    captureId = time.captureId;
  }

  // Leading NULs cover a misjudged pad; trailing NULs are what OpenSIPS's v1/v2 builder appends.
  let payloadStart = fixedBytes;
  let payloadEnd = packet.length;
  while (payloadStart < payloadEnd && packet[payloadStart] === 0) payloadStart++;
  while (payloadEnd > payloadStart && packet[payloadEnd - 1] === 0) payloadEnd--;
  if (payloadStart === payloadEnd) return hepFailure('no_payload', `HEPv${version} datagram carries no payload`);

  // The addresses are formatted on first access (see message.ts).
  const text = scannedText;
  text.reset();
  text.srcIpStart = 8;
  text.srcIpSize = addressBytes;
  text.dstIpStart = 8 + addressBytes;
  text.dstIpSize = addressBytes;
  const message = new DecodedHepMessage(
    packet, text, version, ipv6 ? 6 : 4, packet[3], u16be(packet, 4), u16be(packet, 6), timestampMicros, PROTOCOL_TYPE_SIP,
    captureId, packet, payloadStart, payloadEnd,
  );
  return { ok: true, message };
}

/** Little-endian per Kamailio and OpenSIPS on x86/ARM; other parsers read it big-endian, so a
 *  sender that did the same is recognised by which microsecond count is a valid fraction. */
function readV2TimeBlock(packet: Buffer, offset: number): { timestampMicros: number | null; captureId: number } {
  let seconds = u32le(packet, offset);
  let micros = u32le(packet, offset + 4);
  let captureId = u16le(packet, offset + 8);
  if (micros > 999_999) {
    const bigEndianMicros = u32be(packet, offset + 4);
    if (bigEndianMicros <= 999_999) {
      seconds = u32be(packet, offset);
      micros = bigEndianMicros;
      captureId = u16be(packet, offset + 8);
    } else {
      micros = 999_999;
    }
  }
  const timestampMicros = seconds === 0 && micros === 0 ? null : seconds * 1_000_000 + micros;
  return { timestampMicros, captureId };
}


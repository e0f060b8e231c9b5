// HEPv3 decoder (spec hep.md §2): "HEP3", u16 total length, then back-to-back chunks of
// vendor u16 / type u16 / length u16 (header included) / value, all big-endian, in any order.
import { HEP3_CHUNK_HEADER_BYTES, HEP3_HEADER_BYTES, u16be, u32be } from './bytes.ts';
import { DecodedHepMessage, scannedText } from './message.ts';
import { inflatePayload, looksJsonWrapped, unwrapJsonPayload } from './payload.ts';
import { hepFailure, type HepDecodeResult } from './types.ts';

const CHUNK_IP_FAMILY = 0x0001;
const CHUNK_IP_PROTOCOL = 0x0002;
const CHUNK_IPV4_SRC = 0x0003;
const CHUNK_IPV4_DST = 0x0004;
const CHUNK_IPV6_SRC = 0x0005;
const CHUNK_IPV6_DST = 0x0006;
const CHUNK_SRC_PORT = 0x0007;
const CHUNK_DST_PORT = 0x0008;
const CHUNK_TIME_SECONDS = 0x0009;
const CHUNK_TIME_MICROS = 0x000a;
const CHUNK_PROTOCOL_TYPE = 0x000b;
const CHUNK_CAPTURE_ID = 0x000c;
const CHUNK_AUTH_KEY = 0x000e;
const CHUNK_PAYLOAD = 0x000f;
const CHUNK_COMPRESSED_PAYLOAD = 0x0010;
const CHUNK_CORRELATION_ID = 0x0011;
const CHUNK_NODE_NAME = 0x0013;

/** Only SIP payloads (or payloads of unknown type) may be OpenSIPS's JSON wrapper around SIP text;
 *  JSON protocol types (RTCP, QoS reports, LOG) carry JSON as the payload itself. */
const PROTOCOL_TYPE_SIP = 1;

/** The address chunks decide (0x0001 is the sender OS's raw AF value); without them, AF_INET (2)
 *  and AF_INET6 as Linux (10), FreeBSD (28), macOS (30) and other BSDs (24) number it. */
function resolveIpFamily(sawIpv4: boolean, sawIpv6: boolean, familyValue: number | null): 4 | 6 | null {
  if (sawIpv6) return 6;
  if (sawIpv4) return 4;
  if (familyValue === 2) return 4;
  if (familyValue === 10 || familyValue === 28 || familyValue === 30 || familyValue === 24) return 6;
  return null;
}

export function decodeHep3(packet: Buffer): HepDecodeResult {
  if (packet.length < HEP3_HEADER_BYTES) {
    return hepFailure('truncated', `HEP3 header needs ${HEP3_HEADER_BYTES} bytes, got ${packet.length}`);
  }
  const total = u16be(packet, 4);
  if (total < HEP3_HEADER_BYTES) return hepFailure('bad_length', `HEP3 total length ${total} is below the header size`);
  // A datagram longer than the declared length is tolerated (spec §7: ignore the tail).
  if (total > packet.length) {
    return hepFailure('truncated', `HEP3 total length ${total} exceeds the ${packet.length} bytes received`);
  }

  let familyValue: number | null = null;
  let ipProtocol: number | null = null;
  // Addresses and text chunks are only located here; the message decodes them on first access.
  const text = scannedText;
  text.reset();
  let sawIpv4 = false;
  let sawIpv6 = false;
  let srcPort: number | null = null;
  let dstPort: number | null = null;
  let seconds: number | null = null;
  let micros: number | null = null;
  let payloadType: number | null = null;
  let captureId: number | null = null;
  let payloadStart = -1;
  let payloadEnd = -1;
  let compressedStart = -1;
  let compressedEnd = -1;

  let offset = HEP3_HEADER_BYTES;
  while (offset + HEP3_CHUNK_HEADER_BYTES <= total) {
    const vendor = u16be(packet, offset);
    const type = u16be(packet, offset + 2);
    const chunkLength = u16be(packet, offset + 4);
    if (chunkLength < HEP3_CHUNK_HEADER_BYTES) {
      return hepFailure('bad_chunk', `chunk 0x${type.toString(16)} at offset ${offset} has length ${chunkLength} < 6`);
    }
    const next = offset + chunkLength;
    if (next > total) {
      return hepFailure('bad_chunk', `chunk 0x${type.toString(16)} at offset ${offset} runs past the message end ${total}`);
    }
    const value = offset + HEP3_CHUNK_HEADER_BYTES;
    const size = chunkLength - HEP3_CHUNK_HEADER_BYTES;
    offset = next;
    if (vendor !== 0) continue; // vendor-specific chunks: skipped by length, never interpreted

    switch (type) {
      case CHUNK_IP_FAMILY:
        if (size !== 1) return wrongSize(type, size, 1);
        familyValue = packet[value];
        break;
      case CHUNK_IP_PROTOCOL:
        if (size !== 1) return wrongSize(type, size, 1);
        ipProtocol = packet[value];
        break;
      case CHUNK_IPV4_SRC:
        if (size !== 4) return wrongSize(type, size, 4);
        text.srcIpStart = value;
        text.srcIpSize = 4;
        sawIpv4 = true;
        break;
      case CHUNK_IPV4_DST:
        if (size !== 4) return wrongSize(type, size, 4);
        text.dstIpStart = value;
        text.dstIpSize = 4;
        sawIpv4 = true;
        break;
      case CHUNK_IPV6_SRC:
        if (size !== 16) return wrongSize(type, size, 16);
        text.srcIpStart = value;
        text.srcIpSize = 16;
        sawIpv6 = true;
        break;
      case CHUNK_IPV6_DST:
        if (size !== 16) return wrongSize(type, size, 16);
        text.dstIpStart = value;
        text.dstIpSize = 16;
        sawIpv6 = true;
        break;
      case CHUNK_SRC_PORT:
        if (size !== 2) return wrongSize(type, size, 2);
        srcPort = u16be(packet, value);
        break;
      case CHUNK_DST_PORT:
        if (size !== 2) return wrongSize(type, size, 2);
        dstPort = u16be(packet, value);
        break;
      case CHUNK_TIME_SECONDS:
        if (size !== 4) return wrongSize(type, size, 4);
        seconds = u32be(packet, value);
        break;
      case CHUNK_TIME_MICROS:
        if (size !== 4) return wrongSize(type, size, 4);
        micros = u32be(packet, value);
        break;
      case CHUNK_PROTOCOL_TYPE:
        if (size !== 1) return wrongSize(type, size, 1);
        payloadType = packet[value];
        break;
      case CHUNK_CAPTURE_ID:
        // Kamailio and OpenSIPS send u32; a u16 form exists in old agents (HEPv2 heritage).
        if (size === 4) captureId = u32be(packet, value);
        else if (size === 2) captureId = u16be(packet, value);
        else return wrongSize(type, size, 4);
        break;
      case CHUNK_AUTH_KEY:
        text.authKeyStart = value;
        text.authKeyEnd = next;
        break;
      case CHUNK_PAYLOAD:
        payloadStart = value;
        payloadEnd = next;
        break;
      case CHUNK_COMPRESSED_PAYLOAD:
        compressedStart = value;
        compressedEnd = next;
        break;
      case CHUNK_CORRELATION_ID:
        text.correlationIdStart = value;
        text.correlationIdEnd = next;
        break;
      case CHUNK_NODE_NAME:
        text.nodeNameStart = value;
        text.nodeNameEnd = next;
        break;
      default:
        break; // unknown generic chunk (VLAN, MAC, QoS, OpenSIPS 0x65, ...): not needed for rating
    }
  }

  // The payload stays a span of the packet (no view is made here, see DecodedHepMessage.payload)
  // unless it has to be inflated or unwrapped into a buffer of its own.
  let payloadBytes = packet;
  if (payloadStart < 0) {
    if (compressedStart < 0) {
      return hepFailure('no_payload', 'HEP3 message has neither a payload (0x000f) nor a compressed payload (0x0010) chunk');
    }
    const inflated = inflatePayload(packet.subarray(compressedStart, compressedEnd));
    if (!inflated.ok) return hepFailure(inflated.reason, inflated.detail);
    payloadBytes = inflated.payload;
    payloadStart = 0;
    payloadEnd = payloadBytes.length;
  }

  if ((payloadType === PROTOCOL_TYPE_SIP || payloadType === null) && looksJsonWrapped(payloadBytes, payloadStart, payloadEnd)) {
    const unwrapped = unwrapJsonPayload(payloadBytes, payloadStart, payloadEnd);
    if (!unwrapped.ok) return hepFailure(unwrapped.reason, unwrapped.detail);
    payloadBytes = unwrapped.bytes;
    payloadStart = 0;
    payloadEnd = unwrapped.length;
  }

  const message = new DecodedHepMessage(
    packet, text, 3, resolveIpFamily(sawIpv4, sawIpv6, familyValue), ipProtocol, srcPort, dstPort,
    captureTimeMicros(seconds, micros), payloadType, captureId, payloadBytes, payloadStart, payloadEnd,
  );
  return { ok: true, message };
}

/** Seconds + microseconds; a zero time means "unknown" (sofia-sip sends it), and an out-of-range
 *  microsecond count is clamped rather than allowed to spill into the next second. */
function captureTimeMicros(seconds: number | null, micros: number | null): number | null {
  if (seconds === null) return null;
  const fraction = micros === null ? 0 : Math.min(micros, 999_999);
  if (seconds === 0 && fraction === 0) return null;
  return seconds * 1_000_000 + fraction;
}

function wrongSize(type: number, size: number, expected: number): HepDecodeResult {
  return hepFailure('bad_chunk', `chunk 0x${type.toString(16).padStart(4, '0')} has a ${size}-byte value, expected ${expected}`);
}

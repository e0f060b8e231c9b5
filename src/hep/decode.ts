// Entry point of the decoder: picks the HEP version from the first bytes (spec hep.md §0.1).
import { HEP3_MAGIC, u32be } from './bytes.ts';
import { decodeHep12 } from './hep12.ts';
import { decodeHep3 } from './hep3.ts';
import { hepFailure, type HepDecodeResult } from './types.ts';

const MAGIC_TEXT = 'HEP3';

/** Decodes one HEP message (a UDP datagram or a message cut by HepStreamFramer).
 *  Never throws and never reads outside `packet`; malformed input yields a typed error. */
export function decodeHep(packet: Buffer): HepDecodeResult {
  if (packet.length === 0) return hepFailure('empty', 'empty packet');
  const first = packet[0];
  if (first === 0x48 /* 'H' */) {
    if (packet.length >= 4 && u32be(packet, 0) === HEP3_MAGIC) return decodeHep3(packet);
    if (isPrefixOfMagic(packet)) return hepFailure('truncated', `only ${packet.length} byte(s) of the HEP3 magic`);
    if (packet.length >= 4 && packet[1] === 0x45 && packet[2] === 0x50) {
      return hepFailure('unsupported_version', `HEP magic with version byte 0x${packet[3].toString(16)}`);
    }
    return hepFailure('bad_magic', describeStart(packet));
  }
  if (first === 1 || first === 2) return decodeHep12(packet);
  // The 2013 EEP draft used "EEP1"; no sender in use emits it.
  if (first === 0x45 && packet.length >= 4 && packet[1] === 0x45 && packet[2] === 0x50) {
    return hepFailure('unsupported_version', 'EEP magic (2013 draft) is not supported');
  }
  return hepFailure('bad_magic', describeStart(packet));
}

function isPrefixOfMagic(packet: Buffer): boolean {
  if (packet.length >= 4) return false;
  for (let i = 0; i < packet.length; i++) if (packet[i] !== MAGIC_TEXT.charCodeAt(i)) return false;
  return true;
}

function describeStart(packet: Buffer): string {
  return `not a HEP message (starts with 0x${packet.subarray(0, Math.min(4, packet.length)).toString('hex')})`;
}

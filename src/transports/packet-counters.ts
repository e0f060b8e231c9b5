// Counters of what the HEP listeners received: packets per transport and HEP version, decode
// errors by reason, TCP framing errors, non-SIP packets and SIP parse errors.
import type { HepErrorReason } from '../hep/index.ts';
import type { HepTransport } from './packet-source.ts';

export interface TransportPacketCounts {
  total: number;
  hep1: number;
  hep2: number;
  hep3: number;
}

export class PacketCounters {
  readonly packets: Record<HepTransport, TransportPacketCounts> = {
    udp: { total: 0, hep1: 0, hep2: 0, hep3: 0 },
    tcp: { total: 0, hep1: 0, hep2: 0, hep3: 0 },
  };
  readonly decodeErrors: Partial<Record<HepErrorReason, number>> = {};
  readonly framingErrors: Partial<Record<HepErrorReason, number>> = {};
  nonSipPackets = 0;
  sipParseErrors = 0;
  /** Exceptions thrown while handling a packet (bugs): counted and logged, never fatal. */
  internalErrors = 0;

  received(transport: HepTransport): void {
    this.packets[transport].total++;
  }

  decoded(transport: HepTransport, version: 1 | 2 | 3): void {
    this.packets[transport][`hep${version}`]++;
  }

  decodeError(reason: HepErrorReason): void {
    this.decodeErrors[reason] = (this.decodeErrors[reason] ?? 0) + 1;
  }

  framingError(reason: HepErrorReason): void {
    this.framingErrors[reason] = (this.framingErrors[reason] ?? 0) + 1;
  }
}

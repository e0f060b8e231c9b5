// Where a HEP packet came from, for counters and for the logs of bad packets.

export type HepTransport = 'udp' | 'tcp';

export interface PacketSource {
  transport: HepTransport;
  address: string;
  port: number;
}

/**
 * Called once per HEP packet (a UDP datagram, or one framed message of a TCP stream). `source`
 * is valid only during the call (the UDP listener reuses it): copy what must be kept.
 */
export type PacketHandler = (packet: Buffer, source: PacketSource) => void;

// Where a HEP packet came from, for counters and for the logs of bad packets.

export type HepTransport = 'udp' | 'tcp';

export interface PacketSource {
  transport: HepTransport;
  address: string;
  port: number;
}

/** Called once per HEP packet (a UDP datagram, or one framed message of a TCP stream). */
export type PacketHandler = (packet: Buffer, source: PacketSource) => void;

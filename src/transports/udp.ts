// HEP over UDP: one HEP packet per datagram (hep.md §3). Nothing is ever sent back.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { ListenAddress } from './listen-address.ts';
import type { PacketHandler, PacketSource } from './packet-source.ts';

export interface UdpListenerOptions {
  listen: ListenAddress;
  onPacket: PacketHandler;
  /** Socket errors after the socket is bound (they do not stop the listener). */
  onError: (error: Error) => void;
  /** Kernel receive buffer; bursts of mirrored traffic overflow small defaults. */
  receiveBufferBytes?: number;
}

export interface UdpListener {
  readonly address: ListenAddress;
  /** The kernel receive buffer actually granted (Linux reports twice the size asked, capped by rmem_max). */
  readonly receiveBufferBytes: number;
  close(): Promise<void>;
}

export async function startUdpListener(options: UdpListenerOptions): Promise<UdpListener> {
  const { listen, onPacket, onError } = options;
  const socket: Socket = createSocket({ type: isIPv6(listen.host) ? 'udp6' : 'udp4' });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(listen.port, listen.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', onError);
  if (options.receiveBufferBytes !== undefined) {
    try {
      socket.setRecvBufferSize(options.receiveBufferBytes);
    } catch (error) {
      // The kernel may cap the size (net.core.rmem_max); the default buffer still works.
      onError(error instanceof Error ? error : new Error(String(error)));
    }
  }
  // One source object for the socket, rewritten per datagram: handlers use it only while they
  // run (see PacketHandler), and at tens of thousands of datagrams a second it is garbage saved.
  const source: PacketSource = { transport: 'udp', address: '', port: 0 };
  socket.on('message', (packet, remote) => {
    source.address = remote.address;
    source.port = remote.port;
    onPacket(packet, source);
  });
  const bound = socket.address();
  let closed: Promise<void> | null = null;
  return {
    address: { host: bound.address, port: bound.port },
    receiveBufferBytes: socket.getRecvBufferSize(),
    close() {
      closed ??= new Promise<void>((resolve) => socket.close(() => resolve()));
      return closed;
    },
  };
}

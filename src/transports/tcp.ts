// HEP over TCP (hep.md §3): each connection is a byte stream of HEP3 messages framed only by their
// length field. Several messages per read and one message over many reads are both normal. A bad
// magic or an impossible length cannot be resynchronised, so the connection is closed. Senders
// keep connections open for a long time and expect nothing back; idle ones are closed after a
// timeout so that dead peers do not pile up.
import { createServer, type Server, type Socket } from 'node:net';
import { HepStreamFramer, type HepDecodeError } from '../hep/index.ts';
import type { ListenAddress } from './listen-address.ts';
import type { PacketHandler, PacketSource } from './packet-source.ts';

export interface TcpListenerOptions {
  listen: ListenAddress;
  onPacket: PacketHandler;
  /** A connection was closed because its stream could not be framed. */
  onFramingError: (error: HepDecodeError, source: PacketSource) => void;
  /** Socket-level errors (resets and the like); the connection is gone afterwards. */
  onSocketError: (error: Error, source: PacketSource) => void;
  /** Close connections that sent nothing for this long. Default 10 minutes; 0 disables. */
  idleTimeoutMs?: number;
  /** Refuse connections beyond this many. Default 10,000. */
  maxConnections?: number;
  /** Largest accepted HEP3 message. Default 65535. */
  maxMessageBytes?: number;
}

export interface TcpCounters {
  accepted: number;
  closed_on_framing_error: number;
  closed_idle: number;
  socket_errors: number;
  /** Connections refused because maxConnections were open. */
  refused: number;
}

export interface TcpListener {
  readonly address: ListenAddress;
  readonly counters: TcpCounters;
  readonly openConnections: number;
  close(): Promise<void>;
}

export async function startTcpListener(options: TcpListenerOptions): Promise<TcpListener> {
  const idleTimeoutMs = options.idleTimeoutMs ?? 600_000;
  const counters: TcpCounters = { accepted: 0, closed_on_framing_error: 0, closed_idle: 0, socket_errors: 0, refused: 0 };
  const sockets = new Set<Socket>();

  const server: Server = createServer({ noDelay: true, keepAlive: true }, (socket) => {
    counters.accepted++;
    sockets.add(socket);
    const source: PacketSource = {
      transport: 'tcp',
      address: socket.remoteAddress ?? 'unknown',
      port: socket.remotePort ?? 0,
    };
    const framer = new HepStreamFramer(
      options.maxMessageBytes === undefined ? {} : { maxMessageBytes: options.maxMessageBytes },
    );
    if (idleTimeoutMs > 0) {
      socket.setTimeout(idleTimeoutMs, () => {
        counters.closed_idle++;
        socket.destroy();
      });
    }
    socket.on('data', (chunk: Buffer) => {
      const { packets, error } = framer.push(chunk);
      // Messages completed before the bad bytes are still good.
      for (const packet of packets) options.onPacket(packet, source);
      if (error !== null && !socket.destroyed) {
        counters.closed_on_framing_error++;
        options.onFramingError(error, source);
        socket.destroy();
      }
    });
    socket.on('error', (error) => {
      counters.socket_errors++;
      options.onSocketError(error, source);
    });
    socket.on('close', () => sockets.delete(socket));
  });
  server.maxConnections = options.maxConnections ?? 10_000;
  server.on('drop', () => counters.refused++);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listen.port, options.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  const address: ListenAddress =
    bound !== null && typeof bound === 'object'
      ? { host: bound.address, port: bound.port }
      : { host: options.listen.host, port: options.listen.port };

  let closed: Promise<void> | null = null;
  return {
    address,
    counters,
    get openConnections() {
      return sockets.size;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Senders never close on their own; without this, close() would wait for them forever.
        for (const socket of sockets) socket.destroy();
      });
      return closed;
    },
  };
}

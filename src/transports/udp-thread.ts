// HEP over UDP received on a thread of its own. The main thread runs the SQLite work of the rating
// engine synchronously, and a commit, a GC pause or a busy machine holds it for tens of
// milliseconds at times; the kernel buffer then fills and drops datagrams. A receiving thread
// keeps emptying the socket meanwhile and hands the datagrams over in batches (one message per
// run of datagrams instead of one callback each), up to a bound of bytes not yet handled: beyond
// it, datagrams are dropped and counted, so a main thread that is slower for good cannot exhaust
// memory.
import { Worker } from 'node:worker_threads';
import { isIPv6 } from 'node:net';
import type { ListenAddress } from './listen-address.ts';
import type { PacketHandler, PacketSource } from './packet-source.ts';
import type { UdpListener, UdpListenerOptions } from './udp.ts';

export interface ThreadedUdpListener extends UdpListener {
  /** Datagrams dropped because the main thread had too many bytes not yet handled. */
  readonly droppedBacklog: number;
}

const DEFAULT_MAX_BACKLOG_BYTES = 64 * 1024 * 1024;

// Plain JavaScript run with eval: the thread must start without the TypeScript loader.
const RECEIVER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
// At most two batches handed over and not yet handled, of at most 128 KiB: while the main thread
// is busy, batches wait here instead of queueing as messages, so the main thread takes one
// bounded batch per turn of its event loop and its own work (engine operations, timers, the
// API) runs in between.
const MAX_OUTSTANDING = 2;
const MAX_BATCH_BYTES = 131072;
const { createSocket } = require('node:dgram');
const socket = createSocket({ type: workerData.type });
let backlog = 0;
let dropped = 0;
let outstanding = 0;
let scheduled = false;
/** Batches closed and waiting to be handed over, then the one being filled. */
const ready = [];
let filling = [];
let fillingBytes = 0;
function close() {
  if (filling.length === 0) return;
  ready.push({ items: filling, bytes: fillingBytes });
  filling = [];
  fillingBytes = 0;
}
function handOver() {
  while (outstanding < MAX_OUTSTANDING && ready.length > 0) {
    const { items, bytes } = ready.shift();
    const data = new Uint8Array(bytes);
    const ends = new Array(items.length);
    const addresses = new Array(items.length);
    const ports = new Array(items.length);
    let offset = 0;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      data.set(item.packet, offset);
      offset += item.packet.length;
      ends[i] = offset;
      addresses[i] = item.address;
      ports[i] = item.port;
    }
    outstanding++;
    parentPort.postMessage({ kind: 'batch', data, ends, addresses, ports, dropped }, [data.buffer]);
  }
}
let reportedDropped = 0;
function endOfRun() {
  scheduled = false;
  if (outstanding < MAX_OUTSTANDING) {
    close();
    handOver();
  }
  if (dropped !== reportedDropped) {
    reportedDropped = dropped;
    parentPort.postMessage({ kind: 'dropped', dropped });
  }
}
socket.on('message', (packet, remote) => {
  if (backlog + packet.length > workerData.maxBacklogBytes) {
    dropped++;
    if (!scheduled) {
      scheduled = true;
      setImmediate(endOfRun);
    }
    return;
  }
  backlog += packet.length;
  filling.push({ packet, address: remote.address, port: remote.port });
  fillingBytes += packet.length;
  if (fillingBytes >= MAX_BATCH_BYTES) {
    close();
    handOver();
  } else if (!scheduled) {
    scheduled = true;
    setImmediate(endOfRun);
  }
});
let bound = false;
socket.on('error', (error) => {
  const message = String(error && error.message);
  if (bound) {
    parentPort.postMessage({ kind: 'error', message });
  } else {
    // Not bound (port in use, address not local...): the listener cannot start.
    parentPort.postMessage({ kind: 'bindError', message, code: String(error && error.code) });
    parentPort.close();
  }
});
parentPort.on('message', (message) => {
  if (message.kind === 'handled') {
    backlog -= message.bytes;
    outstanding--;
    if (ready.length === 0) close();
    handOver();
  }
  else if (message.kind === 'close') socket.close(() => parentPort.close());
});
socket.bind(workerData.port, workerData.host, () => {
  let granted = 0;
  try {
    if (workerData.receiveBufferBytes > 0) socket.setRecvBufferSize(workerData.receiveBufferBytes);
  } catch (error) {
    parentPort.postMessage({ kind: 'error', message: String(error && error.message) });
  }
  granted = socket.getRecvBufferSize();
  const address = socket.address();
  bound = true;
  parentPort.postMessage({ kind: 'bound', host: address.address, port: address.port, granted });
});
`;

interface BatchMessage {
  kind: 'batch';
  data: Uint8Array;
  ends: number[];
  addresses: string[];
  ports: number[];
  dropped: number;
}

type ReceiverMessage =
  | BatchMessage
  | { kind: 'bound'; host: string; port: number; granted: number }
  | { kind: 'bindError'; message: string; code: string }
  | { kind: 'dropped'; dropped: number }
  | { kind: 'error'; message: string };

function isReceiverMessage(message: unknown): message is ReceiverMessage {
  return typeof message === 'object' && message !== null && 'kind' in message && typeof message.kind === 'string';
}

export async function startThreadedUdpListener(
  options: UdpListenerOptions & { maxBacklogBytes?: number },
): Promise<ThreadedUdpListener> {
  const { listen, onPacket, onError } = options;
  const worker = new Worker(RECEIVER_SOURCE, {
    eval: true,
    workerData: {
      type: isIPv6(listen.host) ? 'udp6' : 'udp4',
      host: listen.host,
      port: listen.port,
      receiveBufferBytes: options.receiveBufferBytes ?? 0,
      maxBacklogBytes: options.maxBacklogBytes ?? DEFAULT_MAX_BACKLOG_BYTES,
    },
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => worker.once('exit', () => {
    exited = true;
    resolve();
  }));
  let droppedBacklog = 0;
  const source: PacketSource = { transport: 'udp', address: '', port: 0 };
  const deliver = (batch: BatchMessage, handler: PacketHandler): void => {
    droppedBacklog = Math.max(droppedBacklog, batch.dropped);
    const bytes = Buffer.from(batch.data.buffer, batch.data.byteOffset, batch.data.byteLength);
    let start = 0;
    for (let i = 0; i < batch.ends.length; i++) {
      const end = batch.ends[i];
      source.address = batch.addresses[i];
      source.port = batch.ports[i];
      handler(bytes.subarray(start, end), source);
      start = end;
    }
    // Acknowledged after a turn of the event loop, not at once: the next batch would otherwise
    // be taken in the same run of port messages, again and again, with no room left for the
    // engine operations these packets started, for timers, or for the API.
    const bytesHandled = batch.data.byteLength;
    setImmediate(() => worker.postMessage({ kind: 'handled', bytes: bytesHandled }));
  };

  const bound = await new Promise<{ host: string; port: number; granted: number }>((resolve, reject) => {
    const onStartupError = (error: Error): void => reject(error);
    worker.once('error', onStartupError);
    worker.once('exit', () => reject(new Error('UDP receiving thread exited before binding')));
    worker.on('message', (message: unknown) => {
      if (!isReceiverMessage(message)) return;
      if (message.kind === 'bound') {
        worker.off('error', onStartupError);
        resolve(message);
      } else if (message.kind === 'bindError') {
        reject(Object.assign(new Error(message.message), { code: message.code }));
      } else if (message.kind === 'error') {
        onError(new Error(message.message));
      } else if (message.kind === 'dropped') {
        droppedBacklog = Math.max(droppedBacklog, message.dropped);
      } else {
        deliver(message, onPacket);
      }
    });
  }).catch(async (error: unknown) => {
    await worker.terminate();
    throw error;
  });
  // A crash of the thread after start-up is reported like a socket error; the listener is gone.
  worker.on('error', (error) => onError(error));

  let closed: Promise<void> | null = null;
  const address: ListenAddress = { host: bound.host, port: bound.port };
  return {
    address,
    receiveBufferBytes: bound.granted,
    get droppedBacklog() {
      return droppedBacklog;
    },
    close() {
      closed ??= (async () => {
        if (!exited) worker.postMessage({ kind: 'close' });
        // Bounded: a thread that does not stop in time is terminated.
        const timer = setTimeout(() => void worker.terminate(), 2_000);
        await exit;
        clearTimeout(timer);
      })();
      return closed;
    },
  };
}

// The UDP listener that receives on a thread of its own: datagrams arrive intact, in order, with
// their source; a main thread that falls behind makes it drop (and count) beyond its bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { startThreadedUdpListener } from '../../src/transports/udp-thread.ts';
import { sendUdp, waitFor } from './support.ts';

test('datagrams are handed over intact, in order, with their source, and close() stops the thread', async () => {
  const received: Array<{ text: string; address: string; port: number }> = [];
  const errors: Error[] = [];
  const listener = await startThreadedUdpListener({
    listen: { host: '127.0.0.1', port: 0 },
    onPacket: (packet, source) => received.push({ text: packet.toString('latin1'), address: source.address, port: source.port }),
    onError: (error) => errors.push(error),
    receiveBufferBytes: 1024 * 1024,
  });
  try {
    assert.ok(listener.address.port > 0);
    assert.ok(listener.receiveBufferBytes >= 1024 * 1024);
    const datagrams = Array.from({ length: 200 }, (_, i) => Buffer.from(`datagram ${i} `.padEnd(100 + (i % 50), 'x'), 'latin1'));
    await sendUdp(listener.address.port, datagrams);
    await waitFor('200 datagrams', () => received.length === 200);
    assert.deepEqual(received.map((r) => r.text), datagrams.map((d) => d.toString('latin1')));
    assert.ok(received.every((r) => r.address === '127.0.0.1' && r.port > 0));
    assert.equal(listener.droppedBacklog, 0);
  } finally {
    await listener.close();
  }
  assert.deepEqual(errors, []);
  await listener.close(); // twice is harmless
});

test('beyond the backlog bound, datagrams are dropped and counted instead of queued', async () => {
  let received = 0;
  const listener = await startThreadedUdpListener({
    listen: { host: '127.0.0.1', port: 0 },
    onPacket: () => {
      received++;
    },
    onError: () => {},
    maxBacklogBytes: 1_000,
  });
  try {
    // Sent and then held without a turn of this thread's event loop: the receiving thread takes
    // them all meanwhile, but may keep only 1,000 bytes (5 datagrams) not yet handled.
    const sent = 100;
    const socket = createSocket('udp4');
    socket.connect(listener.address.port, '127.0.0.1');
    await once(socket, 'connect');
    for (let i = 0; i < sent; i++) socket.send(Buffer.alloc(200, 0x61));
    const busyUntil = Date.now() + 300;
    while (Date.now() < busyUntil) {
      // hold the main thread
    }
    socket.close();
    await waitFor('every datagram handled or dropped', () => received + listener.droppedBacklog === sent);
    assert.ok(listener.droppedBacklog > 0, 'some were dropped');
    assert.ok(received >= 1 && received <= 10, `${received} handled`);
  } finally {
    await listener.close();
  }
});

test('a port already in use fails the start with the socket error, and the thread ends', async () => {
  const first = await startThreadedUdpListener({ listen: { host: '127.0.0.1', port: 0 }, onPacket: () => {}, onError: () => {} });
  try {
    await assert.rejects(
      startThreadedUdpListener({ listen: { host: '127.0.0.1', port: first.address.port }, onPacket: () => {}, onError: () => {} }),
      (error: unknown) => error instanceof Error && /EADDRINUSE/.test(error.message) && (error as NodeJS.ErrnoException).code === 'EADDRINUSE',
    );
  } finally {
    await first.close();
  }
});

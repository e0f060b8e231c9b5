import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HepDecodeError } from '../../src/hep/index.ts';
import { startTcpListener } from '../../src/transports/tcp.ts';
import { endTcp, hepFixture, openTcp, splitHep3Stream, waitFor, write, writeInPieces } from './support.ts';

async function listener(options: { maxConnections?: number } = {}) {
  const packets: Buffer[] = [];
  const framingErrors: HepDecodeError[] = [];
  const tcp = await startTcpListener({
    listen: { host: '127.0.0.1', port: 0 },
    onPacket: (packet) => packets.push(Buffer.from(packet)),
    onFramingError: (error) => framingErrors.push(error),
    onSocketError: () => undefined,
    ...options,
  });
  return { tcp, packets, framingErrors };
}

test('messages split at every possible point arrive whole and in order', async () => {
  const { tcp, packets } = await listener();
  try {
    const stream = hepFixture('kamailio-tcp-stream.bin');
    const expected = splitHep3Stream(stream);
    const socket = await openTcp(tcp.address.port);
    // Irregular piece sizes: header split, message boundaries inside pieces, several per piece.
    await writeInPieces(socket, stream, [1, 2, 3, 700, 7, 1000, 5, 1, 1200]);
    await endTcp(socket);
    await waitFor('all messages', () => packets.length === expected.length);
    assert.deepEqual(packets, expected);
  } finally {
    await tcp.close();
  }
});

test('an impossible length closes the connection and is reported', async () => {
  const { tcp, packets, framingErrors } = await listener();
  try {
    const socket = await openTcp(tcp.address.port);
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await write(socket, Buffer.from([0x48, 0x45, 0x50, 0x33, 0x00, 0x02, 0, 0, 0, 0]));
    await closed;
    assert.equal(packets.length, 0);
    assert.equal(framingErrors.length, 1);
    assert.equal(tcp.counters.closed_on_framing_error, 1);
  } finally {
    await tcp.close();
  }
});

test('connections beyond maxConnections are refused and counted', async () => {
  const { tcp } = await listener({ maxConnections: 2 });
  try {
    const kept = [await openTcp(tcp.address.port), await openTcp(tcp.address.port)];
    await waitFor('two open', () => tcp.openConnections === 2);
    const extra = await openTcp(tcp.address.port);
    extra.on('error', () => undefined);
    await new Promise<void>((resolve) => extra.once('close', () => resolve()));
    assert.equal(tcp.counters.refused, 1);
    await Promise.all(kept.map(endTcp));
  } finally {
    await tcp.close();
  }
});

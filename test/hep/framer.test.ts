// TCP framing: the captured streams, replayed with their recorded recv() boundaries, coalesced and
// split in every way, give exactly the messages the length fields delimit; errors are fatal.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import fc from 'fast-check';
import { HepStreamFramer, decodeHep, type HepDecodeError } from '../../src/hep/index.ts';
import { readRecvSidecar } from './fixtures.ts';
import { chunkAt, hep3StreamFixtureNames, readHepFixture, splitOnLengths } from './streams.ts';
import { SAMPLE_SIP, buildHep3, chunk, typicalChunks } from './builder.ts';

function frameAll(pieces: readonly Buffer[], framer = new HepStreamFramer()): { packets: Buffer[]; error: HepDecodeError | null; framer: HepStreamFramer } {
  const packets: Buffer[] = [];
  for (const piece of pieces) {
    const result = framer.push(piece);
    packets.push(...result.packets);
    if (result.error) return { packets, error: result.error, framer };
  }
  return { packets, error: null, framer };
}

function assertSameMessages(actual: readonly Buffer[], expected: readonly Buffer[], label: string): void {
  assert.equal(actual.length, expected.length, `${label}: message count`);
  actual.forEach((packet, i) => assert.ok(packet.equals(expected[i]), `${label}: message ${i + 1}`));
}

describe('captured streams', () => {
  const kamailioRecorded = ['kamailio-tcp-stream.bin', 'kamailio-tcp-tm-stream.bin', 'kamailio-tcp-coalesced-stream.bin', 'kamailio-tcp-smallreads-stream.bin'];

  for (const name of kamailioRecorded) {
    test(`${name}: replayed with the recorded recv() boundaries`, () => {
      const stream = readHepFixture(name);
      const reads = readRecvSidecar(name);
      assert.equal(reads.reduce((sum, r) => sum + r.bytes, 0), stream.length);
      const pieces = reads.map((r) => stream.subarray(r.offset, r.offset + r.bytes));
      const { packets, error, framer } = frameAll(pieces);
      assert.equal(error, null);
      assertSameMessages(packets, splitOnLengths(stream), name);
      assert.equal(framer.bufferedBytes, 0);
      for (const packet of packets) assert.ok(decodeHep(packet).ok);
    });
  }

  test('coalesced capture: the single recv() holds all 6 messages', () => {
    const stream = readHepFixture('kamailio-tcp-coalesced-stream.bin');
    const result = new HepStreamFramer().push(stream);
    assert.equal(result.error, null);
    assert.equal(result.packets.length, 6);
    // Whole messages inside one read are views, not copies.
    for (const packet of result.packets) assert.equal(packet.buffer, stream.buffer);
  });

  for (const name of hep3StreamFixtureNames()) {
    test(`${name}: whole, 1-byte and random chunks give the same messages`, () => {
      const stream = readHepFixture(name);
      const expected = splitOnLengths(stream);
      assertSameMessages(frameAll([stream]).packets, expected, `${name} whole`);
      const bytes = Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1));
      const oneByte = frameAll(bytes);
      assertSameMessages(oneByte.packets, expected, `${name} 1-byte`);
      assert.equal(oneByte.framer.bufferedBytes, 0);
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 0, max: Math.max(0, stream.length) }), { maxLength: 40 }), (cuts) => {
          const { packets, error, framer } = frameAll(chunkAt(stream, cuts));
          assert.equal(error, null);
          assertSameMessages(packets, expected, name);
          assert.equal(framer.bufferedBytes, 0);
        }),
        { numRuns: 100, seed: 11 },
      );
    });
  }

  for (const [combined, connections] of [
    ['opensips-tcp-tx-stream.bin', 3],
    ['opensips-tcp-dlgh5off-stream.bin', 2],
  ] as const) {
    test(`${combined}: each connection framed on its own yields the messages of the combined file`, () => {
      const fromConnections: string[] = [];
      for (let n = 1; n <= connections; n++) {
        const { packets, error } = frameAll([readHepFixture(combined.replace('.bin', `-conn${n}.bin`))]);
        assert.equal(error, null);
        fromConnections.push(...packets.map((p) => p.toString('hex')));
      }
      const expected = splitOnLengths(readHepFixture(combined)).map((p) => p.toString('hex'));
      assert.deepEqual([...fromConnections].sort(), [...expected].sort());
    });
  }

  test('opensips-tcp-nolisten-stream.bin: an empty stream gives nothing and holds nothing', () => {
    const { packets, error, framer } = frameAll([readHepFixture('opensips-tcp-nolisten-stream.bin')]);
    assert.deepEqual(packets, []);
    assert.equal(error, null);
    assert.equal(framer.bufferedBytes, 0);
  });

  test('kamailio-tcp-hep2-stream.bin: HEPv2 over TCP is refused on the first byte', () => {
    const stream = readHepFixture('kamailio-tcp-hep2-stream.bin');
    const reads = readRecvSidecar('kamailio-tcp-hep2-stream.bin');
    const framer = new HepStreamFramer();
    const first = framer.push(stream.subarray(reads[0].offset, reads[0].offset + reads[0].bytes));
    assert.deepEqual(first.packets, []);
    assert.equal(first.error?.reason, 'unsupported_version');
    assert.match(first.error?.detail ?? '', /HEPv2/);
    // Fatal: later reads are not framed either, and nothing is kept.
    const later = framer.push(stream.subarray(reads[1].offset));
    assert.deepEqual(later.packets, []);
    assert.equal(later.error?.reason, 'unsupported_version');
    assert.equal(framer.bufferedBytes, 0);
    // Even a single byte is enough to know.
    assert.equal(new HepStreamFramer().push(stream.subarray(0, 1)).error?.reason, 'unsupported_version');
  });
});

describe('framing rules', () => {
  const message = buildHep3(typicalChunks(SAMPLE_SIP));

  test('messages before a bad magic are delivered, then the stream is dead', () => {
    const framer = new HepStreamFramer();
    const result = framer.push(Buffer.concat([message, message, Buffer.from('GARBAGE!')]));
    assert.equal(result.packets.length, 2);
    assert.equal(result.error?.reason, 'bad_magic');
    const after = framer.push(message);
    assert.deepEqual(after.packets, []);
    assert.equal(after.error?.reason, 'bad_magic');
  });

  test('a wrong first byte is rejected at once, without waiting for 6 bytes', () => {
    assert.equal(new HepStreamFramer().push(Buffer.from('X')).error?.reason, 'bad_magic');
    const framer = new HepStreamFramer();
    assert.equal(framer.push(Buffer.from('HE')).error, null);
    assert.equal(framer.bufferedBytes, 2);
    assert.equal(framer.push(Buffer.from('Q')).error?.reason, 'bad_magic');
    assert.equal(framer.bufferedBytes, 0);
  });

  test('a length below 6 is fatal, whole or split', () => {
    const lie = Buffer.from('HEP3\x00\x05');
    assert.equal(new HepStreamFramer().push(lie).error?.reason, 'bad_length');
    const framer = new HepStreamFramer();
    framer.push(lie.subarray(0, 5));
    assert.equal(framer.push(lie.subarray(5)).error?.reason, 'bad_length');
  });

  test('maxMessageBytes bounds what is buffered', () => {
    const framer = new HepStreamFramer({ maxMessageBytes: message.length - 1 });
    const result = framer.push(message.subarray(0, 10));
    assert.equal(result.error?.reason, 'bad_length');
    assert.equal(framer.bufferedBytes, 0);
    const exact = new HepStreamFramer({ maxMessageBytes: message.length });
    assert.equal(exact.push(message).packets.length, 1);
    assert.throws(() => new HepStreamFramer({ maxMessageBytes: 5 }), RangeError);
    assert.throws(() => new HepStreamFramer({ maxMessageBytes: 1.5 }), RangeError);
  });

  test('the largest possible message (65535 bytes) is framed from many pieces', () => {
    const payload = Buffer.alloc(0xffff - 6 - 6, 0x61);
    const big = buildHep3([chunk(0x000f, payload)]);
    assert.equal(big.length, 0xffff);
    const pieces = chunkAt(big, Array.from({ length: 60 }, (_, i) => i * 1093 + 3));
    const { packets, error, framer } = frameAll(pieces);
    assert.equal(error, null);
    assert.equal(packets.length, 1);
    assert.ok(packets[0].equals(big));
    assert.equal(framer.bufferedBytes, 0);
  });

  test('a header-only message (6 bytes) is framed, split or not', () => {
    const empty = Buffer.from('HEP3\x00\x06');
    assert.equal(new HepStreamFramer().push(Buffer.concat([empty, message])).packets.length, 2);
    const { packets } = frameAll([empty.subarray(0, 3), empty.subarray(3), message]);
    assert.equal(packets.length, 2);
    assert.ok(packets[0].equals(empty));
    const decoded = decodeHep(packets[0]);
    assert.equal(decoded.ok, false);
  });

  test('a message with broken chunks inside still frames; its neighbours still decode', () => {
    const broken = Buffer.from(message);
    broken.writeUInt16BE(2, 6 + 4); // first chunk length < 6: undecodable, but the frame length is fine
    const { packets, error } = frameAll([Buffer.concat([message, broken, message])]);
    assert.equal(error, null);
    assert.deepEqual(packets.map((p) => decodeHep(p).ok), [true, false, true]);
  });
});

describe('over a real TCP connection', () => {
  test('a captured stream sent in odd-sized writes arrives as the same messages', async () => {
    const stream = Buffer.concat(['kamailio-tcp-tm-stream.bin', 'opensips-tcp-txsync-stream.bin'].map(readHepFixture));
    const expected = splitOnLengths(stream);
    const received: Buffer[] = [];
    let failure: HepDecodeError | null = null;
    const sockets = new Set<Socket>();
    const server = createServer((socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      const framer = new HepStreamFramer();
      socket.on('data', (data: Buffer) => {
        const { packets, error } = framer.push(data);
        received.push(...packets);
        if (error) {
          failure = error;
          socket.destroy();
        }
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const address = server.address();
      assert.ok(address !== null && typeof address === 'object');
      const client = connect(address.port, '127.0.0.1');
      client.setNoDelay(true);
      await once(client, 'connect');
      for (const piece of chunkAt(stream, Array.from({ length: 50 }, (_, i) => i * 263 + 1))) {
        if (!client.write(piece)) await once(client, 'drain');
        await new Promise((resolve) => setImmediate(resolve));
      }
      client.end();
      const deadline = Date.now() + 5_000;
      while (received.length < expected.length && failure === null && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      client.destroy();
      assert.equal(failure, null);
      assertSameMessages(received, expected, 'tcp');
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

// The agent's packet path without sockets: captured packets in, engine operations out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPacketPipeline, type PacketPipelineSettings } from '../../src/transports/packet-pipeline.ts';
import type { PacketSource } from '../../src/transports/packet-source.ts';
import { RecordingEngine, agentSettings, expectedTimes, hepFixture, silentLogger } from './support.ts';

const SETTINGS: PacketPipelineSettings = agentSettings();

test('a captured call fed packet by packet becomes a begin and an end with its SIP times', async () => {
  const engine = new RecordingEngine();
  const pipeline = createPacketPipeline({ settings: SETTINGS, engine, logger: silentLogger(), clock: () => 1_795_421_500_000_000 });
  const messages = [1, 2, 3, 4, 5, 6].map((n) => hepFixture(`kamailio-udp-${n}.bin`));
  // One source object for every packet, changed in between, as the UDP listener does.
  const source: PacketSource = { transport: 'udp', address: '127.0.0.1', port: 5060 };
  for (const [i, packet] of messages.entries()) {
    source.port = 5060 + i;
    pipeline.handlePacket(packet, source);
  }
  await pipeline.dispatcher.idle();
  const expected = expectedTimes(messages);
  assert.deepEqual(
    engine.calls.map((c) => [c.method, c.request.transaction_tag, 'timestamp_begin' in c.request ? c.request.timestamp_begin : c.request.timestamp_end]),
    [
      ['beginTransaction', '1-20739@127.0.0.1', expected.begin],
      ['endTransaction', '1-20739@127.0.0.1', expected.end],
    ],
  );
  assert.equal(pipeline.counters.packets.udp.total, 6);
  assert.equal(pipeline.counters.packets.udp.hep3, 6);
  assert.equal(pipeline.tracker.counters.ended, 1);
});

test('bad packets are counted and dropped without reaching the tracker', async () => {
  const engine = new RecordingEngine();
  const pipeline = createPacketPipeline({ settings: SETTINGS, engine, logger: silentLogger(), clock: () => 0 });
  const source: PacketSource = { transport: 'tcp', address: '10.0.0.9', port: 9060 };
  pipeline.handlePacket(Buffer.from('not a HEP packet'), source);
  pipeline.handlePacket(Buffer.alloc(0), source);
  await pipeline.dispatcher.idle();
  assert.equal(pipeline.counters.packets.tcp.total, 2);
  const errors = Object.values(pipeline.counters.decodeErrors).reduce((sum, n) => sum + (n ?? 0), 0);
  assert.equal(errors, 2);
  assert.equal(pipeline.tracker.counters.opened, 0);
  assert.deepEqual(engine.calls, []);
});

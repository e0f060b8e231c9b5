import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startHepAgent, type HepAgent, type HepAgentSettings } from '../../src/transports/hep-agent.ts';
import { agentSettings,
  RecordingEngine,
  canyanFixture,
  capturingLogger,
  encodeHep3,
  endTcp,
  expectedTimes,
  hepFixture,
  openTcp,
  recvSizes,
  rewrite,
  sendUdp,
  silentLogger,
  sipOf,
  splitHep3Stream,
  waitFor,
  write,
  writeInPieces,
} from './support.ts';


const KAMAILIO_UDP = [1, 2, 3, 4, 5, 6].map((n) => hepFixture(`kamailio-udp-${n}.bin`));

function stat(agent: HepAgent, ...path: string[]): unknown {
  let value: unknown = agent.stats();
  for (const key of path) value = (value as Record<string, unknown>)[key];
  return value;
}

async function settled(agent: HepAgent, engine: RecordingEngine, operations: number): Promise<void> {
  await waitFor(`${operations} engine operations`, () => engine.calls.length >= operations && stat(agent, 'transactions', 'in_flight') === 0);
}

function byTag(engine: RecordingEngine, tag: string): string[] {
  return engine.calls.filter((c) => c.request.transaction_tag === tag).map((c) => c.method);
}

describe('HEP agent over UDP', () => {
  test('a captured Kamailio call (one datagram per message) begins at the 200 OK and ends at the BYE', async () => {
    const engine = new RecordingEngine();
    const agent = await startHepAgent({ settings: agentSettings(), engine, logger: silentLogger() });
    try {
      assert.ok(agent.udpAddress !== null && agent.udpAddress.port > 0);
      await sendUdp(agent.udpAddress.port, KAMAILIO_UDP);
      await settled(agent, engine, 2);
      assert.deepEqual(engine.calls, [
        {
          method: 'beginTransaction',
          request: {
            tenant: 'default',
            transaction_tag: '1-20739@127.0.0.1',
            account_tag: '1000',
            destination_account_tag: '1001',
            source: 'sip:1000@sip.example.com',
            source_ip: '127.0.0.1',
            destination: 'sip:1001@sip.example.com',
            carrier_ip: null,
            tags: ['VOICE'],
            timestamp_begin: 1_795_421_493_362_155, // the 200 OK, 08:11:33.362155
          },
        },
        {
          method: 'endTransaction',
          request: {
            tenant: 'default',
            transaction_tag: '1-20739@127.0.0.1',
            account_tag: '1000',
            destination_account_tag: '1001',
            timestamp_end: 1_795_421_493_866_932, // the BYE, 08:11:33.866932
            end_reason: null,
          },
        },
      ]);
      const stats = agent.stats();
      assert.deepEqual(stats['packets'], { udp: { total: 6, hep1: 0, hep2: 0, hep3: 6 }, tcp: { total: 0, hep1: 0, hep2: 0, hep3: 0 } });
      assert.equal(stat(agent, 'calls', 'opened'), 1);
      assert.equal(stat(agent, 'calls', 'answered'), 1);
      assert.equal(stat(agent, 'calls', 'ended'), 1);
      assert.equal(stat(agent, 'calls', 'tracked'), 0);
      assert.equal(stat(agent, 'transactions', 'emitted'), 2);
      assert.equal(stat(agent, 'transactions', 'engine_errors'), 0);
      assert.doesNotThrow(() => JSON.stringify(stats));
    } finally {
      await agent.close();
    }
  });

  test('every datagram received twice (mirrored) still gives one begin and one end', async () => {
    const engine = new RecordingEngine();
    const agent = await startHepAgent({ settings: agentSettings(), engine, logger: silentLogger() });
    try {
      await sendUdp(agent.udpAddress!.port, KAMAILIO_UDP.flatMap((d) => [d, d]));
      await waitFor('12 packets', () => stat(agent, 'packets', 'udp', 'total') === 12);
      await settled(agent, engine, 2);
      assert.deepEqual(byTag(engine, '1-20739@127.0.0.1'), ['beginTransaction', 'endTransaction']);
    } finally {
      await agent.close();
    }
  });

  test("Canyan's own test packets: the ACK begins (no 200 OK captured), the BYE ends", async () => {
    const engine = new RecordingEngine();
    const agent = await startHepAgent({
      settings: agentSettings({ sip_local_domains: ['192.168.192.2', 'anotherdomain.com'], hep_listen_tcp: '' }),
      engine,
      logger: silentLogger(),
      // Without a 200 OK, the ACK answers the call after one settle period (its 200 OK may be late).
      sweepIntervalMs: 10,
      failureSettleSeconds: 0.05,
    });
    try {
      assert.equal(agent.tcpAddress, null);
      const packets = ['hep-invite.bin', 'hep-ack.bin', 'hep-bye.bin'].map(canyanFixture);
      await sendUdp(agent.udpAddress!.port, packets);
      await settled(agent, engine, 2);
      const [begin, end] = engine.calls;
      assert.equal(begin.method, 'beginTransaction');
      assert.equal(end.method, 'endTransaction');
      assert.equal(begin.request.account_tag, '1000');
      assert.equal(begin.request.destination_account_tag, '39040123456');
      assert.equal(begin.method === 'beginTransaction' ? begin.request.timestamp_begin : 0, 1_584_176_168_622_171);
      assert.equal(end.method === 'endTransaction' ? end.request.timestamp_end : 0, 1_584_176_169_628_078);
      assert.equal(begin.request.transaction_tag, '1-18@192.168.192.2');
    } finally {
      await agent.close();
    }
  });

  test('bad packets are counted by reason and logged (rate-limited) with their source address', async () => {
    const engine = new RecordingEngine();
    const { logger, records } = capturingLogger();
    const agent = await startHepAgent({ settings: agentSettings(), engine, logger });
    try {
      const truncated = KAMAILIO_UDP[0].subarray(0, 100);
      const garbage = Array.from({ length: 30 }, () => Buffer.from('DUMMY'));
      await sendUdp(agent.udpAddress!.port, [truncated, ...garbage]);
      await waitFor('31 packets', () => stat(agent, 'packets', 'udp', 'total') === 31);
      const errors = stat(agent, 'decode_errors') as Record<string, number>;
      assert.equal(Object.values(errors).reduce((a, b) => a + b, 0), 31);
      const warnings = records.filter((r) => r['msg'] === 'bad HEP packet dropped');
      assert.equal(warnings.length, 10, 'at most 10 per window');
      assert.match(String(warnings[0]['source']), /^127\.0\.0\.1:\d+$/);
      assert.equal(stat(agent, 'bad_packet_logs_suppressed'), 21);
      assert.equal(engine.calls.length, 0);
    } finally {
      await agent.close();
    }
  });

  test('HEPv1 and HEPv2 datagrams are counted per version and tracked like HEP3', async () => {
    const engine = new RecordingEngine();
    const agent = await startHepAgent({ settings: agentSettings({ hep_listen_tcp: '' }), engine, logger: silentLogger() });
    try {
      const hep2 = [1, 2, 3, 4, 5, 6].map((n) => hepFixture(`kamailio-udp-hep2-${n}.bin`));
      await sendUdp(agent.udpAddress!.port, hep2);
      await settled(agent, engine, 2);
      assert.equal(stat(agent, 'packets', 'udp', 'hep2'), 6);
      assert.deepEqual(engine.calls.map((c) => c.method), ['beginTransaction', 'endTransaction']);
    } finally {
      await agent.close();
    }
  });
});

describe('HEP agent with every UDP capture', () => {
  const cases: Array<[prefix: string, count: number]> = [
    ['kamailio-udp', 6],
    ['kamailio-udp-tm', 12],
    ['kamailio-udp-core', 13],
    ['kamailio-udp-extras', 7],
    ['kamailio-udp-hep1', 6],
    ['kamailio-udp-hep2', 6],
    ['opensips-udp', 3],
  ];

  test('message, transaction and core modes, HEPv1/v2, auth keys and LOG events: each call rated once', async () => {
    const engine = new RecordingEngine();
    // Some captures have no 200 OK: their ACK answers the call after one (short) settle period.
    const agent = await startHepAgent({ settings: agentSettings({ hep_listen_tcp: '' }), engine, logger: silentLogger(), sweepIntervalMs: 10, failureSettleSeconds: 0.05 });
    try {
      let total = 0;
      for (const [prefix, count] of cases) {
        const datagrams = Array.from({ length: count }, (_, i) => hepFixture(`${prefix}-${i + 1}.bin`));
        total += count;
        await sendUdp(agent.udpAddress!.port, datagrams);
      }
      await waitFor('every datagram', () => stat(agent, 'packets', 'udp', 'total') === total);
      await settled(agent, engine, cases.length * 2);
      const tags = [...new Set(engine.calls.map((c) => c.request.transaction_tag))];
      assert.equal(tags.length, cases.length);
      for (const tag of tags) assert.deepEqual(byTag(engine, tag), ['beginTransaction', 'endTransaction'], tag);
      assert.equal(stat(agent, 'internal_errors'), 0);
      assert.equal(stat(agent, 'sip_parse_errors'), 0);
      assert.equal(stat(agent, 'non_sip_packets'), 1, 'the hlog() LOG event');
      assert.equal(stat(agent, 'calls', 'answer_not_captured'), 0);
      assert.deepEqual(stat(agent, 'decode_errors'), {});
    } finally {
      await agent.close();
    }
  });
});

describe('HEP agent over TCP', () => {
  test('captured streams as captured, coalesced, and in 1-byte writes, on concurrent connections', async () => {
    const engine = new RecordingEngine();
    const agent = await startHepAgent({ settings: agentSettings(), engine, logger: silentLogger() });
    try {
      const port = agent.tcpAddress!.port;
      const asCaptured = hepFixture('kamailio-tcp-stream.bin');
      const coalesced = hepFixture('kamailio-tcp-coalesced-stream.bin');
      const oneByte = hepFixture('kamailio-tcp-smallreads-stream.bin');
      const tm = hepFixture('kamailio-tcp-tm-stream.bin');
      const sockets = await Promise.all([openTcp(port), openTcp(port), openTcp(port), openTcp(port)]);
      await Promise.all([
        writeInPieces(sockets[0], asCaptured, recvSizes('kamailio-tcp-stream.bin')),
        write(sockets[1], coalesced),
        writeInPieces(sockets[2], oneByte, new Array<number>(oneByte.length).fill(1)),
        writeInPieces(sockets[3], tm, recvSizes('kamailio-tcp-tm-stream.bin')),
      ]);
      await settled(agent, engine, 8);
      for (const [stream, tag] of [
        [asCaptured, '1-21843@127.0.0.1'],
        [coalesced, '1-22197@127.0.0.1'],
        [oneByte, '1-22374@127.0.0.1'],
        [tm, '1-22020@127.0.0.1'],
      ] as const) {
        const expected = expectedTimes(splitHep3Stream(stream));
        const calls = engine.calls.filter((c) => c.request.transaction_tag === tag);
        assert.deepEqual(
          calls.map((c) => [c.method, c.method === 'beginTransaction' ? c.request.timestamp_begin : c.method === 'endTransaction' ? c.request.timestamp_end : null]),
          [
            ['beginTransaction', expected.begin],
            ['endTransaction', expected.end],
          ],
          tag,
        );
      }
      assert.equal(stat(agent, 'packets', 'tcp', 'hep3'), 6 + 6 + 6 + 12);
      assert.equal(stat(agent, 'tcp', 'open_connections'), 4);
      await Promise.all(sockets.map(endTcp));
      await waitFor('connections closed', () => stat(agent, 'tcp', 'open_connections') === 0);
    } finally {
      await agent.close();
    }
  });

  test('an OpenSIPS call spread over three connections is rated once', async () => {
    const engine = new RecordingEngine();
    const agent = await startHepAgent({ settings: agentSettings(), engine, logger: silentLogger() });
    try {
      const port = agent.tcpAddress!.port;
      const streams = [1, 2, 3].map((n) => hepFixture(`opensips-tcp-tx-stream-conn${n}.bin`));
      const sockets = await Promise.all(streams.map(() => openTcp(port)));
      // The INVITE copies of connections 2 and 3 first, as they were sent during the connect.
      await write(sockets[1], streams[1]);
      await write(sockets[2], streams[2]);
      await write(sockets[0], streams[0]);
      await settled(agent, engine, 2);
      await waitFor('13 packets', () => stat(agent, 'packets', 'tcp', 'total') === 13);
      assert.deepEqual(byTag(engine, '1-24974@127.0.0.1'), ['beginTransaction', 'endTransaction']);
      const begin = engine.calls[0];
      assert.equal(begin.request.account_tag, '2000');
      assert.equal(begin.request.destination_account_tag, '2001');
      await Promise.all(sockets.map(endTcp));
    } finally {
      await agent.close();
    }
  });

  test('HEPv2 over TCP cannot be framed: the connection is closed and counted', async () => {
    const engine = new RecordingEngine();
    const { logger, records } = capturingLogger();
    const agent = await startHepAgent({ settings: agentSettings(), engine, logger });
    try {
      const socket = await openTcp(agent.tcpAddress!.port);
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.on('error', () => undefined); // a reset is fine too
      await write(socket, hepFixture('kamailio-tcp-hep2-stream.bin'));
      await closed;
      await waitFor('framing error counted', () => stat(agent, 'tcp', 'closed_on_framing_error') === 1);
      const framing = stat(agent, 'tcp', 'framing_errors') as Record<string, number>;
      assert.equal(Object.values(framing).reduce((a, b) => a + b, 0), 1);
      assert.ok(records.some((r) => String(r['msg']).includes('cannot be framed') && /^127\.0\.0\.1:\d+$/.test(String(r['source']))));
      assert.equal(engine.calls.length, 0);
    } finally {
      await agent.close();
    }
  });

  test('a bad magic after good messages: the good ones count, then the connection closes', async () => {
    const engine = new RecordingEngine();
    const agent = await startHepAgent({ settings: agentSettings(), engine, logger: silentLogger() });
    try {
      const socket = await openTcp(agent.tcpAddress!.port);
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.on('error', () => undefined);
      const good = splitHep3Stream(hepFixture('kamailio-tcp-stream.bin'));
      await write(socket, Buffer.concat([good[0], good[1], good[2], Buffer.from('GARBAGE-GARBAGE')]));
      await closed;
      await waitFor('3 packets', () => stat(agent, 'packets', 'tcp', 'hep3') === 3);
      await settled(agent, engine, 1);
      assert.deepEqual(byTag(engine, '1-21843@127.0.0.1'), ['beginTransaction']);
      assert.equal((stat(agent, 'tcp', 'framing_errors') as Record<string, number>)['bad_magic'], 1);
      assert.equal(stat(agent, 'calls', 'tracked'), 1);
    } finally {
      await agent.close();
    }
  });

  test('many long-lived connections at once; close() closes them all', async () => {
    const engine = new RecordingEngine();
    const agent = await startHepAgent({ settings: agentSettings(), engine, logger: silentLogger() });
    const port = agent.tcpAddress!.port;
    const template = hepFixture('kamailio-tcp-stream.bin');
    const sockets = await Promise.all(Array.from({ length: 200 }, () => openTcp(port)));
    try {
      // Each connection carries its own call (a distinct Call-ID of the same length).
      await Promise.all(
        sockets.map((socket, i) => write(socket, rewrite(template, '1-21843@127.0.0.1', `1-${String(i).padStart(5, '0')}@127.0.0.1`))),
      );
      await settled(agent, engine, 400);
      assert.equal(stat(agent, 'calls', 'opened'), 200);
      assert.equal(stat(agent, 'calls', 'ended'), 200);
      assert.equal(stat(agent, 'tcp', 'open_connections'), 200);
      const allClosed = Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve()))));
      for (const socket of sockets) socket.on('error', () => undefined);
      await agent.close();
      await allClosed;
    } finally {
      await agent.close();
      for (const socket of sockets) socket.destroy();
    }
  });

  test('idle connections are closed after the idle timeout', async () => {
    const engine = new RecordingEngine();
    const agent = await startHepAgent({ settings: agentSettings(), engine, logger: silentLogger(), tcpIdleTimeoutMs: 100 });
    try {
      const socket = await openTcp(agent.tcpAddress!.port);
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      await closed;
      assert.equal(stat(agent, 'tcp', 'closed_idle'), 1);
      await waitFor('the server to forget the connection', () => stat(agent, 'tcp', 'open_connections') === 0);
    } finally {
      await agent.close();
    }
  });
});

describe('HEP agent and the rating engine', () => {
  const invite = sipOf(KAMAILIO_UDP[0]);
  const callId = '1-20739@127.0.0.1';
  const busy = [
    'SIP/2.0 486 Busy Here',
    'Via: SIP/2.0/UDP 127.0.0.1:5280;branch=z9hG4bK-20739-1-0',
    'From: "Alice" <sip:1000@sip.example.com>;tag=20739SIPpTag001',
    'To: <sip:1001@sip.example.com>;tag=busy',
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');

  test('a busy callee is recorded as a failed attempt carrying the SIP status', async () => {
    const engine = new RecordingEngine();
    const agent = await startHepAgent({
      settings: agentSettings(),
      engine,
      logger: silentLogger(),
      sweepIntervalMs: 10,
      failureSettleSeconds: 0.05,
    });
    try {
      const t0 = 1_795_421_493_359_767;
      await sendUdp(agent.udpAddress!.port, [
        encodeHep3({ timestampMicros: t0, correlationId: callId, payload: invite }),
        encodeHep3({ timestampMicros: t0 + 812_345, payload: busy }),
      ]);
      await settled(agent, engine, 1);
      assert.deepEqual(engine.calls, [
        {
          method: 'recordTransaction',
          request: {
            tenant: 'default',
            transaction_tag: callId,
            account_tag: '1000',
            destination_account_tag: '1001',
            source: 'sip:1000@sip.example.com',
            source_ip: '10.0.0.1',
            destination: 'sip:1001@sip.example.com',
            carrier_ip: null,
            tags: ['VOICE'],
            authorized: false,
            unauthorized_reason: null,
            timestamp_auth: t0,
            timestamp_begin: t0 + 812_345,
            timestamp_end: t0 + 812_345,
            sip_status: 486,
          },
        },
      ]);
      assert.equal(stat(agent, 'calls', 'failed'), 1);
    } finally {
      await agent.close();
    }
  });

  test('a call whose BYE is never captured is closed after call_max_duration, flagged max_duration', async () => {
    const engine = new RecordingEngine();
    const agent = await startHepAgent({
      settings: agentSettings({ call_max_duration: 0.05, transaction_tags: ['hep', 'VOICE'] }),
      engine,
      logger: silentLogger(),
      sweepIntervalMs: 10,
    });
    try {
      await sendUdp(agent.udpAddress!.port, KAMAILIO_UDP.slice(0, 4));
      await settled(agent, engine, 2);
      const [begin, end] = engine.calls;
      assert.deepEqual(begin.method === 'beginTransaction' ? begin.request.tags : null, ['hep', 'VOICE']);
      assert.equal(end.method, 'endTransaction');
      assert.equal(end.method === 'endTransaction' ? end.request.end_reason : null, 'max_duration');
      assert.equal(end.method === 'endTransaction' ? end.request.timestamp_end : 0, 1_795_421_493_362_155 + 50_000);
      assert.equal(stat(agent, 'calls', 'timed_out'), 1);
    } finally {
      await agent.close();
    }
  });

  test('an end waits for its begin even when the engine is slow to answer the begin', async () => {
    const engine = new RecordingEngine();
    engine.beginDelayMs = 100;
    const agent = await startHepAgent({ settings: agentSettings(), engine, logger: silentLogger() });
    try {
      await sendUdp(agent.udpAddress!.port, KAMAILIO_UDP);
      await settled(agent, engine, 2);
      assert.deepEqual(engine.calls.map((c) => c.method), ['beginTransaction', 'endTransaction']);
    } finally {
      await agent.close();
    }
  });

  test('engine failures and rejections are counted and logged, and the agent keeps working', async () => {
    const engine = new RecordingEngine();
    engine.failWith = new Error('database is locked');
    const { logger, records } = capturingLogger();
    const agent = await startHepAgent({ settings: agentSettings(), engine, logger });
    try {
      await sendUdp(agent.udpAddress!.port, KAMAILIO_UDP);
      await settled(agent, engine, 2);
      assert.equal(stat(agent, 'transactions', 'engine_errors'), 2);
      assert.equal(records.filter((r) => r['msg'] === 'rating engine call failed').length, 2);
      engine.failWith = null;
      engine.answer = { ok: false, failed_account_tag: '1000', failed_reason: 'NOT_FOUND' };
      const other = KAMAILIO_UDP.map((d) => rewrite(d, '1-20739@127.0.0.1', '1-99999@127.0.0.1'));
      await sendUdp(agent.udpAddress!.port, other);
      await settled(agent, engine, 4);
      assert.equal(stat(agent, 'transactions', 'engine_rejected'), 2);
      const rejected = records.find((r) => r['msg'] === 'rating engine rejected a call operation');
      assert.equal(rejected?.['failed_reason'], 'NOT_FOUND');
    } finally {
      await agent.close();
    }
  });

  test('close() waits for engine operations still in flight', async () => {
    const engine = new RecordingEngine();
    engine.beginDelayMs = 150;
    const agent = await startHepAgent({ settings: agentSettings(), engine, logger: silentLogger() });
    await sendUdp(agent.udpAddress!.port, KAMAILIO_UDP);
    await waitFor('6 packets', () => stat(agent, 'packets', 'udp', 'total') === 6);
    await agent.close();
    assert.deepEqual(engine.calls.map((c) => c.method), ['beginTransaction', 'endTransaction']);
  });

  for (const udpReceiveThread of [true, false]) {
    test(`UDP received ${udpReceiveThread ? 'on its own thread (default)' : 'on the main thread'}: the call is rated the same`, async () => {
      const engine = new RecordingEngine();
      const agent = await startHepAgent({ settings: agentSettings({ hep_listen_tcp: '' }), engine, logger: silentLogger(), udpReceiveThread });
      try {
        assert.equal(stat(agent, 'listeners', 'udp_receive_thread'), udpReceiveThread);
        await sendUdp(agent.udpAddress!.port, KAMAILIO_UDP);
        await settled(agent, engine, 2);
        assert.deepEqual(byTag(engine, '1-20739@127.0.0.1'), ['beginTransaction', 'endTransaction']);
        assert.equal(stat(agent, 'packets', 'udp', 'total'), 6);
        assert.equal(stat(agent, 'udp_backlog_drops'), 0);
      } finally {
        await agent.close();
      }
    });
  }

  test('the UDP receive buffer is raised (8 MiB asked by default) and shown in the stats', async () => {
    const small = await startHepAgent({ settings: agentSettings({ hep_listen_tcp: '' }), engine: new RecordingEngine(), logger: silentLogger(), udpReceiveBufferBytes: 64 * 1024 });
    const large = await startHepAgent({ settings: agentSettings({ hep_listen_tcp: '' }), engine: new RecordingEngine(), logger: silentLogger() });
    try {
      const smallBytes = stat(small, 'listeners', 'udp_receive_buffer_bytes');
      const largeBytes = stat(large, 'listeners', 'udp_receive_buffer_bytes');
      assert.equal(typeof smallBytes, 'number');
      assert.equal(typeof largeBytes, 'number');
      // The kernel may cap the size (net.core.rmem_max), but never grants less than asked below it.
      assert.ok((largeBytes as number) > (smallBytes as number), `${largeBytes} > ${smallBytes}`);
      assert.ok((smallBytes as number) >= 64 * 1024);
    } finally {
      await small.close();
      await large.close();
    }
  });

  test('both listeners disabled: the agent starts with no listener', async () => {
    const agent = await startHepAgent({
      settings: agentSettings({ hep_listen_udp: '', hep_listen_tcp: '' }),
      engine: new RecordingEngine(),
      logger: silentLogger(),
    });
    assert.equal(agent.udpAddress, null);
    assert.equal(agent.tcpAddress, null);
    await agent.close();
  });
});

// The agent's call state end to end over real UDP: two agents sharing one call through Redis
// (state_url=redis://), and one agent restarted mid-call with its calls saved to a file
// (state_url=memory, state_file).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startHepAgent, type HepAgent } from '../../src/transports/hep-agent.ts';
import { SERVICES, skipUnlessServices } from '../support/services.ts';
import {
  RecordingEngine,
  agentSettings,
  capturingLogger,
  expectedTimes,
  hepFixture,
  sendUdp,
  silentLogger,
  waitFor,
} from './support.ts';

const skipRedis = await skipUnlessServices(['redis']);
// INVITE, 180, 200, ACK, BYE, 200 (BYE) of one Kamailio call, Call-ID 1-20739@127.0.0.1.
const call = [1, 2, 3, 4, 5, 6].map((n) => hepFixture(`kamailio-udp-${n}.bin`));
const [invite, ringing, answer, ack, bye, byeOk] = call;
const TAG = '1-20739@127.0.0.1';

function stateOf(agent: HepAgent): Record<string, number> {
  return agent.stats().state as Record<string, number>;
}

const dir = mkdtempSync(join(tmpdir(), 'hep-agent-state-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('HEP agents sharing call state in Redis', { skip: skipRedis }, () => {
  const prefix = `test-h2-agent-${randomUUID().slice(0, 8)}:`;

  after(async () => {
    const redis = new Redis(SERVICES.redis.url);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  test('a call split across two agents, its answer ahead of its INVITE, is begun and ended once', async () => {
    const engine = new RecordingEngine();
    const settings = agentSettings({ hep_listen_tcp: '', state_url: SERVICES.redis.url, state_key_prefix: prefix });
    const a = await startHepAgent({ settings, engine, logger: silentLogger(), udpReceiveThread: false });
    const b = await startHepAgent({ settings, engine, logger: silentLogger(), udpReceiveThread: false });
    try {
      const portA = a.udpAddress!.port;
      const portB = b.udpAddress!.port;
      // The ringing and the answer reach agent B before agent A has seen the INVITE.
      await sendUdp(portB, [ringing, answer]);
      await waitFor('answer parked', () => stateOf(b).parked === 2);
      await sendUdp(portA, [invite]);
      await waitFor('begin', () => engine.calls.length === 1);
      await sendUdp(portA, [ack, answer]); // and a mirrored copy of the answer
      await sendUdp(portB, [bye]);
      await sendUdp(portA, [bye, byeOk]);
      await waitFor('end', () => engine.calls.length >= 2);
      await new Promise((resolve) => setTimeout(resolve, 100)); // room for a duplicate to show up
      const { begin, end } = expectedTimes(call);
      assert.deepEqual(
        engine.calls.map((c) => [c.method, c.request.transaction_tag, 'timestamp_begin' in c.request ? c.request.timestamp_begin : c.request.timestamp_end]),
        [
          ['beginTransaction', TAG, begin],
          ['endTransaction', TAG, end],
        ],
      );
      const stats = a.stats();
      assert.equal((stats.calls as Record<string, number>).opened, 1);
      assert.equal(stateOf(a).parked_applied, 2);
      assert.equal((stats.state as Record<string, unknown>).kind, 'redis');
      // Each agent's outlet got only the intents its own tracker won.
      const transactions = [a, b].map((agent) => agent.stats().transactions as Record<string, number>);
      assert.equal(transactions[0].begin, 1, 'the agent that opened the call applied the parked answer');
      assert.equal(transactions[0].end + transactions[1].end, 1);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('HEP agent with its calls saved to a file (state_url=memory)', () => {
  test('an agent restarted mid-call restores the call and ends it', async () => {
    const engine = new RecordingEngine();
    const stateFile = join(dir, 'saved', 'agent-calls.json');
    const settings = agentSettings({ hep_listen_tcp: '', state_file: stateFile });
    const first = await startHepAgent({ settings, engine, logger: silentLogger(), udpReceiveThread: false });
    await sendUdp(first.udpAddress!.port, [invite, ringing, answer, ack]);
    await waitFor('begin', () => engine.calls.length === 1);
    await first.close();
    assert.ok(existsSync(stateFile), 'saved on a clean stop');

    const { logger, records } = capturingLogger();
    const second = await startHepAgent({ settings, engine, logger, udpReceiveThread: false });
    try {
      assert.equal(existsSync(stateFile), false, 'consumed on start');
      assert.ok(records.some((r) => r.msg === 'open calls restored from the saved call state' && r.calls === 1));
      assert.equal((second.stats().calls as Record<string, number>).tracked, 1);
      await sendUdp(second.udpAddress!.port, [bye, byeOk]);
      await waitFor('end', () => engine.calls.length === 2);
      const ended = engine.calls[1];
      assert.equal(ended.method, 'endTransaction');
      assert.equal(ended.request.transaction_tag, TAG);
      assert.equal(ended.method === 'endTransaction' ? ended.request.timestamp_end : 0, expectedTimes(call).end);
    } finally {
      await second.close();
    }
    // Saved again on this stop: the finished call's tombstone, which absorbs late copies.
    const third = await startHepAgent({ settings, engine, logger: silentLogger(), udpReceiveThread: false });
    try {
      await sendUdp(third.udpAddress!.port, [bye]);
      await waitFor('late copy absorbed', () => (third.stats().calls as Record<string, number>).after_end === 1);
      assert.equal(engine.calls.length, 2);
    } finally {
      await third.close();
    }
  });

  test('a start that fails (port taken) puts the restored calls back in the file', async () => {
    const engine = new RecordingEngine();
    const stateFile = join(dir, 'failed-start', 'agent-calls.json');
    const first = await startHepAgent({ settings: agentSettings({ hep_listen_tcp: '', state_file: stateFile }), engine, logger: silentLogger(), udpReceiveThread: false });
    await sendUdp(first.udpAddress!.port, [invite, answer]);
    await waitFor('begin', () => engine.calls.length === 1);
    await first.close();
    const taken = createSocket('udp4');
    await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', resolve));
    try {
      const settings = agentSettings({ hep_listen_tcp: '', hep_listen_udp: `127.0.0.1:${taken.address().port}`, state_file: stateFile });
      await assert.rejects(startHepAgent({ settings, engine, logger: silentLogger(), udpReceiveThread: false }), /EADDRINUSE/);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
    assert.ok(existsSync(stateFile));
    const again = await startHepAgent({ settings: agentSettings({ hep_listen_tcp: '', state_file: stateFile }), engine, logger: silentLogger(), udpReceiveThread: false });
    try {
      assert.equal((again.stats().calls as Record<string, number>).tracked, 1);
    } finally {
      await again.close();
    }
  });

  test('a corrupt state file is moved aside and logged; the agent starts with no calls', async () => {
    const stateFile = join(dir, 'corrupt', 'agent-calls.json');
    const settings = agentSettings({ hep_listen_tcp: '', state_file: stateFile });
    mkdirSync(join(dir, 'corrupt'));
    writeFileSync(stateFile, 'not json at all');
    const { logger, records } = capturingLogger();
    const agent = await startHepAgent({ settings, engine: new RecordingEngine(), logger, udpReceiveThread: false });
    try {
      const logged = records.find((r) => r.msg === 'saved call state cannot be used: moved aside, starting with no open calls');
      assert.ok(logged !== undefined);
      assert.equal(logged.level, 50);
      assert.ok(typeof logged.moved_to === 'string' && existsSync(logged.moved_to));
      assert.equal((agent.stats().calls as Record<string, number>).tracked, 0);
    } finally {
      await agent.close();
    }
    // The stop wrote a fresh (empty) state next to the file moved aside.
    assert.equal(readdirSync(join(dir, 'corrupt')).length, 2);
  });
});

// OpenSIPS into the agent. OpenSIPS is not packaged for this machine, so every run replays the real
// OpenSIPS 3.4 captures byte for byte over TCP into `canyan-rating start` and checks the rated
// calls through the API; with an `opensips` binary on the PATH, a live run of Canyan's
// test_opensips_call.yaml through our integrations/opensips configuration is added.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { runScenario } from '../../src/scenarios/runner.ts';
import { freePort, missingPrograms, ProcessGroup, REPO, startCarrier, startRatingSystem, waitForUdpPort } from './harness.ts';

const FIXTURES = join(REPO, '..', 'shared', 'fixtures');

async function graphql(apiUrl: string, query: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${apiUrl}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  const body = (await response.json()) as { data: Record<string, unknown>; errors?: unknown };
  assert.equal(response.status, 200, JSON.stringify(body));
  return body.data;
}

/** Writes a stream to a new TCP connection exactly as captured, in writes of `chunk` bytes. */
async function replayStream(port: number, stream: Buffer, chunk: number): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((done, fail) => socket.once('connect', done).once('error', fail));
  socket.setNoDelay(true);
  for (let offset = 0; offset < stream.length; offset += chunk) {
    socket.write(stream.subarray(offset, offset + chunk));
    if (chunk < stream.length) await new Promise((r) => setImmediate(r));
  }
  await new Promise<void>((done) => socket.end(done));
}

async function waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A fresh system per replay, so each case proves its own transactions. */
async function startSeededSystem(group: ProcessGroup): Promise<{ apiUrl: string; hepPort: number }> {
  const started = await startRatingSystem(group, { RATING_AGENT_HEP_SIP_LOCAL_DOMAINS: 'sip.example.com' });
  await graphql(
    started.apiUrl,
    `mutation {
      a:upsertAccount(account_tag: "2000", type: PREPAID, balance: 1000) { id }
      b:upsertAccount(account_tag: "2001", type: PREPAID, balance: 1000) { id }
      upsertCarrier(carrier_tag: "carrier", protocol: UDP, host: "127.0.0.1", port: 5070) { id }
      upsertPricelist(pricelist_tag: "pricelist", currency: EUR) { id }
      upsertPricelistRate(carrier_tag: "carrier", pricelist_tag: "pricelist", prefix: "sip:2001", rate: 1, rate_increment: 1, connect_fee: 0, interval_start: 0) { id }
    }`,
  );
  return { apiUrl: started.apiUrl, hepPort: started.ports.hep };
}

describe('OpenSIPS 3.4 captures replayed over TCP into canyan-rating start', { timeout: 180_000 }, () => {
  const cases = [
    { name: 'message scope, one connection, as captured', files: ['opensips-tcp-stream.bin'], chunk: Number.MAX_SAFE_INTEGER, callId: '1-24901@127.0.0.1' },
    { name: 'message scope, in 7-byte writes', files: ['opensips-tcp-stream.bin'], chunk: 7, callId: '1-24901@127.0.0.1' },
    {
      name: 'transaction scope over three connections',
      files: ['opensips-tcp-tx-stream-conn1.bin', 'opensips-tcp-tx-stream-conn2.bin', 'opensips-tcp-tx-stream-conn3.bin'],
      chunk: Number.MAX_SAFE_INTEGER,
      callId: '1-24974@127.0.0.1',
    },
    { name: 'synchronous writes, coalesced reads', files: ['opensips-tcp-txsync-stream.bin'], chunk: Number.MAX_SAFE_INTEGER, callId: null },
  ];

  for (const replay of cases) {
    test(replay.name, async () => {
      const group = new ProcessGroup();
      try {
        await replayAndCheck(group, replay);
      } finally {
        await group.stopAll();
      }
    });
  }
});

async function replayAndCheck(group: ProcessGroup, replay: { files: string[]; chunk: number; callId: string | null }): Promise<void> {
  const { apiUrl, hepPort } = await startSeededSystem(group);
  const streams = replay.files.map((file) => readFileSync(join(FIXTURES, 'hep', file)));
  // Connections are opened in order (as OpenSIPS did), then the streams are written.
  for (const stream of streams) await replayStream(hepPort, stream, replay.chunk);
  const callId = replay.callId ?? /Call-ID: *([^\r\n]+)/i.exec(streams[0].toString('latin1'))?.[1] ?? '';
  const records = await waitFor('both transaction records', async () => {
    const data = await graphql(
      apiUrl,
      `{ caller:Transaction(transaction_tag: ${JSON.stringify(callId)}, account_tag: "2000") { inbound primary source destination duration fee timestamp_begin timestamp_end }
         callee:Transaction(transaction_tag: ${JSON.stringify(callId)}, account_tag: "2001") { inbound primary fee } }`,
    );
    const caller = data.caller as Record<string, unknown> | null;
    return caller !== null && caller.timestamp_end !== null && data.callee !== null ? data : null;
  });
  const caller = records.caller as Record<string, unknown>;
  assert.equal(caller.inbound, false);
  assert.equal(caller.primary, true);
  assert.equal(caller.source, 'sip:2000@sip.example.com');
  assert.equal(caller.destination, 'sip:2001@sip.example.com');
  assert.equal(typeof caller.fee, 'number');
  assert.equal(caller.fee, caller.duration, 'one unit per started second');
  assert.deepEqual(records.callee, { inbound: true, primary: true, fee: 0 });
  // Replaying the same capture again changes nothing.
  const before = await graphql(apiUrl, '{ Account(account_tag: "2000") { balance } }');
  for (const stream of streams) await replayStream(hepPort, stream, Number.MAX_SAFE_INTEGER);
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(await graphql(apiUrl, '{ Account(account_tag: "2000") { balance } }'), before);
}

const missingOpensips = missingPrograms(['opensips', 'sipp']);
describe('OpenSIPS live end to end (our integrations/opensips configuration)', {
  skip: missingOpensips.length > 0 ? `skipped: ${missingOpensips.join(', ')} not on the PATH (OpenSIPS is not packaged for this machine; the capture replay above covers its HEP)` : false,
  timeout: 120_000,
}, () => {
  const group = new ProcessGroup();
  after(async () => {
    await group.stopAll();
  });

  test("Canyan's test_opensips_call.yaml runs unchanged", async () => {
    const { apiUrl, ports } = await startRatingSystem(group, { RATING_AGENT_HEP_SIP_LOCAL_DOMAINS: 'sip.canyan.io' });
    const carrierPort = await freePort();
    await startCarrier(group, 'uas_answer.xml', carrierPort);
    const sipPort = await freePort();
    const hepListenPort = await freePort();
    const dir = group.tempDir('canyan-e2e-opensips-');
    mkdirSync(join(dir, 'dbtext'));
    copyFileSync(join(REPO, 'integrations', 'opensips', 'dbtext', 'version'), join(dir, 'dbtext', 'version'));
    const dispatcher = readFileSync(join(REPO, 'integrations', 'opensips', 'dbtext', 'dispatcher'), 'utf8').replace('127.0.0.1\\:5070', `127.0.0.1\\:${carrierPort}`);
    writeFileSync(join(dir, 'dbtext', 'dispatcher'), dispatcher);
    const config = readFileSync(join(REPO, 'integrations', 'opensips', 'opensips.cfg'), 'utf8')
      .replace('socket = udp:127.0.0.1:5060', `socket = udp:127.0.0.1:${sipPort}`)
      .replace('socket = hep_tcp:127.0.0.1:6061', `socket = hep_tcp:127.0.0.1:${hepListenPort}`)
      .replace('text:///etc/opensips/dbtext', `text://${join(dir, 'dbtext')}`)
      .replace('127.0.0.1:9060; transport=tcp', `127.0.0.1:${ports.hep}; transport=tcp`)
      .replace(/^mpath = .*$/m, process.env.OPENSIPS_MPATH === undefined ? '' : `mpath = "${process.env.OPENSIPS_MPATH}"`);
    writeFileSync(join(dir, 'opensips.cfg'), config);
    const opensips = group.start('opensips', 'opensips', ['-F', '-f', join(dir, 'opensips.cfg')]);
    await waitForUdpPort(sipPort, 15_000, opensips);
    const lines: string[] = [];
    const result = await runScenario({
      file: join(FIXTURES, 'canyan', 'scenarios', 'test_opensips_call.yaml'),
      target: `127.0.0.1:${sipPort}`,
      apiUrl,
      sipp: 'sipp',
      setup: true,
      teardown: true,
      seed: 1,
      verbose: false,
      log: (line) => lines.push(line),
      directory: group.tempDir('canyan-e2e-scenario-'),
    });
    assert.ok(result.ok, `${result.failures.join('\n')}\n${lines.join('\n')}\n--- opensips:\n${group.outputOf('opensips')}`);
  });
});

// End to end: a real HEP agent on 127.0.0.1, the real rating engine over a real SQLite file, and
// the captured Kamailio and OpenSIPS calls replayed over real UDP and TCP sockets. The assertions
// are on the transactions stored in the database.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Transaction } from '../../src/domain/types.ts';
import { createRatingEngine } from '../../src/rating/engine.ts';
import type { RatingEngine } from '../../src/rating/engine-types.ts';
import { computeFee } from '../../src/rating/fees.ts';
import { openSqliteStorage } from '../../src/storage/sqlite/index.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { startHepAgent, type HepAgent, type HepAgentSettings } from '../../src/transports/hep-agent.ts';
import { agentSettings,
  encodeHep3,
  endTcp,
  expectedTimes,
  hepFixture,
  openTcp,
  recvSizes,
  sendUdp,
  silentLogger,
  sipOf,
  splitHep3Stream,
  waitFor,
  write,
  writeInPieces,
} from './support.ts';

const TENANT = 'default';
const CONNECT_FEE = 100;
const RATE_PER_SECOND = 7;


async function seed(storage: Storage): Promise<void> {
  await storage.transaction(async (repo) => {
    await repo.upsert('carrier', { key: { tenant: TENANT, carrier_tag: 'carrier1' } }, { host: 'carrier1.example.net', port: 5060, protocol: 'UDP', active: true });
    await repo.upsert('pricelist', { key: { tenant: TENANT, pricelist_tag: 'pl' } }, { name: 'test', currency: 'EUR' });
    for (const prefix of ['sip:100', 'sip:200']) {
      await repo.upsert(
        'pricelist_rate',
        { key: { tenant: TENANT, pricelist_tag: 'pl', carrier_tag: 'carrier1', prefix } },
        { active: true, connect_fee: CONNECT_FEE, rate: RATE_PER_SECOND, rate_increment: 1, interval_start: 0, description: prefix },
      );
    }
    for (const tag of ['1000', '1001', '2000', '2001']) {
      await repo.upsert(
        'account',
        { key: { tenant: TENANT, account_tag: tag } },
        { type: 'POSTPAID', balance: 0, active: true, pricelist_tags: ['pl'], max_concurrent_transactions: 100, tags: ['hep'] },
      );
    }
  });
}

async function transactionsOf(storage: Storage, transactionTag: string): Promise<Transaction[]> {
  return storage.transaction((repo) =>
    repo.list('transaction', {
      filter: [{ kind: 'eq', field: 'transaction_tag', value: transactionTag }],
      sortField: 'account_tag',
      ascending: true,
      offset: 0,
      limit: null,
    }),
  );
}

async function balanceOf(storage: Storage, accountTag: string): Promise<number> {
  const account = await storage.transaction((repo) => repo.get('account', { key: { tenant: TENANT, account_tag: accountTag } }));
  return account?.balance ?? Number.NaN;
}

describe('HEP agent end to end (real engine, real SQLite file, real sockets)', () => {
  let dir: string;
  let storage: Storage;
  let engine: RatingEngine;
  let agent: HepAgent;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hep-agent-e2e-'));
    storage = await openSqliteStorage({ path: join(dir, 'rating.db') });
    await storage.migrate();
    await seed(storage);
    engine = createRatingEngine({ storage });
    agent = await startHepAgent({ settings: agentSettings(), engine, logger: silentLogger() });
  });

  after(async () => {
    await agent.close();
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // Every captured call, how it is replayed, and its messages (for the expected times).
  const udpKamailio = [1, 2, 3, 4, 5, 6].map((n) => hepFixture(`kamailio-udp-${n}.bin`));
  const udpOpensips = [1, 2, 3].map((n) => hepFixture(`opensips-udp-${n}.bin`));
  const tcpAsCaptured = hepFixture('kamailio-tcp-stream.bin');
  const tcpCoalesced = hepFixture('kamailio-tcp-coalesced-stream.bin');
  const tcpOpensipsOneByte = hepFixture('opensips-tcp-stream.bin');
  const tcpOpensipsTx = [1, 2, 3].map((n) => hepFixture(`opensips-tcp-tx-stream-conn${n}.bin`));
  const calls = [
    { tag: '1-20739@127.0.0.1', caller: '1000', callee: '1001', messages: udpKamailio },
    { tag: '1-25187@127.0.0.1', caller: '2000', callee: '2001', messages: udpOpensips },
    { tag: '1-21843@127.0.0.1', caller: '1000', callee: '1001', messages: splitHep3Stream(tcpAsCaptured) },
    { tag: '1-22197@127.0.0.1', caller: '1000', callee: '1001', messages: splitHep3Stream(tcpCoalesced) },
    { tag: '1-24901@127.0.0.1', caller: '2000', callee: '2001', messages: splitHep3Stream(tcpOpensipsOneByte) },
    { tag: '1-24974@127.0.0.1', caller: '2000', callee: '2001', messages: tcpOpensipsTx.flatMap(splitHep3Stream) },
  ];

  test('captured calls replayed over UDP and TCP are rated and stored with their SIP times', async () => {
    const udpPort = agent.udpAddress!.port;
    const tcpPort = agent.tcpAddress!.port;
    const sockets = await Promise.all(Array.from({ length: 6 }, () => openTcp(tcpPort)));
    await Promise.all([
      sendUdp(udpPort, udpKamailio),
      sendUdp(udpPort, udpOpensips),
      writeInPieces(sockets[0], tcpAsCaptured, recvSizes('kamailio-tcp-stream.bin')),
      write(sockets[1], tcpCoalesced),
      writeInPieces(sockets[2], tcpOpensipsOneByte, new Array<number>(tcpOpensipsOneByte.length).fill(1)),
      (async () => {
        // OpenSIPS spread this call over three connections; replay them in parallel.
        await Promise.all([write(sockets[4], tcpOpensipsTx[1]), write(sockets[5], tcpOpensipsTx[2])]);
        await write(sockets[3], tcpOpensipsTx[0]);
      })(),
    ]);
    await waitFor('every call ended', () => {
      const stats = agent.stats() as { calls: { ended: number }; transactions: { in_flight: number } };
      return stats.calls.ended === calls.length && stats.transactions.in_flight === 0;
    }, 10_000);
    await Promise.all(sockets.map(endTcp));

    let fees1000 = 0;
    let fees2000 = 0;
    for (const call of calls) {
      const expected = expectedTimes(call.messages);
      const stored = await transactionsOf(storage, call.tag);
      assert.equal(stored.length, 2, `${call.tag}: one record per account`);
      const [caller, callee] = stored;
      const { fee, duration } = computeFee(caller.destination_rate, expected.begin, expected.end);
      assert.ok(fee >= CONNECT_FEE + RATE_PER_SECOND, `${call.tag}: rated with the seeded rate (fee ${fee})`);
      assert.deepEqual(
        {
          account_tag: caller.account_tag,
          timestamp_begin: caller.timestamp_begin,
          timestamp_end: caller.timestamp_end,
          duration: caller.duration,
          fee: caller.fee,
          inbound: caller.inbound,
          primary: caller.primary,
          source: caller.source,
          destination: caller.destination,
          prefix: caller.destination_rate?.prefix,
          end_reason: caller.end_reason,
        },
        {
          account_tag: call.caller,
          timestamp_begin: expected.begin,
          timestamp_end: expected.end,
          duration,
          fee,
          inbound: false,
          primary: true,
          source: `sip:${call.caller}@sip.example.com`,
          destination: `sip:${call.callee}@sip.example.com`,
          prefix: call.caller === '1000' ? 'sip:100' : 'sip:200',
          end_reason: null,
        },
        call.tag,
      );
      assert.ok(caller.tags?.includes('VOICE'), `${call.tag}: product tag stored`);
      assert.equal(callee.account_tag, call.callee);
      assert.equal(callee.inbound, true);
      assert.equal(callee.fee, 0, 'receiving a call is free');
      assert.equal(callee.timestamp_begin, expected.begin);
      if (call.caller === '1000') fees1000 += fee;
      else fees2000 += fee;
    }
    assert.equal(await balanceOf(storage, '1000'), -fees1000);
    assert.equal(await balanceOf(storage, '2000'), -fees2000);

    // The Kamailio UDP call, checked against the capture dump: 200 OK at 08:11:33.362155,
    // BYE at 08:11:33.866932: 0.504777 s, billed as 1 s.
    const [kamailio] = await transactionsOf(storage, '1-20739@127.0.0.1');
    assert.equal(kamailio.timestamp_begin, 1_795_421_493_362_155);
    assert.equal(kamailio.timestamp_end, 1_795_421_493_866_932);
    assert.equal(kamailio.duration, 1);
    assert.equal(kamailio.fee, CONNECT_FEE + RATE_PER_SECOND);

    const stats = agent.stats() as {
      transactions: { engine_errors: number; engine_rejected: number };
      calls: { opened: number; answered: number; failed: number };
    };
    assert.equal(stats.transactions.engine_errors, 0);
    assert.equal(stats.transactions.engine_rejected, 0);
    assert.equal(stats.calls.opened, calls.length);
    assert.equal(stats.calls.answered, calls.length);
  });

  test('replaying the same captures again changes nothing (late copies are absorbed)', async () => {
    const before = await balanceOf(storage, '1000');
    await sendUdp(agent.udpAddress!.port, udpKamailio);
    const socket = await openTcp(agent.tcpAddress!.port);
    await write(socket, tcpCoalesced);
    await endTcp(socket);
    await waitFor('the replayed packets', () => {
      const stats = agent.stats() as { packets: { udp: { total: number }; tcp: { total: number } } };
      return stats.packets.udp.total >= 6 + 3 + 6;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(await balanceOf(storage, '1000'), before);
    assert.equal((await transactionsOf(storage, '1-20739@127.0.0.1')).length, 2);
  });

  test('a busy callee is stored as a zero-fee transaction with SIP status 486', async () => {
    const failing = await startHepAgent({
      settings: agentSettings({ hep_listen_tcp: '' }),
      engine,
      logger: silentLogger(),
      sweepIntervalMs: 10,
      failureSettleSeconds: 0.05,
    });
    try {
      const invite = sipOf(udpKamailio[0]).replaceAll('1-20739@127.0.0.1', 'busy-call@127.0.0.1');
      const busy = [
        'SIP/2.0 486 Busy Here',
        'Via: SIP/2.0/UDP 127.0.0.1:5280;branch=z9hG4bK-20739-1-0',
        'From: "Alice" <sip:1000@sip.example.com>;tag=20739SIPpTag001',
        'To: <sip:1001@sip.example.com>;tag=busy',
        'Call-ID: busy-call@127.0.0.1',
        'CSeq: 1 INVITE',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      const t0 = 1_795_421_600_123_456;
      const balance = await balanceOf(storage, '1000');
      await sendUdp(failing.udpAddress!.port, [
        encodeHep3({ timestampMicros: t0, correlationId: 'busy-call@127.0.0.1', payload: invite }),
        encodeHep3({ timestampMicros: t0 + 2_500_001, correlationId: 'busy-call@127.0.0.1', payload: busy }),
      ]);
      await waitFor('the failed attempt recorded', () => {
        const stats = failing.stats() as { transactions: { record: number; in_flight: number } };
        return stats.transactions.record === 1 && stats.transactions.in_flight === 0;
      });
      const [caller] = await transactionsOf(storage, 'busy-call@127.0.0.1');
      assert.equal(caller.account_tag, '1000');
      assert.equal(caller.sip_status, 486);
      assert.equal(caller.fee, 0);
      assert.equal(caller.authorized, false);
      assert.equal(caller.timestamp_begin, t0 + 2_500_001);
      assert.equal(caller.timestamp_end, t0 + 2_500_001);
      assert.equal(caller.timestamp_auth, t0, 'the INVITE time');
      assert.equal(await balanceOf(storage, '1000'), balance);
    } finally {
      await failing.close();
    }
  });

  test('a call whose BYE is never captured is closed at begin + call_max_duration and flagged', async () => {
    const short = await startHepAgent({
      settings: agentSettings({ hep_listen_tcp: '', call_max_duration: 0.2 }),
      engine,
      logger: silentLogger(),
      sweepIntervalMs: 10,
    });
    try {
      // The transaction-mode capture without its BYE (and the BYE's 200): messages 1-8.
      const withoutBye = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => hepFixture(`kamailio-udp-tm-${n}.bin`));
      const answer = expectedTimes([...withoutBye, hepFixture('kamailio-udp-tm-9.bin')]).begin;
      await sendUdp(short.udpAddress!.port, withoutBye);
      await waitFor('the call timed out', () => {
        const stats = short.stats() as { calls: { timed_out: number }; transactions: { in_flight: number } };
        return stats.calls.timed_out === 1 && stats.transactions.in_flight === 0;
      });
      const [caller] = await transactionsOf(storage, '1-20923@127.0.0.1');
      assert.equal(caller.end_reason, 'max_duration');
      assert.equal(caller.timestamp_begin, answer);
      assert.equal(caller.timestamp_end, answer + 200_000);
      assert.equal(caller.fee, CONNECT_FEE + RATE_PER_SECOND);
    } finally {
      await short.close();
    }
  });
});

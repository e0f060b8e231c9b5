// Rating-core benchmarks: complete calls (authorization + begin + end, committed) per second
// through the engine in-process and through the HTTP agent endpoints, on the embedded SQLite
// database; and destination-rate lookups per second against a price list of 1,000,000 prefixes.
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStorage } from '../src/storage/sqlite/index.ts';
import { createRatingEngine } from '../src/rating/engine.ts';
import { RateIndex } from '../src/rating/rate-index.ts';
import type { Storage } from '../src/storage/storage.ts';
import type { PricelistRate } from '../src/domain/types.ts';
import type { RatingEngine } from '../src/rating/engine-types.ts';
import type { BenchRow } from './types.ts';

const ACCOUNTS = 50;
const START = Date.UTC(2026, 0, 1) * 1000;

async function seed(storage: Storage): Promise<void> {
  await storage.transaction(async (repo) => {
    await repo.upsert('carrier', { key: { tenant: 'default', carrier_tag: 'C1' } }, { host: 'carrier.example', port: 5060, protocol: 'UDP', active: true });
    await repo.upsert('pricelist', { key: { tenant: 'default', pricelist_tag: 'P1' } }, { name: 'bench', currency: 'EUR' });
    await repo.upsert(
      'pricelist_rate',
      { key: { tenant: 'default', pricelist_tag: 'P1', prefix: '39', carrier_tag: 'C1' } },
      { active: true, connect_fee: 10, rate: 2, rate_increment: 1, interval_start: 0 },
    );
    for (let i = 0; i < ACCOUNTS; i++) {
      await repo.upsert('account', { key: { tenant: 'default', account_tag: `A${i}` } }, { type: 'PREPAID', balance: 1_000_000_000, active: true });
    }
  });
}

/** Runs `calls` complete calls with `concurrency` in flight; returns calls per second. */
async function driveCalls(call: (n: number) => Promise<void>, calls: number, concurrency: number): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (next < calls) {
      const n = next++;
      await call(n);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return calls / seconds;
}

function engineCall(engine: RatingEngine, run: string): (n: number) => Promise<void> {
  return async (n) => {
    const base = {
      tenant: 'default',
      transaction_tag: `${run}-${n}`,
      account_tag: `A${n % ACCOUNTS}`,
      destination_account_tag: null,
    };
    const begin = START + n * 1000;
    const auth = await engine.authorization({ ...base, source: '1000', source_ip: null, destination: '39040123456', carrier_ip: null, tags: null, timestamp_auth: begin });
    if (!auth.authorized) throw new Error(`call ${n} not authorized: ${auth.unauthorized_reason}`);
    const b = await engine.beginTransaction({ ...base, source: '1000', source_ip: null, destination: '39040123456', carrier_ip: null, tags: null, timestamp_begin: begin });
    if (!b.ok) throw new Error(`begin ${n} failed: ${b.failed_reason}`);
    const e = await engine.endTransaction({ ...base, timestamp_end: begin + 30_500_000 });
    if (!e.ok) throw new Error(`end ${n} failed: ${e.failed_reason}`);
  };
}

// Node's http client with keep-alive: the built-in fetch costs several times more CPU per
// request than the server does, and would measure the client instead of the server.
const keepAlive = new Agent({ keepAlive: true, maxSockets: 32 });

function postJson(url: string, body: unknown): Promise<Record<string, unknown>> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent: keepAlive, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`${url} answered ${res.statusCode}: ${text}`));
        else resolve(JSON.parse(text) as Record<string, unknown>);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function httpCall(baseUrl: string, run: string): (n: number) => Promise<void> {
  return async (n) => {
    const base = { tenant: 'default', transaction_tag: `${run}-${n}`, account_tag: `A${n % ACCOUNTS}` };
    const begin = new Date(START / 1000 + n).toISOString();
    const end = new Date(START / 1000 + n + 30_500).toISOString();
    const auth = await postJson(`${baseUrl}/v1/authorization`, { ...base, destination: '39040123456', timestamp_auth: begin });
    if (auth.authorized !== true) throw new Error(`call ${n} not authorized over HTTP`);
    const b = await postJson(`${baseUrl}/v1/begin_transaction`, { ...base, destination: '39040123456', timestamp_begin: begin });
    if (b.ok !== true) throw new Error(`begin ${n} failed over HTTP`);
    const e = await postJson(`${baseUrl}/v1/end_transaction`, { ...base, timestamp_end: end });
    if (e.ok !== true) throw new Error(`end ${n} failed over HTTP`);
  };
}

export async function benchEngine(options: { calls: number; httpCalls: number }): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'canyan-bench-'));
  const rows: BenchRow[] = [];
  try {
    const storage = await openSqliteStorage({ path: join(dir, 'engine.db') });
    await storage.migrate();
    await seed(storage);
    const engine = createRatingEngine({ storage });
    await driveCalls(engineCall(engine, 'warm'), 500, 8);
    const inProcess = await driveCalls(engineCall(engine, 'run'), options.calls, 16);

    const { buildServer } = await import('../src/api/server.ts');
    const { RateIndexCache } = await import('../src/rating/rate-cache.ts');
    const { loadConfig } = await import('../src/config/config.ts');
    const pino = (await import('pino')).default;
    const config = loadConfig({ flags: { apiListen: '127.0.0.1:0' }, env: {} });
    const app = await buildServer({ config, storage, engine, rates: new RateIndexCache(), clock: () => Date.now() * 1000, logger: pino({ level: 'silent' }) });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
    const baseUrl = `http://127.0.0.1:${address.port}`;
    await driveCalls(httpCall(baseUrl, 'hwarm'), 200, 8);
    const overHttp = await driveCalls(httpCall(baseUrl, 'hrun'), options.httpCalls, 16);
    keepAlive.destroy();
    await app.close();
    await storage.close();
    rows.push({
      name: 'complete calls/s (auth+begin+end, committed, SQLite)',
      ours: `${Math.round(inProcess).toLocaleString('en-US')} in-process`,
      peer: `${Math.round(overHttp).toLocaleString('en-US')} over HTTP /v1/*`,
      note: 'target in-process >= 5,000/s',
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** Deterministic pseudo-random digits, so every run indexes the same price list. */
function* prefixes(count: number): Generator<string> {
  let state = 0x9e3779b9;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const length = 4 + (state % 7); // 4..10 digits, like real national/mobile price lists
    let text = '';
    let s = state;
    for (let d = 0; d < length; d++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      text += String((s >>> 16) % 10);
    }
    yield text;
  }
}

export async function benchRateLookup(options: { prefixes: number; lookups: number }): Promise<BenchRow[]> {
  const rates: PricelistRate[] = [];
  let n = 0;
  for (const prefix of prefixes(options.prefixes)) {
    rates.push({
      id: `r${n++}`,
      tenant: 'default',
      pricelist_tag: 'P1',
      carrier_tag: 'C1',
      prefix,
      datetime_start: null,
      datetime_end: null,
      active: true,
      connect_fee: 0,
      rate: 1 + (n % 50),
      rate_increment: 1,
      interval_start: 0,
      description: null,
    });
  }
  const builtAt = process.hrtime.bigint();
  const index = new RateIndex(rates);
  const buildSeconds = Number(process.hrtime.bigint() - builtAt) / 1e9;
  const destinations: string[] = [];
  for (let i = 0; i < 4096; i++) destinations.push(rates[(i * 7919) % rates.length].prefix + String(100000 + i));
  const account = { pricelist_tags: null, carrier_tags: null };
  const at = START;
  let found = 0;
  for (let i = 0; i < 200_000; i++) if (index.destinationRate(account, destinations[i & 4095], at) !== null) found++;
  found = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < options.lookups; i++) {
    if (index.destinationRate(account, destinations[i & 4095], at) !== null) found++;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (found !== options.lookups) throw new Error(`only ${found} of ${options.lookups} lookups found a rate`);
  return [
    {
      name: `destination-rate lookups/s (${options.prefixes.toLocaleString('en-US')} prefixes)`,
      ours: `${Math.round(options.lookups / seconds).toLocaleString('en-US')}`,
      peer: `index built in ${buildSeconds.toFixed(2)} s`,
      note: 'target >= 1,000,000/s',
    },
  ];
}

// End-to-end ingest benchmark of the HEP agent: the real agent (UDP on 127.0.0.1) with the real
// rating engine over a real SQLite file. A child process (so that sending does not steal the
// agent's event loop) replays synthetic calls built from the captured Kamailio call
// (INVITE, 180, 200, ACK, BYE, 200) with unique Call-IDs and HEP times, at a fixed packet rate
// for a fixed time. A rate passes when the agent drains its backlog shortly after the sender stops
// and the database holds, for EVERY sent call, both transactions with the expected times and fee.
// The rate steps up until one fails. The same again with an engine that accepts at once (the
// agent and its socket alone); then the packet path in-process without sockets, with and without
// rating and storage (where the time goes); then memory per tracked call: heap growth with N open
// calls.
//
// Print-free: bench/run.ts prints the rows; run this file directly for a table alone. The same
// file is the sender when started with --sender (one JSON argument).
import { DEFAULT_CONFIG } from '../src/config/config.ts';
import { fork } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pino from 'pino';
import type { Transaction } from '../src/domain/types.ts';
import { createRatingEngine } from '../src/rating/engine.ts';
import { nowMicros } from '../src/domain/time.ts';
import type { OperationResponse, RatingEngine } from '../src/rating/engine-types.ts';
import { openSqliteStorage } from '../src/storage/sqlite/index.ts';
import type { Storage } from '../src/storage/storage.ts';
import { startHepAgent, type HepAgent, type HepAgentSettings } from '../src/transports/hep-agent.ts';
import { createPacketPipeline } from '../src/transports/packet-pipeline.ts';
import type { BenchRow } from './types.ts';

const PACKETS_PER_CALL = 6;
/** Calls sent interleaved: each message of the call flow goes out for the whole batch in turn. */
const CALLS_PER_BATCH = 32;
const ACCOUNTS = 50;
const CONNECT_FEE = 100;
const RATE_PER_SECOND = 7;
/** The Call-ID of the captured call; synthetic ones have the same length, so HEP lengths hold. */
const TEMPLATE_CALL_ID = '1-20739@127.0.0.1';
const TEMPLATE_CALLER = 'sip:1000@';
const TEMPLATE_CALLEE = 'sip:1001@';
const ANSWER_AFTER_MICROS = 2_000_000;

export interface IngestBenchOptions {
  /** Packet rates tried in order, stopping at the first that fails. */
  rates?: readonly number[];
  /** How long each rate is sustained. */
  seconds?: number;
  /** After the sender stops, how long the agent may take to finish its backlog and still pass. */
  drainAllowanceMs?: number;
  /** Open calls for the memory measurement. */
  memoryCalls?: number;
  /** Calls pushed through the in-process packet path (with and without the engine). */
  pipelineCalls?: number;
  /** Packet rates tried over UDP with an engine that accepts at once (the agent's own ceiling). */
  agentOnlyRates?: readonly number[];
}

// ---------------------------------------------------------------------------------------------
// Synthetic calls (shared by the sender and the verification)

function fixturesRoot(): string {
  if (existsSync('/work/shared/fixtures')) return '/work/shared/fixtures';
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'fixtures');
}

/** Run label (2 characters) + '-' + 8 digits + '@bench': 17 characters, like the template's Call-ID. */
function callIdOf(run: string, seq: number): string {
  return `${run.padEnd(2, '_').slice(0, 2)}-${String(seq).padStart(8, '0')}@bench`;
}

function callerOf(seq: number): string {
  return `2${String(seq % ACCOUNTS).padStart(3, '0')}`;
}

function calleeOf(seq: number): string {
  return `3${String(seq % ACCOUNTS).padStart(3, '0')}`;
}

/** Billed seconds of call `seq` (1..120); the HEP times make it end 0.25 s into its last second. */
function billedSecondsOf(seq: number): number {
  return (seq % 120) + 1;
}

interface CallTimes {
  invite: number;
  ringing: number;
  answer: number;
  ack: number;
  bye: number;
  byeOk: number;
}

function timesOf(startMicros: number, seq: number): CallTimes {
  const invite = startMicros + seq * 1000;
  const answer = invite + ANSWER_AFTER_MICROS;
  const bye = answer + billedSecondsOf(seq) * 1_000_000 - 250_000;
  return { invite, ringing: invite + 100_000, answer, ack: answer + 10_000, bye, byeOk: bye + 5_000 };
}

export interface PacketTemplate {
  bytes: Buffer;
  callIdOffsets: number[];
  callerOffsets: number[];
  calleeOffsets: number[];
  secondsOffset: number;
  microsOffset: number;
}

function offsetsOf(bytes: Buffer, text: string): number[] {
  const offsets: number[] = [];
  for (let at = bytes.indexOf(text, 0, 'latin1'); at >= 0; at = bytes.indexOf(text, at + text.length, 'latin1')) offsets.push(at);
  return offsets;
}

/** Finds the HEP3 time chunks (0x0009 seconds, 0x000a microseconds) of a captured packet. */
function templateOf(bytes: Buffer): PacketTemplate {
  let secondsOffset = -1;
  let microsOffset = -1;
  for (let at = 6; at + 6 <= bytes.length; ) {
    const type = bytes.readUInt16BE(at + 2);
    const length = bytes.readUInt16BE(at + 4);
    if (length < 6) throw new Error('malformed HEP3 template');
    if (type === 0x0009) secondsOffset = at + 6;
    if (type === 0x000a) microsOffset = at + 6;
    at += length;
  }
  if (secondsOffset < 0 || microsOffset < 0) throw new Error('HEP3 template without a time');
  const callIdOffsets = offsetsOf(bytes, TEMPLATE_CALL_ID);
  if (callIdOffsets.length < 2) throw new Error('HEP3 template without its Call-ID');
  return {
    bytes,
    callIdOffsets,
    callerOffsets: offsetsOf(bytes, TEMPLATE_CALLER).map((at) => at + 4),
    calleeOffsets: offsetsOf(bytes, TEMPLATE_CALLEE).map((at) => at + 4),
    secondsOffset,
    microsOffset,
  };
}

export function loadTemplates(): PacketTemplate[] {
  return [1, 2, 3, 4, 5, 6].map((n) => templateOf(readFileSync(join(fixturesRoot(), 'hep', `kamailio-udp-${n}.bin`))));
}

/** Message `phase` (0 INVITE .. 5 200-for-BYE) of call `seq`, as a HEP3 datagram. */
export function buildPacket(template: PacketTemplate, run: string, startMicros: number, seq: number, phase: number): Buffer {
  const packet = Buffer.allocUnsafe(template.bytes.length);
  template.bytes.copy(packet);
  const callId = callIdOf(run, seq);
  for (const at of template.callIdOffsets) packet.write(callId, at, 'latin1');
  const caller = callerOf(seq);
  for (const at of template.callerOffsets) packet.write(caller, at, 'latin1');
  const callee = calleeOf(seq);
  for (const at of template.calleeOffsets) packet.write(callee, at, 'latin1');
  const times = timesOf(startMicros, seq);
  const at = [times.invite, times.ringing, times.answer, times.ack, times.bye, times.byeOk][phase];
  packet.writeUInt32BE(Math.floor(at / 1_000_000), template.secondsOffset);
  packet.writeUInt32BE(at % 1_000_000, template.microsOffset);
  return packet;
}

// ---------------------------------------------------------------------------------------------
// The sender (child process)

interface SenderJob {
  port: number;
  run: string;
  startMicros: number;
  packetsPerSecond: number;
  calls: number;
}

interface SenderReport {
  packets: number;
  seconds: number;
}

/** Which call and message goes out as the k-th packet: batches of calls, one message at a time. */
export function scheduleOf(k: number, calls: number): { seq: number; phase: number } {
  const batch = Math.floor(k / (CALLS_PER_BATCH * PACKETS_PER_CALL));
  const first = batch * CALLS_PER_BATCH;
  const size = Math.min(CALLS_PER_BATCH, calls - first);
  const within = k - first * PACKETS_PER_CALL;
  return { seq: first + (within % size), phase: Math.floor(within / size) };
}

async function runSender(job: SenderJob): Promise<SenderReport> {
  const templates = loadTemplates();
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(job.port, '127.0.0.1', () => resolve());
  });
  socket.setSendBufferSize(4 * 1024 * 1024);
  const total = job.calls * PACKETS_PER_CALL;
  const started = process.hrtime.bigint();
  let sent = 0;
  while (sent < total) {
    const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
    const due = Math.min(total, Math.floor(elapsed * job.packetsPerSecond));
    // At most 10 ms' worth at once: after the sender itself was held up (a loaded machine), it
    // catches up gradually instead of in one burst that no receive buffer holds. If it cannot
    // keep up, its report shows the lower rate and the step fails.
    const until = Math.min(due, sent + Math.max(64, Math.ceil(job.packetsPerSecond / 100)));
    for (; sent < until; sent++) {
      const { seq, phase } = scheduleOf(sent, job.calls);
      socket.send(buildPacket(templates[phase], job.run, job.startMicros, seq, phase));
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return { packets: sent, seconds };
}

/** Runs the sender in a child process; resolves with its report. Killed if it overruns. */
export function sendFromChild(job: SenderJob, timeoutMs: number): Promise<SenderReport> {
  return new Promise<SenderReport>((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--sender', JSON.stringify(job)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    let report: SenderReport | null = null;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('message', (message: unknown) => {
      if (typeof message === 'object' && message !== null && 'packets' in message && 'seconds' in message) {
        report = { packets: Number(message.packets), seconds: Number(message.seconds) };
      }
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (report !== null) resolve(report);
      else reject(new Error(`sender exited with ${signal ?? code} before reporting`));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The agent side

export function agentSettings(tenant: string): HepAgentSettings {
  // state_file '': each step's agent starts empty (runs reuse Call-IDs; a saved state would absorb them).
  return { ...DEFAULT_CONFIG, hep_listen_udp: '127.0.0.1:0', hep_listen_tcp: '', tenant, sip_local_domains: ['sip.example.com'], state_file: '' };
}

export async function seed(storage: Storage, tenant: string): Promise<void> {
  await storage.transaction(async (repo) => {
    await repo.upsert('carrier', { key: { tenant, carrier_tag: 'carrier1' } }, { host: 'carrier1.example.net', port: 5060, protocol: 'UDP', active: true });
    await repo.upsert('pricelist', { key: { tenant, pricelist_tag: 'pl' } }, { name: 'bench', currency: 'EUR' });
    await repo.upsert(
      'pricelist_rate',
      { key: { tenant, pricelist_tag: 'pl', carrier_tag: 'carrier1', prefix: 'sip:3' } },
      { active: true, connect_fee: CONNECT_FEE, rate: RATE_PER_SECOND, rate_increment: 1, interval_start: 0, description: 'bench' },
    );
    for (let i = 0; i < ACCOUNTS; i++) {
      for (const tag of [callerOf(i), calleeOf(i)]) {
        await repo.upsert(
          'account',
          { key: { tenant, account_tag: tag } },
          { type: 'POSTPAID', balance: 0, active: true, pricelist_tags: ['pl'], max_concurrent_transactions: null, tags: ['bench'] },
        );
      }
    }
  });
}

interface AgentCounts {
  udpPackets: number;
  ended: number;
  tracked: number;
  inFlight: number;
  engineRejected: number;
  engineErrors: number;
  begins: number;
  ends: number;
}

function countsOf(agent: HepAgent): AgentCounts {
  const stats = agent.stats() as {
    packets: { udp: { total: number } };
    calls: { ended: number; tracked: number };
    transactions: { in_flight: number; engine_rejected: number; engine_errors: number; begin: number; end: number };
  };
  return {
    udpPackets: stats.packets.udp.total,
    ended: stats.calls.ended,
    tracked: stats.calls.tracked,
    inFlight: stats.transactions.in_flight,
    engineRejected: stats.transactions.engine_rejected,
    engineErrors: stats.transactions.engine_errors,
    begins: stats.transactions.begin,
    ends: stats.transactions.end,
  };
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/** Every transaction of the tenant, a page at a time. */
async function transactionsOf(storage: Storage, tenant: string): Promise<Transaction[]> {
  const all: Transaction[] = [];
  const page = 20_000;
  for (let offset = 0; ; offset += page) {
    const rows = await storage.transaction((repo) =>
      repo.list('transaction', { filter: [{ kind: 'eq', field: 'tenant', value: tenant }], sortField: null, ascending: true, offset, limit: page }),
    );
    all.push(...rows);
    if (rows.length < page) return all;
  }
}

/** Problems found in the database for the calls 0..calls-1 of `run`; empty when all is right. */
export async function verify(storage: Storage, tenant: string, run: string, startMicros: number, calls: number): Promise<string[]> {
  const problems: string[] = [];
  const byTag = new Map<string, Transaction[]>();
  for (const row of await transactionsOf(storage, tenant)) {
    const rows = byTag.get(row.transaction_tag);
    if (rows === undefined) byTag.set(row.transaction_tag, [row]);
    else rows.push(row);
  }
  const fees = new Map<string, number>();
  let missing = 0;
  for (let seq = 0; seq < calls; seq++) {
    const rows = byTag.get(callIdOf(run, seq));
    if (rows === undefined || rows.length !== 2) {
      missing++;
      continue;
    }
    const times = timesOf(startMicros, seq);
    const caller = rows.find((row) => !row.inbound);
    const callee = rows.find((row) => row.inbound);
    const fee = CONNECT_FEE + RATE_PER_SECOND * billedSecondsOf(seq);
    const right =
      caller !== undefined &&
      callee !== undefined &&
      caller.account_tag === callerOf(seq) &&
      callee.account_tag === calleeOf(seq) &&
      caller.timestamp_begin === times.answer &&
      caller.timestamp_end === times.bye &&
      caller.duration === billedSecondsOf(seq) &&
      caller.fee === fee &&
      callee.fee === 0;
    if (!right) {
      // Fee, duration, and begin/end relative to the expected answer/BYE times (µs).
      const seen = rows.map((r) => [r.account_tag, r.fee, r.duration, (r.timestamp_begin ?? 0) - times.answer, (r.timestamp_end ?? 0) - times.bye]);
      if (problems.length < 3) problems.push(`call ${seq}: unexpected transactions [account, fee, duration, begin-answer, end-bye] ${JSON.stringify(seen)}`);
      continue;
    }
    fees.set(caller.account_tag, (fees.get(caller.account_tag) ?? 0) + fee);
  }
  if (missing > 0) problems.unshift(`${missing} of ${calls} calls without their 2 transactions`);
  if (byTag.size !== calls) problems.push(`${byTag.size} transaction tags stored for ${calls} calls`);
  for (const [account, total] of fees) {
    const stored = await storage.transaction((repo) => repo.get('account', { key: { tenant, account_tag: account } }));
    if (stored?.balance !== -total) problems.push(`account ${account}: balance ${stored?.balance} instead of ${-total}`);
  }
  return problems;
}

interface StepResult {
  packetsPerSecond: number;
  sentPerSecond: number;
  calls: number;
  drainMs: number;
  /** CPU time of the agent's process (sender excluded) per packet received. */
  cpuMicrosPerPacket: number;
  /** Longest stall of the agent's event loop, in milliseconds. */
  maxLoopStallMs: number;
  /** Datagrams the kernel dropped for a full receive buffer (whole machine; null off Linux). */
  kernelDrops: number | null;
  passed: boolean;
  problems: string[];
}

/** RcvbufErrors of /proc/net/snmp: UDP datagrams dropped because a receive buffer was full. */
function kernelReceiveBufferErrors(): number | null {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((line) => line.startsWith('Udp:'));
    const names = lines[0]?.split(/\s+/) ?? [];
    const values = lines[1]?.split(/\s+/) ?? [];
    const index = names.indexOf('RcvbufErrors');
    return index < 0 ? null : Number(values[index]);
  } catch {
    return null;
  }
}

async function runStep(
  engine: RatingEngine,
  storage: Storage,
  run: string,
  packetsPerSecond: number,
  seconds: number,
  drainAllowanceMs: number,
  /** false with an engine that stores nothing: the agent's counters are checked instead. */
  verifyStored: boolean,
): Promise<StepResult> {
  const tenant = `ingest-${run}`;
  await seed(storage, tenant);
  const agent = await startHepAgent({ settings: agentSettings(tenant), engine, logger: pino({ level: 'silent' }) });
  try {
    const calls = Math.max(CALLS_PER_BATCH, Math.round((packetsPerSecond * seconds) / PACKETS_PER_CALL / CALLS_PER_BATCH) * CALLS_PER_BATCH);
    const startMicros = (Date.now() - 3_600_000) * 1000;
    const port = agent.udpAddress?.port ?? 0;
    const dropsBefore = kernelReceiveBufferErrors();
    const cpuBefore = process.cpuUsage();
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const report = await sendFromChild({ port, run, startMicros, packetsPerSecond, calls }, seconds * 1000 + 30_000);
    const sentAt = Date.now();
    // Done when every call ended and nothing is queued for the engine, or when packets stop
    // arriving (lost ones never will) and the engine queue is empty.
    const settleBudget = drainAllowanceMs + 10_000;
    let lastPackets = -1;
    let quietSince = Date.now();
    const settled = await waitUntil(() => {
      const counts = countsOf(agent);
      if (counts.udpPackets !== lastPackets) {
        lastPackets = counts.udpPackets;
        quietSince = Date.now();
      }
      if (counts.inFlight > 0) return false;
      return counts.ended >= calls || Date.now() - quietSince > 1_500;
    }, settleBudget);
    const drainMs = Date.now() - sentAt;
    loop.disable();
    const cpu = process.cpuUsage(cpuBefore);
    const dropsAfter = kernelReceiveBufferErrors();
    const counts = countsOf(agent);
    const problems: string[] = [];
    const sentPerSecond = report.packets / report.seconds;
    if (sentPerSecond < 0.95 * packetsPerSecond) problems.push(`the sender reached only ${Math.round(sentPerSecond)} packets/s`);
    if (counts.udpPackets < report.packets) {
      const missing = report.packets - counts.udpPackets;
      // Still queued when the wait ran out is not the same as lost: say which.
      problems.push(settled ? `${missing} of ${report.packets} packets lost` : `${missing} of ${report.packets} packets not yet handled after ${settleBudget} ms`);
    }
    if (counts.engineErrors + counts.engineRejected > 0) problems.push(`engine: ${counts.engineErrors} errors, ${counts.engineRejected} rejections`);
    if (drainMs > drainAllowanceMs) problems.push(`backlog drained ${drainMs} ms after the sender stopped`);
    if (verifyStored) problems.push(...(await verify(storage, tenant, run, startMicros, calls)));
    else if (counts.ended !== calls || counts.begins !== calls || counts.ends !== calls) {
      problems.push(`${counts.ended} of ${calls} calls ended (${counts.begins} begins, ${counts.ends} ends sent to the engine)`);
    }
    return {
      packetsPerSecond,
      sentPerSecond,
      calls,
      drainMs,
      cpuMicrosPerPacket: (cpu.user + cpu.system) / Math.max(1, counts.udpPackets),
      maxLoopStallMs: loop.max / 1e6,
      kernelDrops: dropsBefore === null || dropsAfter === null ? null : dropsAfter - dropsBefore,
      passed: problems.length === 0,
      problems,
    };
  } finally {
    await agent.close();
  }
}

const ACCEPTED: OperationResponse = { ok: true, failed_account_tag: null, failed_reason: null };

/** An engine that accepts every operation at once: the agent's own cost, without rating or storage. */
function acceptingEngine(real: RatingEngine): RatingEngine {
  return {
    authorization: (request) => real.authorization(request),
    rollbackTransaction: (request) => real.rollbackTransaction(request),
    beginTransaction: () => Promise.resolve(ACCEPTED),
    endTransaction: () => Promise.resolve(ACCEPTED),
    recordTransaction: () => Promise.resolve(ACCEPTED),
    completeTransaction: () => Promise.resolve(ACCEPTED),
  };
}

interface PipelineResult {
  packetsPerSecond: number;
  cpuMicrosPerPacket: number;
  problems: string[];
}

/**
 * The agent's packet path in-process (no sockets, no sender): HEP decoding, SIP parsing, call
 * tracking and the engine operations, fed a batch of calls at a time with a turn of the event
 * loop in between (as datagrams would arrive), until every operation has settled.
 */
async function measurePipeline(engine: RatingEngine, storage: Storage, run: string, calls: number, verifyStored: boolean): Promise<PipelineResult> {
  const tenant = `ingest-${run}`;
  await seed(storage, tenant);
  const pipeline = createPacketPipeline({ settings: agentSettings(tenant), engine, logger: pino({ level: 'silent' }), clock: nowMicros });
  const templates = loadTemplates();
  const startMicros = (Date.now() - 3_600_000) * 1000;
  const packets: Buffer[] = [];
  for (let k = 0; k < calls * PACKETS_PER_CALL; k++) {
    const { seq, phase } = scheduleOf(k, calls);
    packets.push(buildPacket(templates[phase], run, startMicros, seq, phase));
  }
  const source = { transport: 'udp' as const, address: '127.0.0.1', port: 9060 };
  const slice = CALLS_PER_BATCH * PACKETS_PER_CALL;
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let i = 0; i < packets.length; i += slice) {
    const end = Math.min(i + slice, packets.length);
    for (let j = i; j < end; j++) pipeline.handlePacket(packets[j], source);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await pipeline.dispatcher.idle();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  const problems = verifyStored ? await verify(storage, tenant, run, startMicros, calls) : [];
  if (pipeline.tracker.counters.ended !== calls) problems.push(`${pipeline.tracker.counters.ended} of ${calls} calls ended`);
  return { packetsPerSecond: packets.length / seconds, cpuMicrosPerPacket: (cpu.user + cpu.system) / packets.length, problems };
}

/** The V8 collector, reachable without --expose-gc on the command line. */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  // Otherwise a GC may drop the bytecode of idle functions and hide megabytes of call state.
  setFlagsFromString('--no-flush-bytecode');
  const gc: unknown = runInNewContext('gc');
  if (typeof gc !== 'function') throw new Error('cannot reach the garbage collector');
  return () => gc();
}

/**
 * Heap growth per open call: N initial INVITEs (each a call of its own, ringing) fed to the
 * agent's packet path in-process, so that none is lost and nothing else runs meanwhile.
 */
async function measureMemory(
  engine: RatingEngine,
  storage: Storage,
  calls: number,
): Promise<{ bytesPerCall: number; tracked: number; bytesPerFinishedCall: number; finished: number }> {
  const tenant = 'ingest-memory';
  await seed(storage, tenant);
  // Operations are accepted at once: what is measured is the agent's memory, not the engine's.
  const pipeline = createPacketPipeline({ settings: agentSettings(tenant), engine: acceptingEngine(engine), logger: pino({ level: 'silent' }), clock: nowMicros });
  const templates = loadTemplates();
  const startMicros = (Date.now() - 3_600_000) * 1000;
  const source = { transport: 'udp' as const, address: '127.0.0.1', port: 9060 };
  const gc = collector();
  const heapAfterGc = (): number => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  // One call first, so that lazily built state (string pool, compiled code) is not counted.
  pipeline.handlePacket(buildPacket(templates[0], 'mm', startMicros, calls, 0), source);
  const before = heapAfterGc();
  for (let seq = 0; seq < calls; seq++) pipeline.handlePacket(buildPacket(templates[0], 'mm', startMicros, seq, 0), source);
  const open = heapAfterGc();
  const tracked = pipeline.tracker.trackedCalls - 1;
  // Then the same calls answered and ended: what stays is the tombstone that absorbs late copies.
  for (const phase of [2, 4]) {
    for (let seq = 0; seq < calls; seq++) pipeline.handlePacket(buildPacket(templates[phase], 'mm', startMicros, seq, phase), source);
    await pipeline.dispatcher.idle();
  }
  const ended = heapAfterGc();
  // Read after the measurement: the pipeline must still be reachable while the heap is measured.
  const finished = pipeline.tracker.counters.ended;
  return {
    bytesPerCall: tracked <= 0 ? Number.NaN : (open - before) / tracked,
    tracked,
    bytesPerFinishedCall: finished <= 0 ? Number.NaN : (ended - before) / finished,
    finished,
  };
}

export async function benchIngest(options: IngestBenchOptions = {}): Promise<BenchRow[]> {
  const rates = options.rates ?? [2_000, 5_000, 10_000, 20_000, 30_000, 50_000, 70_000];
  const seconds = options.seconds ?? 10;
  const drainAllowanceMs = options.drainAllowanceMs ?? 2_000;
  const memoryCalls = options.memoryCalls ?? 50_000;
  const pipelineCalls = options.pipelineCalls ?? 10_000;
  const dir = mkdtempSync(join(tmpdir(), 'bench-ingest-'));
  const storage = await openSqliteStorage({ path: join(dir, 'rating.db') });
  try {
    await storage.migrate();
    const engine = createRatingEngine({ storage });
    // Warm-up (JIT) on a few calls first, then the agent's own cost, then with rating and storage.
    await measurePipeline(acceptingEngine(engine), storage, 'w', 2_000, false);
    const agentOnly = await measurePipeline(acceptingEngine(engine), storage, 'x', pipelineCalls, false);
    const withEngine = await measurePipeline(engine, storage, 'y', pipelineCalls, true);
    const stepUp = async (label: string, stepRates: readonly number[], stepEngine: RatingEngine, verifyStored: boolean): Promise<StepResult[]> => {
      const results: StepResult[] = [];
      for (const [i, rate] of stepRates.entries()) {
        const result = await runStep(stepEngine, storage, `${label}${i}`, rate, seconds, drainAllowanceMs, verifyStored);
        results.push(result);
        if (!result.passed) break;
      }
      return results;
    };
    const results = await stepUp('', rates, engine, true);
    const agentRates = options.agentOnlyRates ?? [20_000, 30_000, 50_000, 70_000];
    const agentResults = agentRates.length === 0 ? [] : await stepUp('a', agentRates, acceptingEngine(engine), false);
    const memory = await measureMemory(engine, storage, memoryCalls);

    const k = (perSecond: number): string => `${(perSecond / 1000).toFixed(1)}k`;
    const summary = (series: readonly StepResult[], first: number): { ours: string; steps: string } => {
      const best = series.filter((r) => r.passed).at(-1);
      const failed = series.find((r) => !r.passed);
      const steps = series
        .map(
          (r) =>
            `${k(r.packetsPerSecond)} ${r.passed ? 'ok' : 'FAIL'} (sent ${k(r.sentPerSecond)}/s, drain ${r.drainMs} ms, ` +
            `agent CPU ${r.cpuMicrosPerPacket.toFixed(0)} µs/pkt, loop stall max ${r.maxLoopStallMs.toFixed(0)} ms` +
            `${r.kernelDrops === null ? '' : `, kernel drops ${r.kernelDrops}`})`,
        )
        .join('; ');
      return {
        ours: series.length === 0 ? 'not run' : best === undefined ? `< ${k(first)} pkt/s` : `${k(best.packetsPerSecond)} pkt/s (${Math.round(best.packetsPerSecond / PACKETS_PER_CALL)} calls/s)`,
        steps: `steps: ${steps}${failed === undefined ? '' : `; first failure: ${failed.problems.slice(0, 3).join('; ')}`}`,
      };
    };
    const stored = summary(results, rates[0]);
    const agentOnlyUdp = summary(agentResults, agentRates[0] ?? 0);
    const engineShare = 1 - agentOnly.cpuMicrosPerPacket / withEngine.cpuMicrosPerPacket;
    return [
      {
        name: `HEP ingest over UDP loopback, ${seconds} s sustained, every call rated`,
        ours: stored.ours,
        peer: 'target: >= 50k pkt/s',
        note:
          `${stored.steps}; pass = no packet lost, every call's 2 transactions stored with the right times and fee, ` +
          `balances right, backlog drained within ${drainAllowanceMs} ms; shared, loaded machine`,
      },
      ...(agentResults.length === 0
        ? []
        : [
            {
              name: `HEP ingest over UDP loopback, ${seconds} s, engine accepting at once`,
              ours: agentOnlyUdp.ours,
              peer: 'target: >= 50k pkt/s',
              note: `the agent and its socket alone (no rating, no storage); ${agentOnlyUdp.steps}; pass = no packet lost, every call begun and ended`,
            },
          ]),
      {
        name: 'agent packet path in-process, engine accepting at once',
        ours: `${k(agentOnly.packetsPerSecond)} pkt/s`,
        peer: `${agentOnly.cpuMicrosPerPacket.toFixed(1)} µs CPU/pkt`,
        note: `HEP decode + SIP parse + call tracking + dispatch, no sockets, no rating: the agent's own ceiling (${pipelineCalls} calls)`,
      },
      {
        name: 'agent packet path in-process, real engine + SQLite',
        ours: `${k(withEngine.packetsPerSecond)} pkt/s`,
        peer: `${withEngine.cpuMicrosPerPacket.toFixed(1)} µs CPU/pkt`,
        note: `rating + storage take ${(100 * engineShare).toFixed(0)}% of the CPU per packet (${((withEngine.cpuMicrosPerPacket - agentOnly.cpuMicrosPerPacket) * PACKETS_PER_CALL).toFixed(0)} µs per call)${withEngine.problems.length === 0 ? '; every call verified in the database' : `; PROBLEMS: ${withEngine.problems.slice(0, 2).join('; ')}`}`,
      },
      {
        name: 'memory per tracked call (agent heap)',
        ours: `${Math.round(memory.bytesPerCall)} B/call`,
        peer: `${Math.round(memory.bytesPerFinishedCall)} B/finished call`,
        note:
          `heap growth with ${memory.tracked} open (ringing) calls fed in-process, after GC (call objects, keys, map entries); ` +
          `a finished call keeps a tombstone for its late copies for 180 s (${memory.finished} calls ended)`,
      },
    ];
  } finally {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function printTable(rows: BenchRow[]): void {
  const all = [{ name: 'benchmark', ours: 'ours', peer: 'peer', note: 'note' }, ...rows];
  const width = (key: keyof BenchRow): number => Math.max(...all.map((row) => row[key].length));
  const w = { name: width('name'), ours: width('ours'), peer: width('peer') };
  for (const [i, row] of all.entries()) {
    console.log(`${row.name.padEnd(w.name)} | ${row.ours.padEnd(w.ours)} | ${row.peer.padEnd(w.peer)} | ${row.note}`);
    if (i === 0) console.log(`${'-'.repeat(w.name)}-+-${'-'.repeat(w.ours)}-+-${'-'.repeat(w.peer)}-+-----`);
  }
}

function numberFlag(name: string): number | undefined {
  const index = process.argv.indexOf(name);
  return index < 0 ? undefined : Number(process.argv[index + 1]);
}

/** `--rates 1000,2000`; an empty value ("--agent-rates ''") gives an empty list. */
function listFlag(name: string): number[] | undefined {
  const index = process.argv.indexOf(name);
  if (index < 0) return undefined;
  const value = process.argv[index + 1] ?? '';
  return value === '' ? [] : value.split(',').map(Number);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const senderIndex = process.argv.indexOf('--sender');
  if (senderIndex >= 0) {
    const job = JSON.parse(process.argv[senderIndex + 1] ?? '{}') as SenderJob;
    const report = await runSender(job);
    process.send?.(report, () => process.disconnect?.());
  } else {
    printTable(
      await benchIngest({
        rates: listFlag('--rates'),
        seconds: numberFlag('--seconds'),
        memoryCalls: numberFlag('--memory-calls'),
        pipelineCalls: numberFlag('--pipeline-calls'),
        agentOnlyRates: listFlag('--agent-rates'),
      }),
    );
  }
}

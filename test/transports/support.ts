// Shared helpers of the transport tests: fixture files, sockets that replay captured bytes, a
// rating engine that records what it is asked, and polling with a deadline.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import pino, { type Logger } from 'pino';
import { DEFAULT_CONFIG } from '../../src/config/config.ts';
import type { HepAgentSettings } from '../../src/transports/hep-agent.ts';
import type {
  AuthorizationResponse,
  BeginTransactionRequest,
  EndTransactionRequest,
  OperationResponse,
  RatingEngine,
  RecordTransactionRequest,
  RollbackResponse,
} from '../../src/rating/engine-types.ts';

const SHARED = existsSync('/work/shared') ? '/work/shared' : join(process.cwd(), '..', 'shared');

/**
 * The agent's default settings, listening on free loopback ports, with the captures' local
 * domain (their calls are 1000 -> 1001 and 2000 -> 2001 at sip.example.com).
 */
export function agentSettings(overrides: Partial<HepAgentSettings> = {}): HepAgentSettings {
  return {
    ...DEFAULT_CONFIG,
    hep_listen_udp: '127.0.0.1:0',
    hep_listen_tcp: '127.0.0.1:0',
    sip_local_domains: ['sip.example.com'],
    // No saved call state unless a test asks for one: test agents must not share ./data.
    state_file: '',
    ...overrides,
  };
}

export function hepFixture(name: string): Buffer {
  return readFileSync(join(SHARED, 'fixtures', 'hep', name));
}

export function canyanFixture(name: string): Buffer {
  return readFileSync(join(SHARED, 'fixtures', 'canyan', name));
}

/** Byte counts of every recv() of a captured TCP stream (its .recv.tsv sidecar). */
export function recvSizes(streamName: string): number[] {
  const tsv = readFileSync(join(SHARED, 'fixtures', 'hep', streamName.replace(/\.bin$/, '.recv.tsv')), 'utf8');
  return tsv
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.split('\t'))
    .filter((columns) => columns[2] === 'recv')
    .map((columns) => Number(columns[4]));
}

/** Replaces every occurrence of `from` with `to` (same length, so HEP lengths stay valid). */
export function rewrite(bytes: Buffer, from: string, to: string): Buffer {
  if (from.length !== to.length) throw new Error('rewrite needs strings of equal length');
  return Buffer.from(bytes.toString('latin1').split(from).join(to), 'latin1');
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** A logger whose records are kept in memory. */
export function capturingLogger(): { logger: Logger; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const stream = {
    write(line: string) {
      records.push(JSON.parse(line) as Record<string, unknown>);
    },
  };
  return { logger: pino({ level: 'info' }, stream), records };
}

export async function sendUdp(port: number, datagrams: readonly Buffer[]): Promise<void> {
  const socket = createSocket('udp4');
  try {
    for (const datagram of datagrams) {
      await new Promise<void>((resolve, reject) => socket.send(datagram, port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
    }
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

export async function openTcp(port: number): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', noDelay: true }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

export async function write(socket: Socket, bytes: Buffer): Promise<void> {
  await new Promise<void>((resolve, reject) => socket.write(bytes, (error) => (error ? reject(error) : resolve())));
}

/** Writes `bytes` in pieces of the given sizes, yielding to the event loop between pieces. */
export async function writeInPieces(socket: Socket, bytes: Buffer, sizes: readonly number[]): Promise<void> {
  let offset = 0;
  for (const size of sizes) {
    await write(socket, bytes.subarray(offset, offset + size));
    offset += size;
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (offset < bytes.length) await write(socket, bytes.subarray(offset));
}

export async function endTcp(socket: Socket): Promise<void> {
  await new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.end();
  });
}

export async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export type RecordedCall =
  | { method: 'beginTransaction'; request: BeginTransactionRequest }
  | { method: 'endTransaction'; request: EndTransactionRequest }
  | { method: 'recordTransaction'; request: RecordTransactionRequest }
  | { method: 'completeTransaction'; request: EndTransactionRequest; begin: BeginTransactionRequest };

/** A rating engine that only records the operations it receives (the real one is in the e2e test). */
export class RecordingEngine implements RatingEngine {
  readonly calls: RecordedCall[] = [];
  /** Applied before answering a begin, to check that ends wait for their begins. */
  beginDelayMs = 0;
  failWith: Error | null = null;
  answer: OperationResponse = { ok: true, failed_account_tag: null, failed_reason: null };

  async authorization(): Promise<AuthorizationResponse> {
    throw new Error('not used by the HEP agent');
  }

  async beginTransaction(request: BeginTransactionRequest): Promise<OperationResponse> {
    if (this.beginDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.beginDelayMs));
    return this.respond({ method: 'beginTransaction', request });
  }

  async endTransaction(request: EndTransactionRequest): Promise<OperationResponse> {
    return this.respond({ method: 'endTransaction', request });
  }

  async rollbackTransaction(): Promise<RollbackResponse> {
    throw new Error('not used by the HEP agent');
  }

  async recordTransaction(request: RecordTransactionRequest): Promise<OperationResponse> {
    return this.respond({ method: 'recordTransaction', request });
  }

  async completeTransaction(begin: BeginTransactionRequest, request: EndTransactionRequest): Promise<OperationResponse> {
    return this.respond({ method: 'completeTransaction', request, begin });
  }

  private respond(call: RecordedCall): OperationResponse {
    this.calls.push(call);
    if (this.failWith !== null) throw this.failWith;
    return this.answer;
  }
}

/** A minimal HEP3 packet (IPv4/UDP SIP), for cases no capture covers (failed calls, oddities). */
export function encodeHep3(fields: { timestampMicros: number; correlationId?: string; payload: string }): Buffer {
  const chunks: Buffer[] = [];
  const chunk = (type: number, value: Buffer) => {
    const header = Buffer.alloc(6);
    header.writeUInt16BE(0, 0);
    header.writeUInt16BE(type, 2);
    header.writeUInt16BE(6 + value.length, 4);
    chunks.push(header, value);
  };
  const u8 = (n: number) => Buffer.from([n]);
  const u16 = (n: number) => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(n);
    return b;
  };
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  chunk(0x0001, u8(2));
  chunk(0x0002, u8(17));
  chunk(0x0003, Buffer.from([10, 0, 0, 1]));
  chunk(0x0004, Buffer.from([10, 0, 0, 2]));
  chunk(0x0007, u16(5060));
  chunk(0x0008, u16(5060));
  chunk(0x0009, u32(Math.floor(fields.timestampMicros / 1_000_000)));
  chunk(0x000a, u32(fields.timestampMicros % 1_000_000));
  chunk(0x000b, u8(1));
  chunk(0x000c, u32(1));
  if (fields.correlationId !== undefined) chunk(0x0011, Buffer.from(fields.correlationId));
  chunk(0x000f, Buffer.from(fields.payload));
  const body = Buffer.concat(chunks);
  const header = Buffer.from('HEP3\0\0', 'latin1');
  header.writeUInt16BE(6 + body.length, 4);
  return Buffer.concat([header, body]);
}

/** The SIP text of a HEP3 packet from the fixtures (payload chunk 0x000f). */
export function sipOf(packet: Buffer): string {
  let offset = 6;
  const total = packet.readUInt16BE(4);
  while (offset + 6 <= total) {
    const type = packet.readUInt16BE(offset + 2);
    const length = packet.readUInt16BE(offset + 4);
    if (type === 0x000f) return packet.subarray(offset + 6, offset + length).toString('latin1');
    offset += length;
  }
  throw new Error('no payload chunk');
}

/** Splits a HEP3 stream into its messages (test oracle; the agent uses src/hep's framer). */
export function splitHep3Stream(stream: Buffer): Buffer[] {
  const messages: Buffer[] = [];
  let offset = 0;
  while (offset < stream.length) {
    const length = stream.readUInt16BE(offset + 4);
    messages.push(stream.subarray(offset, offset + length));
    offset += length;
  }
  return messages;
}

/** HEP time of a HEP3 message (chunks 0x0009 and 0x000a). */
export function hepTimeOf(packet: Buffer): number {
  let offset = 6;
  let seconds = 0;
  let micros = 0;
  const total = packet.readUInt16BE(4);
  while (offset + 6 <= total) {
    const type = packet.readUInt16BE(offset + 2);
    const length = packet.readUInt16BE(offset + 4);
    if (type === 0x0009) seconds = packet.readUInt32BE(offset + 6);
    if (type === 0x000a) micros = packet.readUInt32BE(offset + 6);
    offset += length;
  }
  return seconds * 1_000_000 + micros;
}

/** Expected answer and end times of a captured call: first 200 OK to the INVITE (else first ACK), first BYE. */
export function expectedTimes(messages: readonly Buffer[]): { begin: number; end: number } {
  const find = (predicate: (sip: string) => boolean): number | null => {
    const times = messages.filter((m) => predicate(sipOf(m))).map(hepTimeOf);
    return times.length === 0 ? null : Math.min(...times);
  };
  const ok = find((sip) => sip.startsWith('SIP/2.0 200') && /\r\nCSeq:\s*1 INVITE/i.test(sip));
  const ack = find((sip) => sip.startsWith('ACK '));
  const bye = find((sip) => sip.startsWith('BYE '));
  const begin = ok ?? ack;
  if (begin === null || bye === null) throw new Error('capture without answer or BYE');
  return { begin, end: bye };
}

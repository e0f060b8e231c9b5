// HEP/SIP decode benchmark: our decodeHep + parseSip (reading the fields the agent needs) against
// the npm package hep-js decoding alone, on the same captured packets (every fixture under
// fixtures/hep and fixtures/canyan, each HEP3 stream cut into its messages), plus TCP framing
// throughput. Print-free: bench/run.ts prints the rows; run this file directly for a table alone.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { HepStreamFramer, decodeHep } from '../src/hep/index.ts';
import { parseSip } from '../src/sip/index.ts';
import { shareCallIdText } from '../src/transports/packet-pipeline.ts';
import type { BenchRow } from './types.ts';

const MIN_DURATION_MS = 1_000;

type Decapsulate = (packet: Buffer) => unknown;

function loadHepJs(): Decapsulate {
  const required: unknown = createRequire(import.meta.url)('hep-js');
  if (typeof required === 'object' && required !== null && 'decapsulate' in required && typeof required.decapsulate === 'function') {
    const decapsulate = required.decapsulate as (packet: Buffer) => unknown;
    return (packet) => decapsulate(packet);
  }
  throw new Error('hep-js does not export decapsulate()');
}

function fixturesRoot(): string {
  if (existsSync('/work/shared/fixtures')) return '/work/shared/fixtures';
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'fixtures');
}

/** Cuts a HEP3 stream on its length fields; anything unframable (the HEPv2 stream) is skipped. */
function framed(stream: Buffer): Buffer[] {
  const framer = new HepStreamFramer();
  const { packets, error } = framer.push(stream);
  return error === null ? packets.map((p) => Buffer.from(p)) : [];
}

export function loadFixturePackets(): { packets: Buffer[]; streams: Buffer[] } {
  const root = fixturesRoot();
  const hepDir = join(root, 'hep');
  const packets: Buffer[] = [];
  const streams: Buffer[] = [];
  for (const name of readdirSync(hepDir).sort()) {
    if (!name.endsWith('.bin')) continue;
    const bytes = readFileSync(join(hepDir, name));
    if (name.includes('-udp-')) packets.push(bytes);
    // Raw single-connection streams only: the combined multi-connection files repeat their messages.
    else if (name.includes('-tcp-') && (name.startsWith('kamailio-') || name.includes('-conn'))) {
      const messages = framed(bytes);
      packets.push(...messages);
      if (messages.length > 0) streams.push(bytes);
    }
  }
  for (const name of ['hep-invite.bin', 'hep-ack.bin', 'hep-bye.bin']) packets.push(readFileSync(join(root, 'canyan', name)));
  return { packets, streams };
}

/**
 * Runs each round (one pass over `perRound` items) in turn, timing every round on its own, until
 * each has run for at least MIN_DURATION_MS. Interleaving keeps the comparison fair when the
 * machine is shared: a burst of foreign load slows all contenders alike.
 */
function measureInterleaved(perRound: readonly number[], rounds: ReadonlyArray<() => number>): { perSecond: number[]; sink: number } {
  let sink = 0;
  for (const round of rounds) for (let i = 0; i < 20; i++) sink += round(); // warm-up: let the JIT settle
  const spentNs = rounds.map(() => 0n);
  const done = rounds.map(() => 0);
  const target = BigInt(MIN_DURATION_MS) * 1_000_000n;
  while (spentNs.some((ns) => ns < target)) {
    rounds.forEach((round, i) => {
      const started = process.hrtime.bigint();
      for (let k = 0; k < 5; k++) sink += round();
      spentNs[i] += process.hrtime.bigint() - started;
      done[i] += 5;
    });
  }
  return { perSecond: rounds.map((_, i) => (done[i] * perRound[i]) / (Number(spentNs[i]) / 1e9)), sink };
}

function rate(perSecond: number, unit: string): string {
  const perItemUs = 1e6 / perSecond;
  const scaled = perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)} M` : `${(perSecond / 1e3).toFixed(1)} k`;
  return `${scaled}${unit}/s (${perItemUs < 1 ? `${(perItemUs * 1000).toFixed(0)} ns` : `${perItemUs.toFixed(2)} µs`}/${unit})`;
}

/** What the agent reads from every packet. Returns a number so the work cannot be optimised away. */
function ourFullPath(packet: Buffer): number {
  const decoded = decodeHep(packet);
  if (!decoded.ok || decoded.message.payloadType !== 1) return 0;
  // As the agent does (transports/packet-pipeline.ts): the payload parsed where it lies in the packet.
  const sip = parseSip(decoded.message.payloadBytes, decoded.message.payloadStart, decoded.message.payloadEnd);
  if (!sip.ok) return 0;
  const m = sip.message;
  // As the pipeline and the call tracker do: the Call-ID's string serves as the correlation id
  // when the chunk holds the same bytes; both are read (the correlation id is the call's key).
  shareCallIdText(decoded.message, m);
  const callId = m.callId ?? '';
  const key = decoded.message.correlationId ?? callId;
  return key.length + callId.length + (m.cseqNumber ?? 0) + (m.cseqMethod?.length ?? 0) + (m.method?.length ?? 0) +
    (m.fromTag?.length ?? 0) + (m.toTag?.length ?? 0) + (decoded.message.timestampMicros === null ? 0 : 1);
}

/** Whether the decoder rebuilt the packet's payload into a buffer of its own (unwrapped or inflated). */
function hasRebuiltPayload(packet: Buffer): boolean {
  const decoded = decodeHep(packet);
  return decoded.ok && decoded.message.payloadBytes !== packet;
}

const JSON_PAYLOAD_KEY = Buffer.from('"payload"');

/** A packet whose SIP text the decoder took out of a visible JSON wrapper (not a compressed one). */
function isJsonWrapped(packet: Buffer): boolean {
  return hasRebuiltPayload(packet) && packet.includes(JSON_PAYLOAD_KEY);
}

function ourDecodeOnly(packet: Buffer): number {
  const decoded = decodeHep(packet);
  return decoded.ok ? decoded.message.payloadEnd - decoded.message.payloadStart : 0;
}

export async function benchHep(): Promise<BenchRow[]> {
  const decapsulate = loadHepJs();
  const { packets, streams } = loadFixturePackets();
  const hep3Count = packets.filter((p) => p.toString('latin1', 0, 4) === 'HEP3').length;
  // The comparison runs on the packets both decoders decode. hep-js gives up on HEPv1/v2 at
  // once, so counting those would credit it with a rejection as if it were a decode.
  const common = packets.filter((p) => {
    const result = decapsulate(p);
    return typeof result === 'object' && result !== null;
  });
  const sipRead = common.filter((p) => ourFullPath(p) > 0).length;

  const roundOver = (set: readonly Buffer[], work: (packet: Buffer) => number) => (): number => {
    let total = 0;
    for (const packet of set) total += work(packet);
    return total;
  };
  const peerWork = (packet: Buffer): number => (decapsulate(packet) === false ? 0 : 1);

  const streamBytes = streams.reduce((sum, s) => sum + s.length, 0);
  // Framing in 100-byte reads, as in the smallreads capture: the worst realistic case.
  const pieces = streams.map((s) => Array.from({ length: Math.ceil(s.length / 100) }, (_, i) => s.subarray(i * 100, i * 100 + 100)));
  const frameAll = (): number => {
    let count = 0;
    for (const stream of pieces) {
      const framer = new HepStreamFramer();
      for (const piece of stream) count += framer.push(piece).packets.length;
    }
    return count;
  };

  // The packets whose SIP text OpenSIPS wrapped in JSON (homer5_on=0) are timed apart as well:
  // hep-js hands that JSON back unread, while our decoder unescapes the SIP text out of it.
  const wrapped = common.filter(isJsonWrapped);
  const plain = common.filter((packet) => !hasRebuiltPayload(packet));
  const measured = measureInterleaved(
    [common.length, common.length, common.length, packets.length, streamBytes, plain.length, plain.length, wrapped.length, wrapped.length],
    [
      roundOver(common, peerWork),
      roundOver(common, ourDecodeOnly),
      roundOver(common, ourFullPath),
      roundOver(packets, ourFullPath),
      frameAll,
      roundOver(plain, peerWork),
      roundOver(plain, ourFullPath),
      roundOver(wrapped, peerWork),
      roundOver(wrapped, ourFullPath),
    ],
  );
  if (measured.sink < 0) throw new Error('unreachable');
  const [peerRate, decodeRate, fullRate, fullRateAll, framingRate, plainPeerRate, plainRate, wrappedPeerRate, wrappedRate] = measured.perSecond;

  const packetsNote = `the ${common.length} fixture packets hep-js decodes (of ${packets.length}: ${hep3Count} HEP3, ${packets.length - hep3Count} HEPv1/v2 it cannot)`;
  return [
    {
      name: 'HEP decode',
      ours: rate(decodeRate, 'pkt'),
      peer: `hep-js ${rate(peerRate, 'pkt')}`,
      note: `${(decodeRate / peerRate).toFixed(1)}x hep-js; ${packetsNote}`,
    },
    {
      name: 'HEP decode + SIP parse (call-id, cseq, tags)',
      ours: rate(fullRate, 'pkt'),
      peer: `hep-js decode only ${rate(peerRate, 'pkt')}`,
      note:
        `${(fullRate / peerRate).toFixed(1)}x hep-js (target 10x): ${(plainRate / plainPeerRate).toFixed(1)}x on the ${plain.length} plain SIP packets, ` +
        `${(wrappedRate / wrappedPeerRate).toFixed(1)}x on the ${wrapped.length} JSON-wrapped ones (OpenSIPS homer5_on=0: we unescape the SIP text, hep-js returns the JSON unread); ` +
        `SIP fields read on ${sipRead} packets; SIP parsing is ${(100 * (1 - fullRate / decodeRate)).toFixed(0)}% of this path; all ${packets.length} packets, v1/v2 included: ${rate(fullRateAll, 'pkt')}`,
    },
    {
      name: 'HEP3 TCP framing (100-byte reads)',
      ours: `${(framingRate / 1e6).toFixed(0)} MB/s`,
      peer: 'n/a (hep-js has no stream framer)',
      note: `${streams.length} captured streams, ${streamBytes} bytes`,
    },
  ];
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

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  printTable(await benchHep());
}

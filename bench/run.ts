// `npm run bench`: every benchmark of the project in one run, our figures side by side with a
// peer's. Timing goals live here, never in the unit tests.
import { benchEngine, benchRateLookup } from './engine.ts';
import type { BenchRow } from './types.ts';

function printTable(rows: BenchRow[]): void {
  const header: BenchRow = { name: 'benchmark', ours: 'ours', peer: 'peer / comparison', note: 'note' };
  const all = [header, ...rows];
  const width = (key: keyof BenchRow): number => Math.max(...all.map((row) => row[key].length));
  const widths = { name: width('name'), ours: width('ours'), peer: width('peer'), note: width('note') };
  for (const [i, row] of all.entries()) {
    console.log(`${row.name.padEnd(widths.name)} | ${row.ours.padEnd(widths.ours)} | ${row.peer.padEnd(widths.peer)} | ${row.note}`);
    if (i === 0) console.log(`${'-'.repeat(widths.name)}-+-${'-'.repeat(widths.ours)}-+-${'-'.repeat(widths.peer)}-+-${'-'.repeat(widths.note)}`);
  }
}

const quick = process.argv.includes('--quick');
const rows: BenchRow[] = [];
const sections: Array<[string, () => Promise<BenchRow[]>]> = [
  ['rate lookup', () => benchRateLookup({ prefixes: quick ? 100_000 : 1_000_000, lookups: quick ? 500_000 : 5_000_000 })],
  ['engine', () => benchEngine({ calls: quick ? 2_000 : 20_000, httpCalls: quick ? 500 : 3_000 })],
  ['hep', async () => (await import('./hep.ts')).benchHep()],
  ['ingest', async () => (await import('./ingest.ts')).benchIngest()],
  [
    'distributed',
    async () => (await import('./distributed.ts')).benchDistributed(quick ? { calls: 1500, packetsPerSecond: 3000, rounds: 1 } : {}),
  ],
];
for (const [label, run] of sections) {
  process.stderr.write(`bench: ${label}...\n`);
  rows.push(...(await run()));
}
printTable(rows);

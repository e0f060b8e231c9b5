/** One line of the benchmark report: our figure beside a peer's (another implementation or mode). */
export interface BenchRow {
  name: string;
  ours: string;
  peer: string;
  note: string;
}

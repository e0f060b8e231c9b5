// Seeded integers for `{min, max}` values, so a run can be replayed with `--seed N`.
// The sequence is our own (mulberry32), not Python's Mersenne Twister: a seed reproduces runs of
// this tool, not of canyan-tester.
import { randomBytes } from 'node:crypto';

export interface SeededRandom {
  readonly seed: number;
  /** Uniform integer in [min, max], both ends included. */
  integer(min: number, max: number): number;
}

export const MAX_SEED = 0xffff_ffff;

export function randomSeed(): number {
  return randomBytes(4).readUInt32BE(0);
}

export function createSeededRandom(seed: number): SeededRandom {
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new RangeError(`seed must be a whole number between 0 and ${MAX_SEED}, got ${seed}`);
  }
  let state = seed >>> 0;
  const nextFraction = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
  return {
    seed,
    integer(min: number, max: number): number {
      if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min > max) {
        throw new RangeError(`invalid range {min: ${min}, max: ${max}}`);
      }
      return min + Math.floor(nextFraction() * (max - min + 1));
    },
  };
}

// What the packet pipeline needs from a call tracker, whichever keeps the call state: this
// process's memory (CallTracker) or Redis, shared by several agents (RedisCallTracker).
import type { Micros } from '../domain/types.ts';
import type { CallTrackerCounters, TrackableSipMessage } from './call-rules.ts';

/** The parts of the HEP envelope the tracker reads (src/hep's HepMessage satisfies it). */
export interface CapturedPacket {
  readonly timestampMicros: Micros | null;
  readonly correlationId: string | null;
  readonly srcIp: string | null;
}

/** Same shape as src/sip's CallParties: "" when unknown. */
export interface IdentifiedParties {
  accountTag: string;
  destinationAccountTag: string;
  source: string;
  destination: string;
}

export interface CallStateTracker<M extends TrackableSipMessage = TrackableSipMessage> {
  readonly kind: 'memory' | 'redis';
  /** Counters of this process (each agent counts what it did). */
  readonly counters: CallTrackerCounters;
  /** Calls currently tracked (ringing or answered); approximate for the shared state. */
  readonly trackedCalls: number;
  /**
   * Takes a captured message. Reads what it needs from `packet` and `message` before returning:
   * both may be reused by the caller afterwards. Never throws.
   */
  observe(packet: CapturedPacket, message: M): void;
  /** Applies the timeouts due at local time `now`. Never throws. */
  sweep(now: Micros): void;
  /** Resolves once every message and sweep taken so far has been applied (or counted as dropped). */
  drain(): Promise<void>;
  /** Counters of the state store itself (Redis errors, retries...), for the agent's stats. */
  stateStats(): Record<string, number>;
  /** Drains, then releases connections. */
  close(): Promise<void>;
}

// Call tracking: a synchronous state machine fed with captured SIP messages (already decoded from
// HEP and parsed) that decides when a call begins, ends or fails, and says so through an injected
// sink. It owns no sockets and no timers: the caller feeds packets and calls sweep() periodically.
//
// Rules (see the "HEP agent" issue, item 5):
// - Calls are keyed by the HEP correlation id when present (Kamailio and OpenSIPS send the
//   Call-ID there), else by the SIP Call-ID; replies traced without correlation still find the
//   call through its Call-ID.
// - An initial INVITE (no To tag) with at least one account tag opens a call. A 2xx to the
//   INVITE's CSeq answers it; an ACK answers it only when no 2xx was captured: it waits a moment
//   for one (another agent sharing the call may handle the 2xx late). It begins once.
// - The first BYE from either side ends it. Later copies (retransmissions, mirrored copies from
//   several hops) meet a tombstone and change nothing.
// - CANCEL or a final 3xx-6xx makes the attempt "failing". It is not final at once, because the
//   same INVITE can still succeed: a 401/407 challenge is retried with a higher CSeq, a proxy
//   fails over to another carrier after a 503, a 200 can cross a CANCEL. A failing attempt is
//   reported after a short settle period unless the call continues meanwhile.
// - Time is the HEP capture time of each packet (the local clock when a packet has none, or an
//   implausible one); ages for timeouts use the injected local clock, so that a sender with a
//   skewed clock (or a replay of old captures) is not closed early.
import type { Micros } from '../domain/types.ts';
import type { CallIntentSink } from './call-intents.ts';
import {
  CallState,
  DEFAULT_ACK_SETTLE_MICROS,
  FINISHED_FROM,
  NOTHING,
  applyMessage,
  applySweep,
  callRecordOf,
  callStateFromRecord,
  captureTime,
  isInitialInvite,
  newCallTrackerCounters,
  nonEmpty,
  reportOutcome,
  type CallRecord,
  type CallRuleSettings,
  type CallTrackerCounters,
  type TrackableSipMessage,
} from './call-rules.ts';
import type { CallStateTracker, CapturedPacket, IdentifiedParties } from './state-tracker.ts';
import { StringPool, detachString } from './string-pool.ts';

export type { CallTrackerCounters, TrackableSipMessage } from './call-rules.ts';
export type { CapturedPacket, IdentifiedParties } from './state-tracker.ts';

export interface CallTrackerOptions<M extends TrackableSipMessage> {
  identifyParties: (message: M) => IdentifiedParties;
  emit: CallIntentSink;
  /** Local clock: ages for timeouts, and the time of packets whose HEP carries none. */
  clock: () => Micros;
  maxCallDurationMicros: Micros;
  unansweredTimeoutMicros: Micros;
  /** How long a failing attempt may still turn into an answered call. Default 5 s. */
  failureSettleMicros?: Micros;
  /** How long an ACK waits for its 200 OK before it answers the call (call-rules.ts). */
  ackSettleMicros?: Micros;
  /** How long a finished call's id keeps absorbing late copies. Default 180 s. */
  finishedGraceMicros?: Micros;
  /** Hard cap on tracked calls, so a flood of INVITEs cannot exhaust memory. Default 1,000,000. */
  maxTrackedCalls?: number;
}

/** What a tracker saves when the agent stops, and restores when it starts again. */
export interface CallTrackerSnapshot {
  calls: CallRecord[];
  /** Finished calls' keys with the local time (microseconds) until which they absorb late copies. */
  tombstones: Array<[key: string, expiresAtLocal: Micros]>;
}

export interface RestoreResult {
  calls: number;
  tombstones: number;
  /** Records that were not valid calls (skipped). */
  invalid: number;
}

/** The in-memory tracker: one agent sees every message of its calls. */
export class CallTracker<M extends TrackableSipMessage = TrackableSipMessage> implements CallStateTracker<M> {
  readonly kind = 'memory';
  readonly counters: CallTrackerCounters = newCallTrackerCounters();

  private readonly calls = new Map<string, CallState>();
  /** Call-ID -> key, only for calls keyed by a correlation id that differs from their Call-ID. */
  private readonly aliases = new Map<string, string>();
  /**
   * Keys of finished calls -> local second (see expirySecond) until which their late copies are
   * absorbed. Seconds since the tracker started fit a small integer, which a Map stores inline;
   * microseconds since 1970 would each take a boxed number: at thousands of calls a second and
   * minutes of grace, that is tens of megabytes.
   */
  private readonly tombstones = new Map<string, number>();
  /** Keys of untracked INVITEs, so that their retransmissions are counted once. */
  private readonly untrackedSeen = new Map<string, number>();
  /** Local time the tracker started: the origin of the expiry seconds. */
  private readonly epochMicros: Micros;
  private readonly strings = new StringPool();
  private readonly rules: CallRuleSettings;
  private readonly graceMicros: Micros;
  private readonly maxTrackedCalls: number;

  constructor(private readonly options: CallTrackerOptions<M>) {
    this.rules = {
      maxCallDurationMicros: options.maxCallDurationMicros,
      unansweredTimeoutMicros: options.unansweredTimeoutMicros,
      settleMicros: options.failureSettleMicros ?? 5_000_000,
      // One settle period by default: how long a message that may still change the outcome is awaited.
      ackSettleMicros: options.ackSettleMicros ?? options.failureSettleMicros ?? DEFAULT_ACK_SETTLE_MICROS,
    };
    this.graceMicros = options.finishedGraceMicros ?? 180_000_000;
    this.maxTrackedCalls = options.maxTrackedCalls ?? 1_000_000;
    this.epochMicros = options.clock();
  }

  /** An expiry time as whole seconds since the tracker started, rounded up (never early). */
  private expirySecond(at: Micros): number {
    return Math.ceil((at - this.epochMicros) / 1_000_000);
  }

  /** Calls currently tracked (ringing or answered). */
  get trackedCalls(): number {
    return this.calls.size;
  }

  observe(packet: CapturedPacket, message: M): void {
    const callId = nonEmpty(message.callId);
    const key = nonEmpty(packet.correlationId) ?? callId;
    if (key === null) {
      this.counters.no_call_id++;
      return;
    }
    const local = this.options.clock();
    let at = captureTime(packet.timestampMicros, local);
    if (at < 0) {
      this.counters.implausible_time++;
      at = local;
    }
    const call = this.find(key, callId);
    if (call === undefined) {
      if (this.isFinished(key, callId)) {
        this.counters.after_end++;
      } else if (isInitialInvite(message)) {
        this.open(key, callId, packet, message, at, local);
      } else {
        this.counters.unknown_call++;
      }
      return;
    }
    const outcome = applyMessage(call, message, at, local);
    if (outcome === NOTHING) return;
    if (outcome >= FINISHED_FROM) this.finish(call, local);
    reportOutcome(outcome, call, at, this.counters, this.options.emit, this.rules);
  }

  /**
   * Applies the timeouts at local time `now`: settles failing attempts, closes answered calls
   * older than the maximum duration, forgets unanswered INVITEs, expires tombstones.
   */
  sweep(now: Micros): void {
    for (const call of this.calls.values()) {
      const outcome = applySweep(call, now, this.rules);
      if (outcome === NOTHING) continue;
      if (outcome >= FINISHED_FROM) this.finish(call, now);
      reportOutcome(outcome, call, now, this.counters, this.options.emit, this.rules);
    }
    const second = Math.floor((now - this.epochMicros) / 1_000_000);
    expire(this.tombstones, second);
    expire(this.untrackedSeen, second);
  }

  /** Nothing is pending: every message is applied when it is observed. */
  drain(): Promise<void> {
    return Promise.resolve();
  }

  stateStats(): Record<string, number> {
    return { tombstones: this.tombstones.size, aliases: this.aliases.size };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** The open calls and the tombstones still absorbing late copies (see restore()). */
  snapshot(): CallTrackerSnapshot {
    const calls: CallRecord[] = [];
    for (const call of this.calls.values()) calls.push(callRecordOf(call));
    const tombstones: Array<[string, Micros]> = [];
    for (const [key, second] of this.tombstones) tombstones.push([key, this.epochMicros + second * 1_000_000]);
    return { calls, tombstones };
  }

  /**
   * Adds the calls and tombstones of a snapshot (taken by an earlier run), at local time `now`:
   * expired tombstones are dropped, calls already tracked are kept as they are, and records that
   * are not valid calls are skipped and counted.
   */
  restore(snapshot: CallTrackerSnapshot, now: Micros): RestoreResult {
    const result: RestoreResult = { calls: 0, tombstones: 0, invalid: 0 };
    for (const record of snapshot.calls) {
      const call = callStateFromRecord(record, (text) => this.strings.intern(text));
      if (call === null) {
        result.invalid++;
        continue;
      }
      if (this.calls.has(call.key) || this.tombstones.has(call.key)) continue;
      this.calls.set(call.key, call);
      if (call.transactionTag !== call.key) this.aliases.set(call.transactionTag, call.key);
      result.calls++;
    }
    const live: Array<[string, Micros]> = [];
    for (const entry of snapshot.tombstones as unknown[]) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !Number.isSafeInteger(entry[1])) {
        result.invalid++;
        continue;
      }
      const [key, expires] = entry as [string, Micros];
      if (expires > now && !this.calls.has(key)) live.push([key, expires]);
    }
    // Oldest first, ahead of any newer tombstone: the map must stay ordered by expiry.
    live.sort((a, b) => a[1] - b[1]);
    const restored = new Map<string, number>();
    for (const [key, expires] of live) restored.set(key, this.expirySecond(expires));
    for (const [key, second] of this.tombstones) {
      restored.delete(key);
      restored.set(key, second);
    }
    this.tombstones.clear();
    for (const [key, second] of restored) this.tombstones.set(key, second);
    result.tombstones = live.length;
    return result;
  }

  private find(key: string, callId: string | null): CallState | undefined {
    const direct = this.calls.get(key);
    if (direct !== undefined || callId === null) return direct;
    if (callId !== key) {
      const byCallId = this.calls.get(callId);
      if (byCallId !== undefined) return byCallId;
    }
    const aliased = this.aliases.get(callId);
    return aliased === undefined ? undefined : this.calls.get(aliased);
  }

  private isFinished(key: string, callId: string | null): boolean {
    return this.tombstones.has(key) || (callId !== null && this.tombstones.has(callId));
  }

  private open(key: string, callId: string | null, packet: CapturedPacket, message: M, at: Micros, local: Micros): void {
    let parties: IdentifiedParties;
    try {
      parties = this.options.identifyParties(message);
    } catch {
      this.counters.identification_errors++;
      return;
    }
    if (parties.accountTag === '' && parties.destinationAccountTag === '') {
      // Not tombstoned: a later copy of the same INVITE (e.g. after the proxy added an account
      // header) may still carry tags and open the call.
      if (!this.untrackedSeen.has(key)) {
        this.counters.untracked++;
        this.untrackedSeen.set(detachString(key), this.expirySecond(local + this.graceMicros));
      }
      return;
    }
    if (this.calls.size >= this.maxTrackedCalls) {
      this.counters.over_capacity++;
      return;
    }
    const ownKey = detachString(key);
    const transactionTag = callId === null || callId === key ? ownKey : detachString(callId);
    const pool = this.strings;
    const call = new CallState(
      ownKey,
      transactionTag,
      pool.intern(parties.accountTag),
      pool.intern(parties.destinationAccountTag),
      pool.intern(parties.source),
      pool.intern(parties.destination),
      packet.srcIp === null ? null : pool.intern(packet.srcIp),
      message.cseqNumber ?? 0,
      at,
      local,
    );
    this.calls.set(ownKey, call);
    if (transactionTag !== ownKey) this.aliases.set(transactionTag, ownKey);
    this.counters.opened++;
  }

  /** Forgets the call and leaves a tombstone that absorbs its late copies. */
  private finish(call: CallState, local: Micros): void {
    this.calls.delete(call.key);
    const expires = this.expirySecond(local + this.graceMicros);
    // Re-inserted so that the map stays ordered by expiry (sweep stops at the first live one).
    this.tombstones.delete(call.key);
    this.tombstones.set(call.key, expires);
    if (call.transactionTag !== call.key) {
      this.aliases.delete(call.transactionTag);
      this.tombstones.delete(call.transactionTag);
      this.tombstones.set(call.transactionTag, expires);
    }
  }
}

/** Deletes expired entries from a map whose insertion order is its expiry order. */
function expire(expiries: Map<string, number>, now: number): void {
  for (const [key, expiresAt] of expiries) {
    if (expiresAt > now) return;
    expiries.delete(key);
  }
}

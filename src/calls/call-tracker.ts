// Call tracking: a synchronous state machine fed with captured SIP messages (already decoded from
// HEP and parsed) that decides when a call begins, ends or fails, and says so through an injected
// sink. It owns no sockets and no timers: the caller feeds packets and calls sweep() periodically.
//
// Rules (see the "HEP agent" issue, item 5):
// - Calls are keyed by the HEP correlation id when present (Kamailio and OpenSIPS send the
//   Call-ID there), else by the SIP Call-ID; replies traced without correlation still find the
//   call through its Call-ID.
// - An initial INVITE (no To tag) with at least one account tag opens a call. A 2xx to the
//   INVITE's CSeq answers it; an ACK answers it only when no 2xx was captured. It begins once.
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
import type { CallIntent, CallIntentSink, TrackedCall } from './call-intents.ts';
import { StringPool, detachString } from './string-pool.ts';

/** The parts of a parsed SIP message the tracker reads (src/sip's SipMessage satisfies it). */
export interface TrackableSipMessage {
  readonly isRequest: boolean;
  readonly method: string | null;
  readonly statusCode: number | null;
  readonly callId: string | null;
  readonly cseqNumber: number | null;
  readonly cseqMethod: string | null;
  readonly to: { readonly tag: string | null } | null;
}

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

export interface CallTrackerOptions<M extends TrackableSipMessage> {
  identifyParties: (message: M) => IdentifiedParties;
  emit: CallIntentSink;
  /** Local clock: ages for timeouts, and the time of packets whose HEP carries none. */
  clock: () => Micros;
  maxCallDurationMicros: Micros;
  unansweredTimeoutMicros: Micros;
  /** How long a failing attempt may still turn into an answered call. Default 5 s. */
  failureSettleMicros?: Micros;
  /** How long a finished call's id keeps absorbing late copies. Default 180 s. */
  finishedGraceMicros?: Micros;
  /** Hard cap on tracked calls, so a flood of INVITEs cannot exhaust memory. Default 1,000,000. */
  maxTrackedCalls?: number;
}

export interface CallTrackerCounters {
  opened: number;
  answered: number;
  ended: number;
  failed: number;
  timed_out: number;
  /** Initial INVITEs (counted once per call) for which neither account tag was identified. */
  untracked: number;
  /** Unanswered INVITEs forgotten after the unanswered timeout, with no failure captured. */
  forgotten_unanswered: number;
  /** Calls ended by a BYE whose answer (2xx and ACK) was never captured. */
  answer_not_captured: number;
  /** Messages about a call that had already finished (late copies, retransmissions). */
  after_end: number;
  /** Messages for which no call is tracked (mid-call captures, untracked calls, orphan replies). */
  unknown_call: number;
  /** Messages with neither a Call-ID nor a correlation id. */
  no_call_id: number;
  /** INVITEs dropped because maxTrackedCalls was reached. */
  over_capacity: number;
  /** Errors thrown by the account identification (e.g. a bad regexp): the call is not tracked. */
  identification_errors: number;
  /** Packets whose HEP time was implausible (far past or future): the local time was used. */
  implausible_time: number;
}

const RINGING = 0;
const ANSWERED = 1;

const SIP_REQUEST_TERMINATED = 487;
const PLAUSIBLE_PAST_MICROS = 10 * 366 * 86_400 * 1_000_000;
const PLAUSIBLE_FUTURE_MICROS = 86_400 * 1_000_000;

/** Per-call state. Kept small on purpose: no SIP text, shared strings, numbers only otherwise. */
class CallState implements TrackedCall {
  phase = RINGING;
  answeredAt = 0;
  answeredLocal = 0;
  /** Last final failure seen (0: none) and its HEP time. */
  failStatus = 0;
  failAt = 0;
  /** Local time at which the current failure started settling; 0 when none is pending. */
  failLocal = 0;
  cancelled = false;

  constructor(
    readonly key: string,
    readonly transactionTag: string,
    readonly accountTag: string,
    readonly destinationAccountTag: string,
    readonly source: string,
    readonly destination: string,
    readonly sourceIp: string | null,
    public inviteCseq: number,
    readonly invitedAt: Micros,
    readonly openedLocal: Micros,
  ) {}
}

function nonEmpty(text: string | null): string | null {
  return text === null || text === '' ? null : text;
}

export class CallTracker<M extends TrackableSipMessage = TrackableSipMessage> {
  readonly counters: CallTrackerCounters = {
    opened: 0,
    answered: 0,
    ended: 0,
    failed: 0,
    timed_out: 0,
    untracked: 0,
    forgotten_unanswered: 0,
    answer_not_captured: 0,
    after_end: 0,
    unknown_call: 0,
    no_call_id: 0,
    over_capacity: 0,
    identification_errors: 0,
    implausible_time: 0,
  };

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
  private readonly settleMicros: Micros;
  private readonly graceMicros: Micros;
  private readonly maxTrackedCalls: number;

  constructor(private readonly options: CallTrackerOptions<M>) {
    this.settleMicros = options.failureSettleMicros ?? 5_000_000;
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
    const at = this.captureTime(packet.timestampMicros, local);
    const call = this.find(key, callId);
    if (call === undefined) {
      if (this.isFinished(key, callId)) {
        this.counters.after_end++;
      } else if (message.isRequest && upper(message.method) === 'INVITE' && !hasToTag(message)) {
        this.open(key, callId, packet, message, at, local);
      } else {
        this.counters.unknown_call++;
      }
      return;
    }
    if (message.isRequest) this.onRequest(call, message, at, local);
    else this.onResponse(call, message, at, local);
  }

  /**
   * Applies the timeouts at local time `now`: settles failing attempts, closes answered calls
   * older than the maximum duration, forgets unanswered INVITEs, expires tombstones.
   */
  sweep(now: Micros): void {
    const { maxCallDurationMicros, unansweredTimeoutMicros } = this.options;
    for (const call of this.calls.values()) {
      if (call.phase === ANSWERED) {
        if (now - call.answeredLocal >= maxCallDurationMicros) {
          this.counters.timed_out++;
          this.finish(call, now);
          this.send({
            kind: 'timed_out',
            call,
            timestamp: call.answeredAt + maxCallDurationMicros,
            answeredAt: call.answeredAt,
            endReason: 'max_duration',
          });
        }
      } else if (call.failLocal > 0 && now - call.failLocal >= this.settleMicros) {
        this.fail(call, now);
      } else if (now - call.openedLocal >= unansweredTimeoutMicros) {
        if (call.failStatus > 0) {
          this.fail(call, now);
        } else {
          this.counters.forgotten_unanswered++;
          this.finish(call, now);
        }
      }
    }
    const second = Math.floor((now - this.epochMicros) / 1_000_000);
    expire(this.tombstones, second);
    expire(this.untrackedSeen, second);
  }

  /**
   * The packet's HEP time, or the local time when it has none or an implausible one (a sender
   * with a broken clock or byte-swapped timestamps, as Homer guards against): outside
   * [local - 10 years, local + 24 hours].
   */
  private captureTime(stamp: Micros | null, local: Micros): Micros {
    if (stamp === null || stamp <= 0) return local;
    if (stamp < local - PLAUSIBLE_PAST_MICROS || stamp > local + PLAUSIBLE_FUTURE_MICROS) {
      this.counters.implausible_time++;
      return local;
    }
    return stamp;
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

  private onRequest(call: CallState, message: M, at: Micros, local: Micros): void {
    switch (upper(message.method)) {
      case 'INVITE':
        this.onInvite(call, message);
        return;
      case 'ACK':
        // The ACK of a 2xx has the INVITE's CSeq number. The ACK of a failure has it too, which
        // is why an ACK never answers a call whose failure is settling.
        if (
          call.phase === RINGING &&
          message.cseqNumber === call.inviteCseq &&
          call.failLocal === 0 &&
          !call.cancelled
        ) {
          this.answer(call, at, local);
        }
        return;
      case 'BYE':
        if (call.phase === RINGING) {
          // A BYE exists only inside an established dialog: the answer was missed. Begin and end
          // at the BYE so that the call is at least recorded.
          this.counters.answer_not_captured++;
          this.answer(call, at, local);
        }
        this.counters.ended++;
        this.finish(call, local);
        this.send({ kind: 'end', call, timestamp: Math.max(at, call.answeredAt), answeredAt: call.answeredAt });
        return;
      case 'CANCEL':
        if (call.phase === RINGING && !call.cancelled && message.cseqNumber === call.inviteCseq) {
          call.cancelled = true;
          this.startFailing(call, SIP_REQUEST_TERMINATED, at, local);
        }
        return;
      default:
        // UPDATE, PRACK, INFO, OPTIONS, MESSAGE, REFER, NOTIFY...: no effect on rating.
        return;
    }
  }

  private onInvite(call: CallState, message: M): void {
    if (call.phase !== RINGING || hasToTag(message)) return; // re-INVITE or a late copy
    const cseq = message.cseqNumber;
    if (cseq !== null && cseq > call.inviteCseq) {
      // A new attempt of the same call (after a 401/407 challenge, or a redirect followed by the
      // caller): whatever failed before does not count.
      call.inviteCseq = cseq;
      call.failLocal = 0;
      call.failStatus = 0;
      call.cancelled = false;
    } else if (!call.cancelled) {
      // Another copy of the INVITE, e.g. forwarded to the next carrier after a failure.
      call.failLocal = 0;
    }
  }

  private onResponse(call: CallState, message: M, at: Micros, local: Micros): void {
    const status = message.statusCode;
    if (status === null || upper(message.cseqMethod) !== 'INVITE' || message.cseqNumber !== call.inviteCseq) return;
    if (call.phase !== RINGING) return; // retransmitted or mirrored answers of an answered call
    if (status >= 200 && status < 300) {
      this.answer(call, at, local);
    } else if (status >= 300) {
      if (!call.cancelled) this.startFailing(call, status, at, local);
    } else if (!call.cancelled) {
      call.failLocal = 0; // still ringing somewhere: a failure seen so far was not the last word
    }
  }

  private answer(call: CallState, at: Micros, local: Micros): void {
    call.phase = ANSWERED;
    call.answeredAt = at;
    call.answeredLocal = local;
    this.counters.answered++;
    this.send({ kind: 'begin', call, timestamp: at });
  }

  private startFailing(call: CallState, status: number, at: Micros, local: Micros): void {
    call.failStatus = status;
    call.failAt = at;
    call.failLocal = local;
  }

  private fail(call: CallState, now: Micros): void {
    this.counters.failed++;
    this.finish(call, now);
    this.send({ kind: 'attempt_failed', call, timestamp: call.failAt, sipStatus: call.failStatus });
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

  private send(intent: CallIntent): void {
    this.options.emit(intent);
  }
}

function upper(text: string | null): string {
  return text === null ? '' : text.toUpperCase();
}

function hasToTag(message: TrackableSipMessage): boolean {
  const tag = message.to?.tag ?? null;
  return tag !== null && tag !== '';
}

/** Deletes expired entries from a map whose insertion order is its expiry order. */
function expire(expiries: Map<string, number>, now: number): void {
  for (const [key, expiresAt] of expiries) {
    if (expiresAt > now) return;
    expiries.delete(key);
  }
}

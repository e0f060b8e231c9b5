// The call rules, in one place: what a captured SIP message or the passing of time does to one
// call. Both trackers use them: the in-memory one (CallTracker, state in a Map of this process)
// and the shared one (RedisCallTracker, state in Redis, read and written around each step).
//
// A step takes the call's state (a small serialisable record, or null when the call is not
// known), the message facts and the times, updates the record in place and returns an outcome
// code: what the step means for rating. reportOutcome() turns the code into counters and intents,
// so that both trackers count and emit alike. Codes (small integers) instead of arrays of
// intents: the in-memory tracker runs this on every packet.
//
// The rules themselves are described in call-tracker.ts's header.
import type { Micros } from '../domain/types.ts';
import type { CallIntentSink, TrackedCall } from './call-intents.ts';

/** The parts of a parsed SIP message the rules read (src/sip's SipMessage satisfies it). */
export interface TrackableSipMessage {
  readonly isRequest: boolean;
  readonly method: string | null;
  readonly statusCode: number | null;
  readonly callId: string | null;
  readonly cseqNumber: number | null;
  readonly cseqMethod: string | null;
  readonly to: { readonly tag: string | null } | null;
  /**
   * The To tag alone, when the message can read it without parsing the whole To header (src/sip's
   * messages can: a byte scan); otherwise `to` is read.
   */
  readonly toTag?: string | null;
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

export function newCallTrackerCounters(): CallTrackerCounters {
  return {
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
}

export interface CallRuleSettings {
  maxCallDurationMicros: Micros;
  unansweredTimeoutMicros: Micros;
  /** How long a failing attempt may still turn into an answered call. */
  settleMicros: Micros;
  /**
   * How long an ACK waits for the 200 OK it acknowledges before it answers the call itself: with
   * several agents, the 200 OK may be handled after the ACK by an agent that lags behind.
   */
  ackSettleMicros: Micros;
}

// Default of ackSettleMicros: the failure settle period; far longer than a healthy agent lags (a
// freshly restarted agent on a busy machine can lag by seconds), and it only delays when
// a call without a captured 200 OK starts counting against concurrency limits, not its times.
export const DEFAULT_ACK_SETTLE_MICROS = 5_000_000;

export const RINGING = 0;
export const ANSWERED = 1;

/** Outcome codes of a step. FINISHED_FROM and above: the call is over (leave a tombstone). */
export const NOTHING = 0;
export const BEGIN = 1;
export const END = 2;
/** A BYE for a call whose answer was never captured: begin and end at the BYE. */
export const BEGIN_END = 3;
export const FAILED = 4;
export const TIMED_OUT = 5;
/** Unanswered and no failure captured: forgotten without an intent. */
export const FORGOTTEN = 6;
/**
 * A call whose BYE came while its ACK was still waiting for the 200 OK, settled by that 200 OK or
 * by the end of the wait: begin at the answer (the 200 OK's time, else the ACK's), end at the BYE.
 */
export const ACK_BEGIN_END = 7;
export const FINISHED_FROM = END;
export type StepOutcome = number;

const SIP_REQUEST_TERMINATED = 487;
const PLAUSIBLE_PAST_MICROS = 10 * 366 * 86_400 * 1_000_000;
const PLAUSIBLE_FUTURE_MICROS = 86_400 * 1_000_000;

/** The serialisable form of a call's state (what is saved to a file or stored in Redis). */
export interface CallRecord {
  key: string;
  transactionTag: string;
  accountTag: string;
  destinationAccountTag: string;
  source: string;
  destination: string;
  sourceIp: string | null;
  inviteCseq: number;
  invitedAt: Micros;
  openedLocal: Micros;
  phase: number;
  answeredAt: Micros;
  answeredLocal: Micros;
  failStatus: number;
  failAt: Micros;
  failLocal: Micros;
  cancelled: boolean;
  /** HEP and local time of the first ACK of a ringing call (0: none), waiting for its 200 OK. */
  ackAt: Micros;
  ackLocal: Micros;
  /** HEP time of a BYE that came while the ACK was waiting (0: none): the call's end. */
  byeAt: Micros;
}

/** Per-call state. Kept small on purpose: no SIP text, shared strings, numbers only otherwise. */
export class CallState implements TrackedCall, CallRecord {
  phase = RINGING;
  answeredAt = 0;
  answeredLocal = 0;
  /** Last final failure seen (0: none) and its HEP time. */
  failStatus = 0;
  failAt = 0;
  /** Local time at which the current failure started settling; 0 when none is pending. */
  failLocal = 0;
  cancelled = false;
  /** First ACK seen while ringing (HEP time, local time; 0: none): the answer unless a 200 OK shows up. */
  ackAt = 0;
  ackLocal = 0;
  /** A BYE seen while the ACK waits (HEP time; 0: none): the end, once the answer is known. */
  byeAt = 0;

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

/** A plain copy of the state, for JSON. */
export function callRecordOf(call: CallRecord): CallRecord {
  return {
    key: call.key,
    transactionTag: call.transactionTag,
    accountTag: call.accountTag,
    destinationAccountTag: call.destinationAccountTag,
    source: call.source,
    destination: call.destination,
    sourceIp: call.sourceIp,
    inviteCseq: call.inviteCseq,
    invitedAt: call.invitedAt,
    openedLocal: call.openedLocal,
    phase: call.phase,
    answeredAt: call.answeredAt,
    answeredLocal: call.answeredLocal,
    failStatus: call.failStatus,
    failAt: call.failAt,
    failLocal: call.failLocal,
    cancelled: call.cancelled,
    ackAt: call.ackAt,
    ackLocal: call.ackLocal,
    byeAt: call.byeAt,
  };
}

const isText = (value: unknown): value is string => typeof value === 'string';
const isInteger = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value);

/**
 * The state of a record read back from a file or from Redis, or null when it is not a valid
 * record (another version's format, a corrupted value): the caller says what it does then.
 */
export function callStateFromRecord(value: unknown, intern: (text: string) => string = (text) => text): CallState | null {
  if (typeof value !== 'object' || value === null) return null;
  const r = value as Record<string, unknown>;
  if (
    !isText(r.key) || r.key === '' ||
    !isText(r.transactionTag) || r.transactionTag === '' ||
    !isText(r.accountTag) || !isText(r.destinationAccountTag) || !isText(r.source) || !isText(r.destination) ||
    !(r.sourceIp === null || isText(r.sourceIp)) ||
    !isInteger(r.inviteCseq) || !isInteger(r.invitedAt) || !isInteger(r.openedLocal) ||
    (r.phase !== RINGING && r.phase !== ANSWERED) ||
    !isInteger(r.answeredAt) || !isInteger(r.answeredLocal) ||
    !isInteger(r.failStatus) || !isInteger(r.failAt) || !isInteger(r.failLocal) ||
    typeof r.cancelled !== 'boolean' ||
    // Absent from records written before the ACK waited for its 200 OK.
    !(r.ackAt === undefined || isInteger(r.ackAt)) ||
    !(r.ackLocal === undefined || isInteger(r.ackLocal)) ||
    !(r.byeAt === undefined || isInteger(r.byeAt))
  ) {
    return null;
  }
  const call = new CallState(
    r.key,
    r.transactionTag === r.key ? r.key : r.transactionTag,
    intern(r.accountTag),
    intern(r.destinationAccountTag),
    intern(r.source),
    intern(r.destination),
    r.sourceIp === null ? null : intern(r.sourceIp),
    r.inviteCseq,
    r.invitedAt,
    r.openedLocal,
  );
  call.phase = r.phase;
  call.answeredAt = r.answeredAt;
  call.answeredLocal = r.answeredLocal;
  call.failStatus = r.failStatus;
  call.failAt = r.failAt;
  call.failLocal = r.failLocal;
  call.cancelled = r.cancelled;
  call.ackAt = isInteger(r.ackAt) ? r.ackAt : 0;
  call.ackLocal = isInteger(r.ackLocal) ? r.ackLocal : 0;
  call.byeAt = isInteger(r.byeAt) ? r.byeAt : 0;
  return call;
}

export function nonEmpty(text: string | null): string | null {
  return text === null || text === '' ? null : text;
}

export function upper(text: string | null): string {
  return text === null ? '' : text.toUpperCase();
}

export function hasToTag(message: TrackableSipMessage): boolean {
  const tag = message.toTag !== undefined ? message.toTag : (message.to?.tag ?? null);
  return tag !== null && tag !== '';
}

/** An INVITE outside a dialog (no To tag): the only message that opens a call. */
export function isInitialInvite(message: TrackableSipMessage): boolean {
  return message.isRequest && upper(message.method) === 'INVITE' && !hasToTag(message);
}

/**
 * The packet's HEP time, or the local time when it has none or an implausible one (a sender
 * with a broken clock or byte-swapped timestamps, as Homer guards against): outside
 * [local - 10 years, local + 24 hours]. Negative when implausible (-local), so that the caller
 * can count it without an extra return value.
 */
export function captureTime(stamp: Micros | null, local: Micros): Micros {
  if (stamp === null || stamp <= 0) return local;
  if (stamp < local - PLAUSIBLE_PAST_MICROS || stamp > local + PLAUSIBLE_FUTURE_MICROS) return -local;
  return stamp;
}

/** Applies a message of the call (captured at HEP time `at`, received at local time `local`). */
export function applyMessage(call: CallState, message: TrackableSipMessage, at: Micros, local: Micros): StepOutcome {
  return message.isRequest ? onRequest(call, message, at, local) : onResponse(call, message, at, local);
}

function onRequest(call: CallState, message: TrackableSipMessage, at: Micros, local: Micros): StepOutcome {
  switch (upper(message.method)) {
    case 'INVITE':
      onInvite(call, message);
      return NOTHING;
    case 'ACK':
      // The ACK of a 2xx has the INVITE's CSeq number. The ACK of a failure has it too, which
      // is why an ACK never answers a call whose failure is settling. The 200 OK it acknowledges
      // marks the answer; with several agents sharing a call, that 200 OK may be handled after
      // the ACK, so the ACK only answers once it has waited for it (applySweep), or at a BYE.
      if (call.phase === RINGING && message.cseqNumber === call.inviteCseq && call.failLocal === 0 && !call.cancelled && call.ackLocal === 0) {
        call.ackAt = at;
        call.ackLocal = local;
      }
      return NOTHING;
    case 'BYE':
      if (call.phase === RINGING && ackAnswers(call)) {
        // The 200 OK may still come (handled late by another agent): the end waits with the ACK
        // (applySweep), keeping the first BYE's time.
        if (call.byeAt === 0) call.byeAt = at;
        return NOTHING;
      }
      if (call.phase === RINGING) {
        // A BYE exists only inside an established dialog: the answer was missed. Begin and end
        // at the BYE so that the call is at least recorded.
        answer(call, at, local);
        return BEGIN_END;
      }
      return END;
    case 'CANCEL':
      if (call.phase === RINGING && !call.cancelled && message.cseqNumber === call.inviteCseq) {
        call.cancelled = true;
        startFailing(call, SIP_REQUEST_TERMINATED, at, local);
      }
      return NOTHING;
    default:
      // UPDATE, PRACK, INFO, OPTIONS, MESSAGE, REFER, NOTIFY...: no effect on rating.
      return NOTHING;
  }
}

function onInvite(call: CallState, message: TrackableSipMessage): void {
  if (call.phase !== RINGING || hasToTag(message)) return; // re-INVITE or a late copy
  const cseq = message.cseqNumber;
  if (cseq !== null && cseq > call.inviteCseq) {
    // A new attempt of the same call (after a 401/407 challenge, or a redirect followed by the
    // caller): whatever failed before does not count.
    call.inviteCseq = cseq;
    call.failLocal = 0;
    call.failStatus = 0;
    call.cancelled = false;
    call.ackAt = 0;
    call.ackLocal = 0;
  } else if (!call.cancelled) {
    // Another copy of the INVITE, e.g. forwarded to the next carrier after a failure.
    call.failLocal = 0;
  }
}

function onResponse(call: CallState, message: TrackableSipMessage, at: Micros, local: Micros): StepOutcome {
  const status = message.statusCode;
  if (status === null || upper(message.cseqMethod) !== 'INVITE' || message.cseqNumber !== call.inviteCseq) return NOTHING;
  if (call.phase !== RINGING) return NOTHING; // retransmitted or mirrored answers of an answered call
  if (status >= 200 && status < 300) {
    answer(call, at, local);
    return call.byeAt > 0 && ackAnswers(call) ? ACK_BEGIN_END : BEGIN;
  }
  if (status >= 300) {
    if (!call.cancelled) startFailing(call, status, at, local);
  } else if (!call.cancelled) {
    call.failLocal = 0; // still ringing somewhere: a failure seen so far was not the last word
  }
  return NOTHING;
}

function answer(call: CallState, at: Micros, local: Micros): void {
  call.phase = ANSWERED;
  call.answeredAt = at;
  call.answeredLocal = local;
}

function startFailing(call: CallState, status: number, at: Micros, local: Micros): void {
  call.failStatus = status;
  call.failAt = at;
  call.failLocal = local;
}

/**
 * Applies the timeouts at local time `now`: a failing attempt settles, an ACK that waited long
 * enough for its 200 OK answers the call (BEGIN: the call goes on; or begun and ended at once
 * when its BYE came meanwhile), an answered call older than the maximum duration is closed, an
 * unanswered INVITE is forgotten (or failed, when a failure was captured). Only the ACK's answer
 * changes the record; every other outcome finishes the call.
 */
export function applySweep(call: CallState, now: Micros, settings: CallRuleSettings): StepOutcome {
  if (call.phase === ANSWERED) {
    return now - call.answeredLocal >= settings.maxCallDurationMicros ? TIMED_OUT : NOTHING;
  }
  if (call.failLocal > 0 && now - call.failLocal >= settings.settleMicros) return FAILED;
  if (ackAnswers(call) && now - call.ackLocal >= settings.ackSettleMicros) {
    answer(call, call.ackAt, call.ackLocal);
    return call.byeAt > 0 ? ACK_BEGIN_END : BEGIN;
  }
  if (now - call.openedLocal >= settings.unansweredTimeoutMicros) return call.failStatus > 0 ? FAILED : FORGOTTEN;
  return NOTHING;
}

/** The local time at which applySweep will next have something to do for this call. */
export function nextDeadline(call: CallRecord, settings: CallRuleSettings): Micros {
  if (call.phase === ANSWERED) return call.answeredLocal + settings.maxCallDurationMicros;
  const unanswered = call.openedLocal + settings.unansweredTimeoutMicros;
  if (call.failLocal > 0) return Math.min(call.failLocal + settings.settleMicros, unanswered);
  return ackAnswers(call) ? Math.min(call.ackLocal + settings.ackSettleMicros, unanswered) : unanswered;
}

/** A ringing call's ACK that will answer it unless its 200 OK shows up first. */
function ackAnswers(call: CallRecord): boolean {
  return call.ackLocal > 0 && call.failLocal === 0 && !call.cancelled;
}

/**
 * Counts a step's outcome and emits its intents. `at` is the HEP time of the message that caused
 * it (unused for timeouts, whose times come from the record).
 */
export function reportOutcome(
  outcome: StepOutcome,
  call: CallState,
  at: Micros,
  counters: CallTrackerCounters,
  emit: CallIntentSink,
  settings: CallRuleSettings,
): void {
  switch (outcome) {
    case BEGIN:
      counters.answered++;
      emit({ kind: 'begin', call, timestamp: call.answeredAt });
      return;
    case BEGIN_END:
      counters.answer_not_captured++;
      counters.answered++;
      emit({ kind: 'begin', call, timestamp: call.answeredAt });
      counters.ended++;
      emit({ kind: 'end', call, timestamp: Math.max(at, call.answeredAt), answeredAt: call.answeredAt });
      return;
    case ACK_BEGIN_END:
      counters.answered++;
      emit({ kind: 'begin', call, timestamp: call.answeredAt });
      counters.ended++;
      emit({ kind: 'end', call, timestamp: Math.max(call.byeAt, call.answeredAt), answeredAt: call.answeredAt });
      return;
    case END:
      counters.ended++;
      emit({ kind: 'end', call, timestamp: Math.max(at, call.answeredAt), answeredAt: call.answeredAt });
      return;
    case FAILED:
      counters.failed++;
      emit({ kind: 'attempt_failed', call, timestamp: call.failAt, sipStatus: call.failStatus });
      return;
    case TIMED_OUT:
      counters.timed_out++;
      emit({
        kind: 'timed_out',
        call,
        timestamp: call.answeredAt + settings.maxCallDurationMicros,
        answeredAt: call.answeredAt,
        endReason: 'max_duration',
      });
      return;
    case FORGOTTEN:
      counters.forgotten_unanswered++;
      return;
    default:
      return;
  }
}

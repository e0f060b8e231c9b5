// Call tracking with the state in Redis, shared by several agents. Each agent may receive any
// message of a call (the INVITE at one, its 200 OK at another, the BYE at the first again), and an
// agent restarted in the middle of calls loses none of them.
//
// Per message: the facts are copied out of the parsed message at once (the caller reuses it), then
// queued behind the earlier messages of the same call key at this agent, so that one agent applies
// a call's messages in arrival order while different calls proceed in parallel (their Redis
// commands pipelined on one connection). Each step reads the record, applies the shared rules
// (call-rules.ts) and writes it back with a compare-and-set on its version; on a conflict (another
// agent wrote meanwhile) the step is read and applied again. Only the writer that wins a
// transition emits its intent, so each begin, end and failed attempt is emitted once in all.
//
// Early messages: a reply, ACK or BYE of a call Redis does not know yet may be ahead of its INVITE
// handled by another agent. It is parked in a list for its key (short expiry); the agent that
// opens the call applies the parked messages in HEP-time order in the same write.
//
// Timeouts: every record write also files the call in a sorted set by the local time of its next
// deadline (call-rules' nextDeadline). Each agent's sweep reads the due calls and applies the
// timeout with the same compare-and-set, so one agent acts. Record expiry in Redis (max duration
// plus a margin) only cleans up after agents that all went away; it never ends a call.
//
// Redis unreachable: steps are retried with a backoff for retryForMs, then dropped; both counted
// and logged (rate limited). Messages beyond maxPendingMessages are dropped and counted.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { Micros } from '../domain/types.ts';
import type { CallIntentSink } from '../calls/call-intents.ts';
import {
  CallState,
  DEFAULT_ACK_SETTLE_MICROS,
  FINISHED_FROM,
  NOTHING,
  applyMessage,
  applySweep,
  captureTime,
  isInitialInvite,
  newCallTrackerCounters,
  nextDeadline,
  nonEmpty,
  reportOutcome,
  type CallRuleSettings,
  type CallTrackerCounters,
  type StepOutcome,
  type TrackableSipMessage,
} from '../calls/call-rules.ts';
import type { CallStateTracker, CapturedPacket, IdentifiedParties } from '../calls/state-tracker.ts';
import { RateLimitedLog } from '../transports/rate-limited-log.ts';
import {
  TOMBSTONE_TTL_MARGIN_MS,
  decodeEnvelope,
  decodePayload,
  encodeCall,
  encodeParked,
  encodeTombstone,
  parseParked,
  type MessageFacts,
} from './call-record-codec.ts';
import { KeyedJobQueue, RetryLater, type JobEnd } from './keyed-job-queue.ts';
import { COMPARE_AND_SET, FORGET_DEADLINE, LOOKUP, PARK } from './redis-scripts.ts';

export interface RedisCallTrackerOptions<M extends TrackableSipMessage> {
  redis: Redis;
  /** Prefix of every key (state_key_prefix). */
  keyPrefix: string;
  identifyParties: (message: M) => IdentifiedParties;
  emit: CallIntentSink;
  logger: Logger;
  /** Local clock: ages for timeouts, and the time of packets whose HEP carries none. */
  clock: () => Micros;
  maxCallDurationMicros: Micros;
  unansweredTimeoutMicros: Micros;
  /** Default 5 s. */
  failureSettleMicros?: Micros;
  /** How long an ACK waits for its 200 OK before it answers the call (call-rules.ts). */
  ackSettleMicros?: Micros;
  /** How long a finished call's id keeps absorbing late copies. Default 180 s. */
  finishedGraceMicros?: Micros;
  /** How long an early message waits for its INVITE. Default 30 s. */
  earlyMessageTtlMs?: number;
  /** Messages waiting at this agent beyond which new ones are dropped. Default 100,000. */
  maxPendingMessages?: number;
  /** How long a step is retried while Redis fails. Default 30 s. */
  retryForMs?: number;
  /** Due calls read per sweep (every agent reads the same ones; one acts on each). Default 10,000. */
  sweepBatch?: number;
  /** Close the Redis client on close(). Default true. */
  ownsClient?: boolean;
}

export interface RedisStateCounters {
  /** Commands that failed (Redis down, timeout): the step is retried. */
  redis_errors: number;
  /** Steps read again because another agent wrote the call meanwhile. */
  conflicts_retried: number;
  /** Messages parked because their call was not known yet. */
  parked: number;
  /** Parked messages applied when their INVITE opened the call. */
  parked_applied: number;
  /** Timeouts applied by this agent's sweeps. */
  sweeps_applied: number;
  /** Messages or sweeps given up after retryForMs of Redis errors. */
  dropped_redis_unavailable: number;
  /** Steps given up after MAX_CONFLICTS conflicting writes in a row (should stay 0). */
  dropped_conflicts: number;
  /** Messages refused because maxPendingMessages were waiting. */
  dropped_queue_full: number;
  /** Records in Redis that were not valid (another version's format, corrupted): treated as absent. */
  invalid_records: number;
  /** Messages and sweeps waiting at this agent. */
  pending: number;
}

type Job =
  | { kind: 'message'; facts: MessageFacts; parties: IdentifiedParties | null; pending: PendingWrite }
  | { kind: 'sweep'; key: string; now: Micros; pending: PendingWrite };

interface Found {
  redisKey: string;
  version: number;
  writeId: string;
  /** null: a tombstone. */
  call: CallState | null;
  /** A tombstone's end of grace (local time): until then it absorbs late copies. */
  finishedUntil: Micros;
}

/** The pending count is the queue's, read live. */
function newStateCounters(pending: () => number): RedisStateCounters {
  return {
    redis_errors: 0,
    conflicts_retried: 0,
    parked: 0,
    parked_applied: 0,
    sweeps_applied: 0,
    dropped_redis_unavailable: 0,
    dropped_conflicts: 0,
    dropped_queue_full: 0,
    invalid_records: 0,
    get pending(): number {
      return pending();
    },
  };
}

const IDENTIFICATION_FAILED: IdentifiedParties = { accountTag: '', destinationAccountTag: '', source: '', destination: '' };

export class RedisCallTracker<M extends TrackableSipMessage = TrackableSipMessage> implements CallStateTracker<M> {
  readonly kind = 'redis';
  readonly counters: CallTrackerCounters = newCallTrackerCounters();
  /** Call key -> its steps, one at a time per call; holds the pending count. */
  private readonly queue: KeyedJobQueue<Job>;
  readonly stateCounters: RedisStateCounters = newStateCounters(() => this.queue.pending);

  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly rules: CallRuleSettings;
  private readonly graceMs: number;
  private readonly liveTtlMs: number;
  private readonly earlyTtlMs: number;
  private readonly sweepBatch: number;
  private readonly deadlinesKey: string;
  /** Makes this agent's write ids unique across agents and restarts. */
  private readonly writerId = randomUUID().slice(0, 8);
  private writes = 0;
  /** Keys with a sweep queued or running, so that a slow sweep is not queued twice. */
  private readonly sweeping = new Set<string>();
  private sweepReading = false;
  private cachedTracked = 0;
  /** Keys of untracked INVITEs seen by this agent -> local expiry (counted once per agent). */
  private readonly untrackedSeen = new Map<string, Micros>();
  private closed = false;
  private readonly errorLog: RateLimitedLog;

  constructor(private readonly options: RedisCallTrackerOptions<M>) {
    this.redis = options.redis;
    this.prefix = options.keyPrefix;
    this.rules = {
      maxCallDurationMicros: options.maxCallDurationMicros,
      unansweredTimeoutMicros: options.unansweredTimeoutMicros,
      settleMicros: options.failureSettleMicros ?? 5_000_000,
      // One settle period by default: how long a message that may still change the outcome is awaited.
      ackSettleMicros: options.ackSettleMicros ?? options.failureSettleMicros ?? DEFAULT_ACK_SETTLE_MICROS,
    };
    this.graceMs = Math.ceil((options.finishedGraceMicros ?? 180_000_000) / 1000);
    // A safety net only: an answered call may start up to the unanswered timeout after its INVITE.
    this.liveTtlMs = Math.ceil((options.maxCallDurationMicros + options.unansweredTimeoutMicros) / 1000) + 3_600_000;
    this.earlyTtlMs = options.earlyMessageTtlMs ?? 30_000;
    this.sweepBatch = options.sweepBatch ?? 10_000;
    this.deadlinesKey = `${this.prefix}deadlines`;
    this.errorLog = new RateLimitedLog(options.logger, { clock: () => Date.now(), maxPerWindow: 5 });
    this.queue = new KeyedJobQueue<Job>({
      run: (job) => (job.kind === 'message' ? this.applyMessageJob(job.facts, job.parties, job.pending) : this.applySweepJob(job.key, job.now, job.pending)),
      retryForMs: options.retryForMs ?? 30_000,
      maxPending: options.maxPendingMessages ?? 100_000,
      onError: (job, error, retrying) => {
        this.stateCounters.redis_errors++;
        if (retrying) this.errorLog.warn({ err: (error as Error).message, step: job.kind }, 'call state: Redis error, retrying');
      },
      onEnd: (job, end) => this.stepEnded(job, end),
    });
  }

  /** The Redis connection (to wait for it at start). */
  get client(): Redis {
    return this.redis;
  }

  /** Calls in Redis with a pending deadline, as of the last sweep: approximate. */
  get trackedCalls(): number {
    return this.cachedTracked;
  }

  observe(packet: CapturedPacket, message: M): void {
    const callId = nonEmpty(message.callId);
    const key = nonEmpty(packet.correlationId) ?? callId;
    if (key === null) {
      this.counters.no_call_id++;
      return;
    }
    if (this.closed || this.queue.full) {
      this.stateCounters.dropped_queue_full++;
      this.errorLog.warn({ pending: this.stateCounters.pending, closed: this.closed }, 'call state: message dropped, too many waiting for Redis');
      return;
    }
    const local = this.options.clock();
    let at = captureTime(packet.timestampMicros, local);
    if (at < 0) {
      this.counters.implausible_time++;
      at = local;
    }
    // Copied now: the parsed message and its packet are reused once this returns.
    const facts: MessageFacts = {
      isRequest: message.isRequest,
      method: message.method,
      statusCode: message.statusCode,
      callId,
      cseqNumber: message.cseqNumber,
      cseqMethod: message.cseqMethod,
      to: { tag: message.toTag !== undefined ? message.toTag : (message.to?.tag ?? null) },
      key,
      at,
      local,
      srcIp: packet.srcIp,
    };
    let parties: IdentifiedParties | null = null;
    if (isInitialInvite(message)) {
      try {
        parties = { ...this.options.identifyParties(message) };
      } catch {
        parties = IDENTIFICATION_FAILED;
        this.counters.identification_errors++;
      }
    }
    this.queue.enqueue(key, { kind: 'message', facts, parties, pending: { writeId: null, report: null } });
  }

  sweep(now: Micros): void {
    for (const [key, expires] of this.untrackedSeen) {
      if (expires > now) break;
      this.untrackedSeen.delete(key);
    }
    if (this.sweepReading || this.closed) return;
    this.sweepReading = true;
    this.queue.track(() =>
      this.claimDue(now).finally(() => {
        this.sweepReading = false;
      }),
    );
  }

  drain(): Promise<void> {
    return this.queue.drain();
  }

  stateStats(): Record<string, number> {
    return { ...this.stateCounters, tracked_calls_approximate: this.cachedTracked };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.drain();
    this.closed = true;
    if (this.options.ownsClient ?? true) {
      await this.redis.quit().catch(() => this.redis.disconnect());
    }
  }

  private stepEnded(job: Job, end: JobEnd): void {
    if (end.kind === 'conflicts') {
      this.stateCounters.dropped_conflicts++;
      if (job.kind === 'sweep') this.sweeping.delete(job.key);
      this.options.logger.error({ call: job.kind === 'message' ? job.facts.key : job.key, step: job.kind }, 'call state: step dropped after too many conflicting writes');
      return;
    }
    if (end.kind === 'failed') {
      this.stateCounters.dropped_redis_unavailable++;
      if (job.kind === 'sweep') this.sweeping.delete(job.key);
      this.options.logger.error(
        { err: end.error, call: job.kind === 'message' ? job.facts.key : job.key, step: job.kind },
        'call state: Redis unavailable for too long, step dropped',
      );
      return;
    }
    if (job.kind === 'sweep') this.sweeping.delete(job.key);
  }

  private async lookup(key: string, callId: string | null): Promise<Found | null> {
    const p = this.prefix;
    const id = callId ?? key;
    const result = await LOOKUP.run(this.redis, [`${p}call:${key}`, `${p}call:${id}`, `${p}alias:${id}`], [p]);
    if (!Array.isArray(result)) return null;
    const [redisKey, value] = result as [string, string];
    return this.decode(redisKey, value);
  }

  private decode(redisKey: string, value: string): Found | null {
    const envelope = decodeEnvelope(value);
    if (envelope === null) {
      this.stateCounters.invalid_records++;
      return null;
    }
    const payload = decodePayload(envelope.payload);
    if (payload === null) {
      this.stateCounters.invalid_records++;
      this.errorLog.warn({ key: redisKey }, 'call state: invalid record in Redis, treated as a new call');
      return null;
    }
    return { redisKey, version: envelope.version, writeId: envelope.writeId, call: payload.call, finishedUntil: payload.finishedUntil };
  }

  private async applyMessageJob(facts: MessageFacts, parties: IdentifiedParties | null, pending: PendingWrite): Promise<void> {
    let found = await this.lookup(facts.key, facts.callId);
    if (found !== null && pending.writeId !== null && found.writeId === pending.writeId) {
      pending.report?.(); // our write went through before the error that hid its reply
      return;
    }
    let createVersion = 0;
    if (found !== null && found.call === null) {
      if (facts.local < found.finishedUntil) {
        this.counters.after_end++;
        return;
      }
      // The grace of the finished call is over by this agent's clock: the call is unknown again,
      // as in memory, where the tombstone would have been swept. Its key may open a new call.
      if (parties === null) {
        this.counters.unknown_call++;
        return;
      }
      if (found.redisKey === `${this.prefix}call:${facts.key}`) createVersion = found.version;
      found = null;
    }
    if (found !== null && found.call !== null) {
      const call = found.call;
      const before = encodeCall(call);
      const outcome = applyMessage(call, facts, facts.at, facts.local);
      if (outcome === NOTHING && encodeCall(call) === before) return;
      await this.write(found.redisKey, found.version, call, [[outcome, facts.at]], facts.local, pending, null);
      return;
    }
    if (parties === null) {
      await this.park(facts);
      return;
    }
    if (this.opens(facts, parties)) await this.openWithParked(facts, parties, createVersion, pending);
  }

  /** False when the INVITE does not open a call (untracked, over capacity). */
  private opens(facts: MessageFacts, parties: IdentifiedParties): boolean {
    if (parties === IDENTIFICATION_FAILED) return false;
    if (parties.accountTag === '' && parties.destinationAccountTag === '') {
      if (!this.untrackedSeen.has(facts.key)) {
        this.counters.untracked++;
        this.untrackedSeen.set(facts.key, facts.local + this.graceMs * 1000);
      }
      return false;
    }
    return true;
  }

  private async openWithParked(facts: MessageFacts, parties: IdentifiedParties, version: number, pending: PendingWrite): Promise<void> {
    const key = facts.key;
    const callId = facts.callId;
    const transactionTag = callId ?? key;
    const call = new CallState(
      key,
      transactionTag,
      parties.accountTag,
      parties.destinationAccountTag,
      parties.source,
      parties.destination,
      facts.srcIp,
      facts.cseqNumber ?? 0,
      facts.at,
      facts.local,
    );
    const earlyKeys: [string, string] = [`${this.prefix}early:${key}`, `${this.prefix}early:${transactionTag}`];
    const [first, second] = await Promise.all([
      this.redis.lrange(earlyKeys[0], 0, -1),
      earlyKeys[1] === earlyKeys[0] ? Promise.resolve([] as string[]) : this.redis.lrange(earlyKeys[1], 0, -1),
    ]);
    const parked = [...first, ...second].map(parseParked).filter((m): m is MessageFacts => m !== null);
    const invalidParked = first.length + second.length - parked.length;
    // HEP-time order; sort is stable, so copies with the same time keep their arrival order.
    parked.sort((a, b) => a.at - b.at);
    const outcomes: Array<[StepOutcome, Micros]> = [];
    let lateCopies = 0;
    for (const message of parked) {
      if (outcomes.length > 0 && outcomes[outcomes.length - 1][0] >= FINISHED_FROM) {
        lateCopies++;
        continue;
      }
      const outcome = applyMessage(call, message, message.at, message.local);
      if (outcome !== NOTHING) outcomes.push([outcome, message.at]);
    }
    // Finished by a parked message: the tombstone's grace counts from the last one applied.
    const local = parked.reduce((latest, message) => Math.max(latest, message.local), facts.local);
    const written = await this.write(`${this.prefix}call:${key}`, version, call, outcomes, local, pending, {
      keys: earlyKeys,
      lengths: [first.length, second.length],
    });
    if (written) {
      this.counters.opened++;
      this.stateCounters.parked_applied += parked.length;
      this.counters.after_end += lateCopies;
      this.stateCounters.invalid_records += invalidParked;
    }
  }

  private async park(facts: MessageFacts): Promise<void> {
    const p = this.prefix;
    const id = facts.callId ?? facts.key;
    const parked = await PARK.run(
      this.redis,
      [`${p}call:${facts.key}`, `${p}call:${id}`, `${p}alias:${id}`, `${p}early:${facts.key}`],
      [encodeParked(facts), this.earlyTtlMs],
    );
    if (parked === 0) {
      this.stateCounters.conflicts_retried++;
      throw new RetryLater(); // the call appeared meanwhile: apply the message to it
    }
    this.stateCounters.parked++;
  }

  /**
   * Writes the call (or its tombstone when an outcome finished it) if its version is still
   * `version`, then counts and emits the outcomes. Throws RetryLater on a conflict.
   */
  private async write(
    redisKey: string,
    version: number,
    call: CallState,
    outcomes: Array<[StepOutcome, Micros]>,
    local: Micros,
    pending: PendingWrite,
    consumeEarly: { keys: [string, string]; lengths: [number, number] } | null,
  ): Promise<boolean> {
    const finished = outcomes.some(([outcome]) => outcome >= FINISHED_FROM);
    const writeId = `${this.writerId}:${++this.writes}`;
    const report = (): void => {
      for (const [outcome, at] of outcomes) reportOutcome(outcome, call, at, this.counters, this.options.emit, this.rules);
    };
    pending.writeId = writeId;
    pending.report = report;
    const ttlMs = finished ? this.graceMs + TOMBSTONE_TTL_MARGIN_MS : this.liveTtlMs;
    const early = consumeEarly ?? { keys: [redisKey, redisKey], lengths: null };
    const result = await COMPARE_AND_SET.run(
      this.redis,
      [redisKey, this.deadlinesKey, `${this.prefix}alias:${call.transactionTag}`, early.keys[0], early.keys[1]],
      [
        version,
        writeId,
        finished ? encodeTombstone(local + this.graceMs * 1000) : encodeCall(call),
        ttlMs,
        finished ? '' : Math.ceil(nextDeadline(call, this.rules)),
        call.key,
        call.transactionTag === call.key ? '' : call.key,
        early.lengths === null ? '' : early.lengths[0],
        early.lengths === null ? '' : early.lengths[1],
      ],
    );
    if (result !== 1) {
      pending.writeId = null;
      pending.report = null;
      this.stateCounters.conflicts_retried++;
      throw new RetryLater();
    }
    report();
    return true;
  }

  /** Reads the calls whose deadline has passed and queues a timeout step for each. */
  private async claimDue(now: Micros): Promise<void> {
    try {
      const [due, count] = await Promise.all([
        this.redis.zrangebyscore(this.deadlinesKey, '-inf', now, 'LIMIT', 0, this.sweepBatch),
        this.redis.zcard(this.deadlinesKey),
      ]);
      this.cachedTracked = count;
      for (const key of due) {
        if (this.sweeping.has(key)) continue;
        this.sweeping.add(key);
        this.queue.enqueue(key, { kind: 'sweep', key, now, pending: { writeId: null, report: null } });
      }
    } catch (error) {
      this.stateCounters.redis_errors++;
      this.errorLog.warn({ err: (error as Error).message }, 'call state: Redis error while reading due calls (next sweep retries)');
    }
  }

  private async applySweepJob(key: string, now: Micros, pending: PendingWrite): Promise<void> {
    const redisKey = `${this.prefix}call:${key}`;
    const value = await this.redis.get(redisKey);
    const found = value === null ? null : this.decode(redisKey, value);
    if (found !== null && pending.writeId !== null && found.writeId === pending.writeId) {
      pending.report?.();
      this.stateCounters.sweeps_applied++;
      return;
    }
    if (found === null || found.call === null) {
      // Expired, finished, or not a valid record: no timeout to apply any more.
      await FORGET_DEADLINE.run(this.redis, [redisKey, this.deadlinesKey], [key]);
      return;
    }
    // Nothing due: the call changed since the sweep read the deadlines, and the write that changed
    // it filed its new deadline (every write does, in the same script).
    const outcome = applySweep(found.call, now, this.rules);
    if (outcome === NOTHING) return;
    await this.write(redisKey, found.version, found.call, [[outcome, now]], now, pending, null);
    this.stateCounters.sweeps_applied++;
  }
}

/** A write sent whose reply may have been lost: recognised by its id on the next read. */
interface PendingWrite {
  writeId: string | null;
  report: (() => void) | null;
}

// What happens to one HEP packet, transport aside: HEP decoding -> SIP parsing -> call tracking ->
// intent outlet (the rating engine in this process, or a message bus). Kept apart from the sockets
// so that its cost can be measured (and profiled) without them; the HEP agent feeds it from its
// UDP and TCP listeners.
//
// Call state: in this process's memory (state_url=memory, the default) or in Redis, shared with
// other agents (state_url=redis://...).
import type { Logger } from 'pino';
import { CallTracker } from '../calls/call-tracker.ts';
import { EngineDispatcher, transactionTagsOf } from '../calls/engine-dispatcher.ts';
import type { IntentOutlet } from '../calls/intent-outlet.ts';
import type { CallStateTracker } from '../calls/state-tracker.ts';
import { RedisCallTracker } from '../state/redis-call-tracker.ts';
import { createStateRedisClient } from '../state/redis-client.ts';
import type { CallIntent } from '../calls/call-intents.ts';
import type { Micros } from '../domain/types.ts';
import { MICROS_PER_SECOND } from '../domain/time.ts';
import { decodeHep, type DecodedHep } from '../hep/index.ts';
import type { RatingEngine } from '../rating/engine-types.ts';
import { parseSip, type SipMessage } from '../sip/index.ts';
import { createAccountIdentifier, type AccountIdentificationSettings } from '../sip/accounts.ts';
import { PacketCounters } from './packet-counters.ts';
import type { PacketHandler, PacketSource } from './packet-source.ts';
import { RateLimitedLog } from './rate-limited-log.ts';

export interface PacketPipelineSettings extends AccountIdentificationSettings {
  tenant: string;
  product_tag: string;
  transaction_tags: string[];
  /** Seconds; default 14400. */
  call_max_duration: number;
  /** Seconds; default 300. */
  call_unanswered_timeout: number;
  /** "memory" (default) or a redis:// URL: where the call state lives. */
  state_url?: string;
  /** Prefix of the Redis keys. Default "canyan-rating:". */
  state_key_prefix?: string;
}

export interface PacketPipelineOptions {
  settings: PacketPipelineSettings;
  /** Where call intents go. Default: an EngineDispatcher for `engine`. */
  outlet?: IntentOutlet;
  /** Required when no outlet is given. */
  engine?: RatingEngine;
  logger: Logger;
  /** Local clock (microseconds) for timeouts and for packets without a HEP time. */
  clock: () => Micros;
  /** How long a failed attempt may still turn into an answered call (seconds). Default 5. */
  failureSettleSeconds?: number;
}

export interface PacketPipeline {
  readonly handlePacket: PacketHandler;
  readonly counters: PacketCounters;
  readonly badPackets: RateLimitedLog;
  readonly tracker: CallStateTracker<SipMessage>;
  /** The same tracker when the state is in memory (it can be saved and restored), else null. */
  readonly memoryTracker: CallTracker<SipMessage> | null;
  /** Where call intents go (named dispatcher for its first kind, the engine dispatcher). */
  readonly dispatcher: IntentOutlet;
}

/** True when the settings keep the call state in Redis. */
export function usesRedisState(settings: { state_url?: string }): boolean {
  const url = settings.state_url ?? 'memory';
  return url.startsWith('redis:') || url.startsWith('rediss:');
}

const SIP_PAYLOAD_TYPE = 1;

function seconds(value: number, fallback: number): Micros {
  const valid = Number.isFinite(value) && value > 0 ? value : fallback;
  return Math.round(valid * MICROS_PER_SECOND);
}

export function describeSource(source: PacketSource): string {
  return `${source.address}:${source.port}`;
}

export function createPacketPipeline(options: PacketPipelineOptions): PacketPipeline {
  const { settings, logger, clock } = options;
  const counters = new PacketCounters();
  const badPackets = new RateLimitedLog(logger, { clock: () => Math.floor(clock() / 1000) });
  const dispatcher = options.outlet ?? engineDispatcher(options, settings, logger);
  const trackerOptions = {
    identifyParties: createAccountIdentifier(settings),
    emit: (intent: CallIntent) => dispatcher.dispatch(intent),
    clock,
    maxCallDurationMicros: seconds(settings.call_max_duration, 14_400),
    unansweredTimeoutMicros: seconds(settings.call_unanswered_timeout, 300),
    failureSettleMicros: seconds(options.failureSettleSeconds ?? 5, 5),
  };
  let memoryTracker: CallTracker<SipMessage> | null = null;
  let tracker: CallStateTracker<SipMessage>;
  if (usesRedisState(settings)) {
    tracker = new RedisCallTracker<SipMessage>({
      ...trackerOptions,
      redis: createStateRedisClient(settings.state_url ?? '', logger),
      keyPrefix: settings.state_key_prefix ?? 'canyan-rating:',
      logger,
    });
  } else {
    memoryTracker = new CallTracker<SipMessage>(trackerOptions);
    tracker = memoryTracker;
  }

  // The hot path: nothing here logs or allocates beyond what decoding and tracking need; the
  // rare bad packets are described (and their log records built) only when they happen.
  const handlePacket = (packet: Buffer, source: PacketSource): void => {
    counters.received(source.transport);
    try {
      const decoded = decodeHep(packet);
      if (!decoded.ok) {
        counters.decodeError(decoded.error.reason);
        badPackets.warn(
          { transport: source.transport, source: describeSource(source), reason: decoded.error.reason, detail: decoded.error.detail },
          'bad HEP packet dropped',
        );
        return;
      }
      const hep = decoded.message;
      counters.decoded(source.transport, hep.version);
      if (hep.payloadType !== null && hep.payloadType !== SIP_PAYLOAD_TYPE) {
        counters.nonSipPackets++; // LOG events, RTCP reports, control messages
        return;
      }
      // Parsed where it lies in the packet: no Buffer view of the payload is made per packet.
      const sip = parseSip(hep.payloadBytes, hep.payloadStart, hep.payloadEnd);
      if (!sip.ok) {
        counters.sipParseErrors++;
        badPackets.warn(
          { transport: source.transport, source: describeSource(source), reason: sip.reason },
          'HEP packet with unparsable SIP dropped',
        );
        return;
      }
      shareCallIdText(hep, sip.message);
      tracker.observe(hep, sip.message);
    } catch (error) {
      counters.internalErrors++;
      logger.error({ err: error, source: describeSource(source) }, 'error while handling a HEP packet');
    }
  };

  return { handlePacket, counters, badPackets, tracker, memoryTracker, dispatcher };
}

/**
 * The call tracker reads both the correlation id and the Call-ID. Kamailio and OpenSIPS send the
 * Call-ID as the correlation id: when the chunk holds the same bytes, the Call-ID's string serves
 * as both, instead of a second string decoded from the chunk (and hashed again by the lookups).
 */
export function shareCallIdText(hep: DecodedHep, message: SipMessage): void {
  const start = message.callIdStart ?? -1;
  const end = message.callIdEnd ?? -1;
  if (start !== -1 && end > start && hep.correlationIdEquals(hep.payloadBytes, start, end)) hep.correlationId = message.callId;
}

function engineDispatcher(options: PacketPipelineOptions, settings: PacketPipelineSettings, logger: Logger): EngineDispatcher {
  if (options.engine === undefined) throw new Error('the packet pipeline needs an engine or an outlet');
  return new EngineDispatcher(
    options.engine,
    { tenant: settings.tenant, tags: transactionTagsOf(settings.transaction_tags, settings.product_tag) },
    logger,
  );
}

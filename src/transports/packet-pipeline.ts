// What happens to one HEP packet, transport aside: HEP decoding -> SIP parsing -> call tracking ->
// rating engine. Kept apart from the sockets so that its cost can be measured (and profiled)
// without them; the HEP agent feeds it from its UDP and TCP listeners.
import type { Logger } from 'pino';
import { CallTracker } from '../calls/call-tracker.ts';
import { EngineDispatcher, transactionTagsOf } from '../calls/engine-dispatcher.ts';
import type { Micros } from '../domain/types.ts';
import { MICROS_PER_SECOND } from '../domain/time.ts';
import { decodeHep } from '../hep/index.ts';
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
}

export interface PacketPipelineOptions {
  settings: PacketPipelineSettings;
  engine: RatingEngine;
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
  readonly tracker: CallTracker<SipMessage>;
  readonly dispatcher: EngineDispatcher;
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
  const { settings, engine, logger, clock } = options;
  const counters = new PacketCounters();
  const badPackets = new RateLimitedLog(logger, { clock: () => Math.floor(clock() / 1000) });
  const dispatcher = new EngineDispatcher(
    engine,
    { tenant: settings.tenant, tags: transactionTagsOf(settings.transaction_tags, settings.product_tag) },
    logger,
  );
  const tracker = new CallTracker<SipMessage>({
    identifyParties: createAccountIdentifier(settings),
    emit: (intent) => dispatcher.dispatch(intent),
    clock,
    maxCallDurationMicros: seconds(settings.call_max_duration, 14_400),
    unansweredTimeoutMicros: seconds(settings.call_unanswered_timeout, 300),
    failureSettleMicros: seconds(options.failureSettleSeconds ?? 5, 5),
  });

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
      const sip = parseSip(hep.payload);
      if (!sip.ok) {
        counters.sipParseErrors++;
        badPackets.warn(
          { transport: source.transport, source: describeSource(source), reason: sip.reason },
          'HEP packet with unparsable SIP dropped',
        );
        return;
      }
      tracker.observe(hep, sip.message);
    } catch (error) {
      counters.internalErrors++;
      logger.error({ err: error, source: describeSource(source) }, 'error while handling a HEP packet');
    }
  };

  return { handlePacket, counters, badPackets, tracker, dispatcher };
}

// The HEP agent runtime: UDP and TCP listeners -> HEP decoding -> SIP parsing -> call tracking ->
// rating engine (or another intent outlet). Everything the operator needs to see is counted and
// shown by stats().
//
// Call state (state_url): in memory, saved to state_file on a clean stop and restored on the next
// start; or in Redis, shared with the other agents that receive the same traffic.
import type { Logger } from 'pino';
import type { CallTracker } from '../calls/call-tracker.ts';
import { saveCallState, takeCallState } from '../calls/call-state-file.ts';
import type { IntentOutlet } from '../calls/intent-outlet.ts';
import type { Micros } from '../domain/types.ts';
import { nowMicros } from '../domain/time.ts';
import type { RatingEngine } from '../rating/engine-types.ts';
import type { SipMessage } from '../sip/index.ts';
import { RedisCallTracker } from '../state/redis-call-tracker.ts';
import { redactedUrl, waitForRedis } from '../state/redis-client.ts';
import { formatListenAddress, parseListenAddress, type ListenAddress } from './listen-address.ts';
import { createPacketPipeline, describeSource } from './packet-pipeline.ts';
import { startTcpListener, type TcpListener } from './tcp.ts';
import { startUdpListener, type UdpListener } from './udp.ts';
import { startThreadedUdpListener } from './udp-thread.ts';

export interface HepAgentSettings {
  hep_listen_udp: string;
  hep_listen_tcp: string;
  tenant: string;
  sip_local_domains: string[];
  sip_header_caller: string;
  sip_header_callee: string;
  sip_header_history_info: string;
  sip_header_history_info_index: number;
  account_tag_match_regexp: string;
  product_tag: string;
  transaction_tags: string[];
  /** Seconds; default 14400. */
  call_max_duration: number;
  /** Seconds; default 300. */
  call_unanswered_timeout: number;
  /** "memory" (default) or redis://host:port/db: where the call state lives. */
  state_url?: string;
  /** Prefix of the Redis keys. Default "canyan-rating:". */
  state_key_prefix?: string;
  /** With state_url=memory: open calls saved here on a clean stop, restored on start. Absent or "": none. */
  state_file?: string;
}

export interface HepAgent {
  readonly udpAddress: { host: string; port: number } | null;
  readonly tcpAddress: { host: string; port: number } | null;
  /** JSON counters for GET /status/agent. */
  stats(): Record<string, unknown>;
  close(): Promise<void>;
}

export interface HepAgentOptions {
  settings: HepAgentSettings;
  /** Where call intents go. Default: the rating engine `engine`, in this process. */
  outlet?: IntentOutlet;
  /** Required when no outlet is given. */
  engine?: RatingEngine;
  logger: Logger;
  /** Local clock (microseconds) for timeouts and for packets without a HEP time. */
  clock?: () => Micros;
  /** How often timeouts are applied. Default 1000 ms. */
  sweepIntervalMs?: number;
  /** Close TCP connections idle for this long. Default 10 minutes. */
  tcpIdleTimeoutMs?: number;
  /** How long a failed attempt may still turn into an answered call (seconds). Default 5. */
  failureSettleSeconds?: number;
  /** Kernel receive buffer of the UDP socket. Default 8 MiB (capped by the kernel). */
  udpReceiveBufferBytes?: number;
  /**
   * Receive UDP on a thread of its own, which keeps emptying the socket while the main thread is
   * busy (rating, storage, GC) and hands datagrams over in batches. Default true.
   */
  udpReceiveThread?: boolean;
  /** How long the start waits for Redis (state_url=redis://) before going on without it. Default 5000 ms. */
  redisConnectTimeoutMs?: number;
}

/**
 * Bursts of mirrored traffic arrive faster than the event loop drains them at times (a slow
 * commit, a GC pause); the kernel drops what does not fit. Linux caps it at net.core.rmem_max.
 */
const DEFAULT_UDP_RECEIVE_BUFFER_BYTES = 8 * 1024 * 1024;

export async function startHepAgent(options: HepAgentOptions): Promise<HepAgent> {
  const { settings } = options;
  // The caller names the component in its child logger and logs start and stop.
  const logger = options.logger;
  const clock = options.clock ?? nowMicros;
  const udpListen = parseListenAddress(settings.hep_listen_udp);
  const tcpListen = parseListenAddress(settings.hep_listen_tcp);

  const pipeline = createPacketPipeline({
    settings,
    ...(options.engine === undefined ? {} : { engine: options.engine }),
    ...(options.outlet === undefined ? {} : { outlet: options.outlet }),
    logger,
    clock,
    ...(options.failureSettleSeconds === undefined ? {} : { failureSettleSeconds: options.failureSettleSeconds }),
  });
  const { handlePacket, counters, badPackets, tracker, memoryTracker, dispatcher: outlet } = pipeline;
  const describe = describeSource;
  const stateFile = memoryTracker === null ? '' : (settings.state_file ?? '');
  if (memoryTracker !== null && stateFile !== '') await restoreCalls(memoryTracker, stateFile, clock, logger);
  if (tracker instanceof RedisCallTracker) {
    const url = redactedUrl(settings.state_url ?? '');
    if (await waitForRedis(tracker.client, options.redisConnectTimeoutMs ?? 5000)) {
      logger.info({ state_url: url, key_prefix: settings.state_key_prefix }, 'call state in Redis, shared with other agents');
    } else {
      // Not fatal: messages wait (and are retried) while the client keeps connecting.
      logger.error({ state_url: url }, 'call state: Redis not reachable yet; messages are retried while it connects');
    }
  }

  let udp: UdpListener | null = null;
  let tcp: TcpListener | null = null;
  try {
    if (udpListen !== null) {
      const udpOptions = {
        listen: udpListen,
        onPacket: handlePacket,
        onError: (error: Error) => logger.warn({ err: error }, 'HEP UDP socket error'),
        receiveBufferBytes: options.udpReceiveBufferBytes ?? DEFAULT_UDP_RECEIVE_BUFFER_BYTES,
      };
      udp = (options.udpReceiveThread ?? true) ? await startThreadedUdpListener(udpOptions) : await startUdpListener(udpOptions);
    }
    if (tcpListen !== null) {
      tcp = await startTcpListener({
        listen: tcpListen,
        onPacket: handlePacket,
        onFramingError: (error, source) => {
          counters.framingError(error.reason);
          badPackets.warn(
            { transport: 'tcp', source: describe(source), reason: error.reason, detail: error.detail },
            'HEP TCP stream cannot be framed: connection closed',
          );
        },
        onSocketError: (error, source) =>
          badPackets.warn({ transport: 'tcp', source: describe(source), err: error.message }, 'HEP TCP connection error'),
        ...(options.tcpIdleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.tcpIdleTimeoutMs }),
      });
    }
  } catch (error) {
    await udp?.close();
    await tcp?.close();
    // The restored calls go back to the file, for the next attempt to start.
    if (memoryTracker !== null && stateFile !== '') await saveCalls(memoryTracker, stateFile, clock, logger);
    await tracker.close();
    throw error;
  }
  const sweeper = setInterval(() => {
    try {
      tracker.sweep(clock());
    } catch (error) {
      counters.internalErrors++;
      logger.error({ err: error }, 'error while sweeping tracked calls');
    }
  }, options.sweepIntervalMs ?? 1000);
  sweeper.unref();

  const address = (listener: UdpListener | TcpListener | null): ListenAddress | null =>
    listener === null ? null : { ...listener.address };

  let closing: Promise<void> | null = null;
  return {
    udpAddress: address(udp),
    tcpAddress: address(tcp),
    stats() {
      const calls = tracker.counters;
      return {
        listeners: {
          udp: udp === null ? null : formatListenAddress(udp.address),
          tcp: tcp === null ? null : formatListenAddress(tcp.address),
          udp_receive_buffer_bytes: udp?.receiveBufferBytes ?? null,
          udp_receive_thread: udp !== null && 'droppedBacklog' in udp,
        },
        /** Datagrams the receiving thread dropped because too many bytes waited to be handled. */
        udp_backlog_drops: udp !== null && 'droppedBacklog' in udp ? udp.droppedBacklog : 0,
        packets: { udp: { ...counters.packets.udp }, tcp: { ...counters.packets.tcp } },
        decode_errors: { ...counters.decodeErrors },
        tcp: {
          open_connections: tcp?.openConnections ?? 0,
          ...(tcp === null ? { accepted: 0, closed_on_framing_error: 0, closed_idle: 0, socket_errors: 0, refused: 0 } : tcp.counters),
          framing_errors: { ...counters.framingErrors },
        },
        non_sip_packets: counters.nonSipPackets,
        sip_parse_errors: counters.sipParseErrors,
        internal_errors: counters.internalErrors,
        bad_packet_logs_suppressed: badPackets.suppressed,
        calls: { tracked: tracker.trackedCalls, ...calls },
        transactions: outlet.stats(),
        state: { kind: tracker.kind, ...tracker.stateStats() },
      };
    },
    close() {
      closing ??= (async () => {
        clearInterval(sweeper);
        await Promise.all([udp?.close(), tcp?.close()]);
        await tracker.drain();
        if (memoryTracker !== null && stateFile !== '') await saveCalls(memoryTracker, stateFile, clock, logger);
        await outlet.idle();
        await tracker.close();
      })();
      return closing;
    },
  };
}

/** Restores the calls saved by the previous run. A file that cannot be used never stops the start. */
async function restoreCalls(tracker: CallTracker<SipMessage>, path: string, clock: () => Micros, logger: Logger): Promise<void> {
  try {
    const loaded = await takeCallState(path);
    switch (loaded.status) {
      case 'missing':
        logger.info({ state_file: path }, 'no saved call state: starting with no open calls');
        return;
      case 'unusable':
        logger.error(
          { state_file: path, reason: loaded.reason, moved_to: loaded.movedTo },
          'saved call state cannot be used: moved aside, starting with no open calls',
        );
        return;
      case 'loaded': {
        const restored = tracker.restore(loaded.snapshot, clock());
        const log = restored.invalid > 0 ? logger.warn.bind(logger) : logger.info.bind(logger);
        log(
          { state_file: path, calls: restored.calls, tombstones: restored.tombstones, invalid_records_skipped: restored.invalid, saved_at_micros: loaded.savedAt },
          'open calls restored from the saved call state',
        );
        return;
      }
    }
  } catch (error) {
    logger.error({ err: error, state_file: path }, 'saved call state cannot be read: starting with no open calls');
  }
}

async function saveCalls(tracker: CallTracker<SipMessage>, path: string, clock: () => Micros, logger: Logger): Promise<void> {
  try {
    const snapshot = tracker.snapshot();
    await saveCallState(path, snapshot, clock());
    logger.info({ state_file: path, calls: snapshot.calls.length, tombstones: snapshot.tombstones.length }, 'open calls saved');
  } catch (error) {
    logger.error({ err: error, state_file: path }, 'open calls could not be saved: they are lost for the next start');
  }
}

// The agent side of the bus: call intents become events, are appended to the on-disk spool
// (write-ahead), and are published from the spool, in order, on a RabbitMQ confirm channel.
// An event is delivered only when the broker confirms it; the spool's watermark then moves past
// it. While RabbitMQ is unreachable events simply stay in the spool; after a reconnect (or a
// restart, even after SIGKILL) publishing resumes from the watermark, so an unconfirmed event is
// published again rather than lost (the engine applies duplicates once).
//
// Per-call order: one channel, one publishing loop, spool order; RabbitMQ keeps a queue's order.
import type { ChannelModel, ConfirmChannel, Options } from 'amqplib';
import type { Logger } from 'pino';
import type { CallIntent } from '../calls/call-intents.ts';
import { transactionTagsOf, type CallRequestSettings } from '../calls/call-requests.ts';
import type { IntentOutlet } from '../calls/intent-outlet.ts';
import type { RatingConfig } from '../config/config.ts';
import { canyanMessageOf } from './canyan-format.ts';
import { Connector, type ConnectionState, type RetryOptions } from './connector.ts';
import { decodeEvent, encodeEvent, eventOfIntent } from './events.ts';
import { comparePositions, Spool, type SpoolPosition } from './spool.ts';
import { declareQueues } from './topology.ts';

export type BusSettings = Pick<
  RatingConfig,
  'tenant' | 'product_tag' | 'transaction_tags' | 'bus_url' | 'bus_protocol' | 'bus_queue' | 'spool_dir' | 'spool_max_bytes'
>;

export interface BusOutletOptions {
  config: BusSettings;
  logger: Logger;
  retry?: RetryOptions;
  /** How long close() waits for outstanding confirms. Default 5 s. */
  closeTimeoutMs?: number;
  /**
   * Published events awaiting their confirm at most. Default 4096: RabbitMQ confirms persistent
   * messages after its own fsync, so a wide window is what keeps throughput up.
   */
  maxUnconfirmed?: number;
  /** Spool fdatasync interval. Default 1 s. */
  syncIntervalMs?: number;
}

export interface BusOutlet extends IntentOutlet {
  /** Resolves when every event appended so far is confirmed, or after `timeoutMs`; answers whether all were. */
  confirmed(timeoutMs?: number): Promise<boolean>;
  state(): ConnectionState;
  close(): Promise<void>;
}

interface Counters {
  /** Events appended to the spool. */
  written: number;
  /** Of them, appended while the bus was not connected (they wait in the spool). */
  spooled: number;
  /** Publishes, repeats after a reconnect included. */
  published: number;
  confirmed: number;
  /** Published events that were waiting in the spool when the connection (re)opened. */
  spool_replayed: number;
  /** Events refused because the spool was full or the disk refused them: lost, and logged. */
  refused: number;
  /** Spool lines that were not events (corrupt): skipped, logged. */
  spool_corrupt: number;
  /** Messages the broker returned as unroutable or did not confirm (nack): published again. */
  returned_or_nacked: number;
}

interface InFlight {
  end: SpoolPosition;
  confirmed: boolean;
  /** False for skipped spool content (corrupt lines, torn tails): nothing was published. */
  published: boolean;
}

interface Session {
  id: number;
  channel: ConfirmChannel;
  /** Events at or before this position were in the spool when the session opened. */
  replayUntil: SpoolPosition;
  failed: boolean;
  drainWaiters: Array<() => void>;
}

const READ_BATCH_BYTES = 256 * 1024;
// Whole refused events are logged (the log is their last copy) up to this many per minute.
const REFUSED_LOGGED_PER_MINUTE = 100;

export async function openBusOutlet(options: BusOutletOptions): Promise<BusOutlet> {
  const spool = await Spool.open({
    dir: options.config.spool_dir,
    maxBytes: options.config.spool_max_bytes,
    logger: options.logger,
    ...(options.syncIntervalMs === undefined ? {} : { syncIntervalMs: options.syncIntervalMs }),
  });
  return new BusPublisher(options, spool);
}

class BusPublisher implements BusOutlet {
  private readonly counters: Counters = {
    written: 0,
    spooled: 0,
    published: 0,
    confirmed: 0,
    spool_replayed: 0,
    refused: 0,
    spool_corrupt: 0,
    returned_or_nacked: 0,
  };
  private readonly settings: CallRequestSettings;
  private readonly logger: Logger;
  private readonly connector: Connector;
  private readonly maxUnconfirmed: number;
  private pending: string[] = [];
  private flushScheduled = false;
  private idleWaiters: Array<() => void> = [];
  private confirmWaiters: Array<() => void> = [];
  private session: Session | null = null;
  private sendCursor: SpoolPosition;
  private inFlight: InFlight[] = [];
  private pumping = false;
  private pumpAgain = false;
  private closing: Promise<void> | null = null;
  private refusedWindow = { start: 0, logged: 0, suppressed: 0 };

  constructor(
    private readonly options: BusOutletOptions,
    private readonly spool: Spool,
  ) {
    const { config } = options;
    this.settings = { tenant: config.tenant, tags: transactionTagsOf(config.transaction_tags, config.product_tag) };
    // The caller names the component (system.ts binds component: 'bus-publisher').
    this.logger = options.logger;
    this.maxUnconfirmed = options.maxUnconfirmed ?? 4096;
    this.sendCursor = spool.confirmed;
    this.connector = new Connector({
      url: config.bus_url,
      logger: this.logger,
      ...(options.retry === undefined ? {} : { retry: options.retry }),
      open: (connection, id) => this.openSession(connection, id),
      lost: (id) => this.loseSession(id),
    });
  }

  dispatch(intent: CallIntent): void {
    let line: string;
    try {
      line = encodeEvent(eventOfIntent(intent, this.settings));
    } catch (error) {
      this.refuse(null, `could not encode the event: ${String(error)}`, intent);
      return;
    }
    if (this.closing !== null) {
      this.refuse(line, 'the bus outlet is closed');
      return;
    }
    this.pending.push(line);
    // Events dispatched by one callback (one Redis reply, one batch of datagrams) share one write
    // to the spool, made as soon as that callback's own work is done: a process killed after
    // the callback has them on disk. (Flushed on the next turn of the event loop instead, they
    // waited for every other callback of the turn, and a SIGKILL meanwhile lost them.)
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  idle(): Promise<void> {
    if (this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async confirmed(timeoutMs = 10_000): Promise<boolean> {
    await this.idle();
    if (this.allConfirmed()) return true;
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      new Promise<boolean>((resolve) => this.confirmWaiters.push(() => resolve(true))),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return done;
  }

  state(): ConnectionState {
    return this.connector.state;
  }

  stats(): Record<string, number> {
    return {
      ...this.counters,
      spool_bytes: this.spool.bytes,
      spool_backlog_bytes: this.spool.backlogBytes(),
      spool_torn: this.spool.torn,
      unconfirmed: this.inFlight.length,
      connected: this.connector.state === 'connected' ? 1 : 0,
      reconnects: this.connector.reconnects,
    };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.flush();
      const timeoutMs = this.options.closeTimeoutMs ?? 5000;
      const all = this.session === null ? this.allConfirmed() : await this.confirmed(timeoutMs);
      if (!all) {
        this.logger.warn(
          { backlog_bytes: this.spool.backlogBytes(), dir: this.options.config.spool_dir },
          'bus outlet closing with unconfirmed events; they stay in the spool for the next start',
        );
      }
      await this.session?.channel.close().catch(() => undefined);
      await this.connector.close();
      await this.spool.close();
      this.logger.info({ ...this.stats() }, 'bus outlet closed');
    })();
    return this.closing;
  }

  private allConfirmed(): boolean {
    return this.pending.length === 0 && comparePositions(this.spool.confirmed, this.spool.end) >= 0;
  }

  private flush(): void {
    this.flushScheduled = false;
    const lines = this.pending;
    this.pending = [];
    if (lines.length > 0) {
      const accepted: string[] = [];
      let bytes = 0;
      for (const line of lines) {
        const size = Buffer.byteLength(line, 'utf8') + 1;
        if (this.spool.fits(bytes + size)) {
          accepted.push(line);
          bytes += size;
        } else {
          this.refuse(line, 'the spool is full (spool_max_bytes)');
        }
      }
      if (accepted.length > 0) {
        try {
          this.spool.append(accepted);
          this.counters.written += accepted.length;
          if (this.session === null) this.counters.spooled += accepted.length;
        } catch (error) {
          for (const line of accepted) this.refuse(line, `the spool could not be written: ${String(error)}`);
        }
      }
    }
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
    this.settleConfirmWaiters();
    void this.pump();
  }

  /** A lost event: counted and logged at error level, with the event itself while the rate allows. */
  private refuse(line: string | null, reason: string, intent?: CallIntent): void {
    this.counters.refused++;
    const now = Date.now();
    const window = this.refusedWindow;
    if (now - window.start >= 60_000) {
      if (window.suppressed > 0) {
        this.logger.error({ refused_not_logged: window.suppressed, refused_total: this.counters.refused }, 'bus events LOST (not all logged)');
      }
      this.refusedWindow = { start: now, logged: 0, suppressed: 0 };
    }
    if (this.refusedWindow.logged < REFUSED_LOGGED_PER_MINUTE) {
      this.refusedWindow.logged++;
      this.logger.error(
        { reason, event: line, intent_kind: intent?.kind, transaction_tag: intent?.call.transactionTag, refused_total: this.counters.refused },
        'bus event LOST: refused by the spool',
      );
    } else {
      this.refusedWindow.suppressed++;
    }
  }

  private async openSession(connection: ChannelModel, id: number): Promise<void> {
    const channel = await connection.createConfirmChannel();
    channel.on('error', (error: Error) => this.logger.warn({ err: error }, 'bus channel error'));
    channel.on('close', () => {
      if (this.closing === null) void this.connector.drop(id, 'channel closed');
    });
    await declareQueues(channel, this.options.config.bus_protocol, this.options.config.bus_queue);
    const session: Session = { id, channel, replayUntil: this.spool.end, failed: false, drainWaiters: [] };
    channel.on('drain', () => this.wakeDrainWaiters(session));
    channel.on('return', () => {
      // mandatory=true: the broker found no queue (e.g. a canyan queue auto-deleted). Its
      // confirm follows as an ack, so the session is failed first: everything from the
      // watermark is published again once the queues are declared anew.
      this.counters.returned_or_nacked++;
      this.failSession(session, 'a message was returned as unroutable');
    });
    this.inFlight = [];
    this.sendCursor = this.spool.confirmed;
    const backlog = this.spool.backlogBytes();
    if (backlog > 0) this.logger.info({ backlog_bytes: backlog }, 'delivering events from the spool');
    this.session = session;
    void this.pump();
  }

  private loseSession(id: number): void {
    const session = this.session;
    if (session === null || session.id !== id) return;
    session.failed = true;
    this.session = null;
    this.wakeDrainWaiters(session);
    // Unconfirmed events stay in the spool beyond the watermark; the next session starts there.
    this.inFlight = [];
  }

  private failSession(session: Session, reason: string): void {
    if (session.failed) return;
    session.failed = true;
    this.wakeDrainWaiters(session);
    void this.connector.drop(session.id, reason);
  }

  private wakeDrainWaiters(session: Session): void {
    const waiters = session.drainWaiters;
    session.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Publishes from the send cursor to the end of the spool, keeping at most maxUnconfirmed in flight. */
  private async pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        await this.pumpOnce();
      } while (this.pumpAgain);
    } catch (error) {
      this.logger.error({ err: error }, 'bus publishing failed; retrying after a reconnect');
      if (this.session !== null) this.failSession(this.session, 'publishing failed');
    } finally {
      this.pumping = false;
    }
  }

  private async pumpOnce(): Promise<void> {
    for (;;) {
      const session = this.session;
      if (session === null || session.failed) return;
      if (this.inFlight.length >= this.maxUnconfirmed) return; // a confirm will pump again
      if (comparePositions(this.sendCursor, this.spool.end) >= 0) return;
      const from = this.sendCursor;
      const { entries, next } = await this.spool.read(from, READ_BATCH_BYTES);
      if (this.session !== session || session.failed) return;
      if (entries.length === 0 && comparePositions(next, from) <= 0) {
        this.logger.error({ position: from, end: this.spool.end }, 'spool reader made no progress; publishing paused until the next append');
        return;
      }
      for (const entry of entries) {
        if (session.failed) return;
        const blocked = this.publish(session, entry.line, entry.end);
        this.sendCursor = entry.end;
        if (blocked) {
          await new Promise<void>((resolve) => session.drainWaiters.push(resolve));
        }
      }
      if (session.failed) return;
      // The reader skipped something after the last line (a torn tail, a finished segment):
      // the watermark moves over it in order.
      if (comparePositions(next, this.sendCursor) > 0) {
        const skipped: InFlight = { end: next, confirmed: false, published: false };
        this.inFlight.push(skipped);
        this.sendCursor = next;
        this.onConfirm(session, skipped, null);
      }
      if (entries.length === 0 && comparePositions(this.sendCursor, this.spool.end) >= 0) return;
      // Read again from the cursor: events appended meanwhile, or the rest of the batch
      // left when maxUnconfirmed was reached.
      if (this.inFlight.length >= this.maxUnconfirmed) return;
    }
  }

  /** Publishes one spool line; answers true when the channel asks us to wait for 'drain'. */
  private publish(session: Session, line: string, end: SpoolPosition): boolean {
    const decoded = decodeEvent(line);
    const entry: InFlight = { end, confirmed: false, published: decoded.ok };
    this.inFlight.push(entry);
    if (!decoded.ok) {
      this.counters.spool_corrupt++;
      this.logger.error({ line, error: decoded.error, position: end }, 'spool line is not a valid event; skipped');
      this.onConfirm(session, entry, null);
      return false;
    }
    if (comparePositions(end, session.replayUntil) <= 0) this.counters.spool_replayed++;
    this.counters.published++;
    const callback = (error: unknown) => this.onConfirm(session, entry, error);
    if (this.options.config.bus_protocol === 'canyan') {
      const message = canyanMessageOf(decoded.event);
      const properties: Options.Publish = { contentType: 'application/json', persistent: false, mandatory: true };
      return !session.channel.sendToQueue(message.queue, Buffer.from(JSON.stringify(message.body)), properties, callback);
    }
    const properties: Options.Publish = {
      contentType: 'application/json',
      persistent: true,
      mandatory: true,
      type: `canyan-rating.event.v${decoded.event.v}`,
    };
    return !session.channel.sendToQueue(this.options.config.bus_queue, Buffer.from(line), properties, callback);
  }

  private onConfirm(session: Session, entry: InFlight, error: unknown): void {
    if (this.session !== session || session.failed) return; // published again by the next session
    if (error !== null && error !== undefined) {
      this.counters.returned_or_nacked++;
      this.failSession(session, 'the broker did not confirm a message (nack)');
      return;
    }
    entry.confirmed = true;
    let upTo: SpoolPosition | null = null;
    for (let head = this.inFlight[0]; head?.confirmed === true; head = this.inFlight[0]) {
      this.inFlight.shift();
      upTo = head.end;
      if (head.published) this.counters.confirmed++;
    }
    if (upTo !== null) {
      this.spool.confirm(upTo);
      this.settleConfirmWaiters();
      void this.pump();
    }
  }

  private settleConfirmWaiters(): void {
    if (this.confirmWaiters.length === 0 || !this.allConfirmed()) return;
    const waiters = this.confirmWaiters;
    this.confirmWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

// The engine side of the bus: consumes events and applies them to the rating engine.
//
// An event is acknowledged only after the engine operation has returned, i.e. its storage
// transaction committed; a crash before that leaves it unacknowledged and RabbitMQ delivers it
// again (the engine applies it once). Outcomes:
//   engine answered ok             -> ack
//   engine answered ok=false       -> ack (a final answer: unknown or inactive account, ...),
//                                     logged at warn with the event, since it is stored nowhere else
//   message not an event           -> reject without requeue (dead-letter queue), logged at error
//   engine threw (storage down)    -> nack with requeue after a backoff that grows with
//                                     consecutive failures (no hot loop), counted
// Events of one call are applied one after the other by this consumer (prefetch lets events of
// different calls run together).
//
// Acks of applied events are sent in batches: held for at most ACK_BATCH_MS, or until a quarter of
// the prefetch window is waiting. Each ack frees one delivery credit, and RabbitMQ sends the next
// message at once, so acks sent one by one make every message a separate wake-up of the engine
// and of the broker; in batches the deliveries come in bursts too (distributed bench: +15-25%
// calls/s). An ack held when the process dies only means the event is delivered again, which the
// engine applies once; close() sends the held acks before closing the channel.
//
// A batch goes out as few frames as it can: the held messages delivered before every message
// still being worked on are acked by one ack with `multiple` (it covers every unsettled delivery
// up to its tag, and all of those are held), the others one by one. Each frame is a socket write,
// which for a busy engine was one system call per event, a third of its writes.
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import type { RatingConfig } from '../config/config.ts';
import type { OperationResponse, RatingEngine } from '../rating/engine-types.ts';
import { canyanErrorsOf, readCanyanMessage } from './canyan-format.ts';
import { Connector, type RetryOptions } from './connector.ts';
import { callKeyOf, decodeEvent, type BusEvent } from './events.ts';
import { declareQueues } from './topology.ts';
import type { CanyanOperation } from './canyan-format.ts';

export type BusConsumerSettings = Pick<RatingConfig, 'bus_url' | 'bus_protocol' | 'bus_queue' | 'engine_prefetch'>;

export interface BusConsumerOptions {
  config: BusConsumerSettings;
  /** Should be created with rethrowUnexpectedErrors: true, so storage failures are retried. */
  engine: RatingEngine;
  logger: Logger;
  retry?: RetryOptions;
  /** Wait before requeueing an event the engine threw on: initial, doubled per consecutive failure up to max. */
  errorBackoff?: { initialMs?: number; maxMs?: number };
  /** Longest an ack is held back to go out with others; default ACK_BATCH_MS. */
  ackBatchMs?: number;
}

export interface BusConsumer {
  stats(): Record<string, unknown>;
  close(): Promise<void>;
}

interface Session {
  id: number;
  channel: Channel;
  consumerTags: string[];
  /** Delivery tags received on the channel and not settled yet (acked, nacked or rejected). */
  unsettled: Set<number>;
}

/** What a message asks the engine to do. */
type Work = { protocol: 'native'; event: BusEvent } | { protocol: 'canyan'; operation: CanyanOperation };

const LOGGED_BODY_CHARS = 2000;
/** Longest an ack of an applied event is held back to go out with others. */
export const ACK_BATCH_MS = 5;

export async function startBusConsumer(options: BusConsumerOptions): Promise<BusConsumer> {
  return new EventConsumer(options);
}

class EventConsumer implements BusConsumer {
  private readonly counters = {
    received: 0,
    begin: 0,
    end: 0,
    record: 0,
    acked: 0,
    engine_rejected: 0,
    /** Messages that were not events: rejected into the dead-letter queue. */
    undecodable: 0,
    /** canyan: requests the validation refused (answered with errors when a reply was asked). */
    invalid: 0,
    /** Engine operations that threw: requeued after a backoff. */
    engine_errors: 0,
    requeued: 0,
    /** Acks or nacks that could not be sent (channel gone): RabbitMQ delivers those again. */
    settle_failures: 0,
  };
  private readonly logger: Logger;
  private readonly connector: Connector;
  private session: Session | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  /** Tail of the work queued for each call. */
  private readonly calls = new Map<string, Promise<void>>();
  private consecutiveErrors = 0;
  private closing: Promise<void> | null = null;
  private readonly backoffWakers = new Set<() => void>();
  /** Acks held back to be sent together (see the top of the file). */
  private readonly heldAcks: Array<{ session: Session; message: ConsumeMessage }> = [];
  private ackTimer: NodeJS.Timeout | null = null;
  private readonly ackBatchSize: number;

  constructor(private readonly options: BusConsumerOptions) {
    this.ackBatchSize = Math.max(1, Math.floor(options.config.engine_prefetch / 4));
    // The caller names the component (system.ts binds component: 'bus-consumer').
    this.logger = options.logger;
    this.connector = new Connector({
      url: options.config.bus_url,
      logger: this.logger,
      ...(options.retry === undefined ? {} : { retry: options.retry }),
      open: (connection, id) => this.openSession(connection, id),
      lost: (id) => {
        if (this.session?.id === id) this.session = null;
      },
    });
  }

  stats(): Record<string, unknown> {
    return {
      ...this.counters,
      in_flight: this.inFlight.size,
      acks_held: this.heldAcks.length,
      connection: this.connector.state,
      reconnects: this.connector.reconnects,
    };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const session = this.session;
      if (session !== null) {
        for (const tag of session.consumerTags) await session.channel.cancel(tag).catch(() => undefined);
      }
      for (const wake of this.backoffWakers) wake();
      await Promise.allSettled([...this.inFlight]);
      this.sendHeldAcks();
      // The channel is closed before the connection: its close handshake comes back only after
      // the broker has processed the acks sent before it, whereas a connection close may
      // overtake frames still queued on a channel (the acks would be lost, the events redelivered).
      await this.session?.channel.close().catch(() => undefined);
      await this.connector.close();
      this.logger.info({ ...this.stats() }, 'bus consumer closed');
    })();
    return this.closing;
  }

  private async openSession(connection: ChannelModel, id: number): Promise<void> {
    const channel = await connection.createChannel();
    channel.on('error', (error: Error) => this.logger.warn({ err: error }, 'bus channel error'));
    channel.on('close', () => {
      if (this.closing === null) void this.connector.drop(id, 'channel closed');
    });
    await channel.prefetch(this.options.config.engine_prefetch);
    const queues = await declareQueues(channel, this.options.config.bus_protocol, this.options.config.bus_queue);
    const session: Session = { id, channel, consumerTags: [], unsettled: new Set() };
    this.session = session;
    if (this.closing !== null) return;
    for (const queue of queues) {
      const { consumerTag } = await channel.consume(queue, (message) => this.receive(session, queue, message), { noAck: false });
      session.consumerTags.push(consumerTag);
    }
  }

  private receive(session: Session, queue: string, message: ConsumeMessage | null): void {
    if (message === null) {
      // The broker cancelled the consumer (queue deleted): consume again on a fresh connection.
      void this.connector.drop(session.id, `consumer of ${queue} cancelled by the broker`);
      return;
    }
    this.counters.received++;
    session.unsettled.add(message.fields.deliveryTag);
    const work = this.workOf(session, queue, message);
    if (work === null) return;
    const key = work.protocol === 'native' ? callKeyOf(work.event) : `${work.operation.request.tenant}\u0000${work.operation.request.transaction_tag}`;
    const previous = this.calls.get(key) ?? Promise.resolve();
    // apply() settles every outcome itself; the catch is for a bug, so that the message is
    // still settled (requeued) and the call's later events still run.
    const task = previous.then(() => this.apply(session, message, work)).catch((error: unknown) => {
      this.logger.error({ err: error, ...describe(work) }, 'bus event handling failed unexpectedly; requeued');
      this.counters.requeued++;
      this.settle(session, message, () => session.channel.nack(message, false, true));
    });
    this.calls.set(key, task);
    this.inFlight.add(task);
    void task.finally(() => {
      this.inFlight.delete(task);
      if (this.calls.get(key) === task) this.calls.delete(key);
    });
  }

  /** Decodes a message; one that cannot be applied is settled here and null answered. */
  private workOf(session: Session, queue: string, message: ConsumeMessage): Work | null {
    if (this.options.config.bus_protocol === 'native') {
      const decoded = decodeEvent(message.content);
      if (decoded.ok) return { protocol: 'native', event: decoded.event };
      this.deadLetter(session, queue, message, decoded.error);
      return null;
    }
    const read = readCanyanMessage(queue, message.content);
    if (read.ok) return { protocol: 'canyan', operation: read.operation };
    if ('malformed' in read) {
      this.deadLetter(session, queue, message, read.malformed);
      return null;
    }
    // Like the original engine: a request that fails validation is answered, not retried.
    this.counters.invalid++;
    const errors = canyanErrorsOf(read.issues);
    this.logger.warn({ queue, errors: errors.errors, body: bodyForLog(message) }, 'bus request refused by validation');
    this.reply(session, message, errors);
    this.settle(session, message, () => session.channel.ack(message));
    this.counters.acked++;
    return null;
  }

  private deadLetter(session: Session, queue: string, message: ConsumeMessage, reason: string): void {
    this.counters.undecodable++;
    this.logger.error({ queue, reason, body: bodyForLog(message) }, 'bus message is not an event; rejected into the dead-letter queue');
    this.settle(session, message, () => session.channel.reject(message, false));
  }

  private async apply(session: Session, message: ConsumeMessage, work: Work): Promise<void> {
    let response: OperationResponse;
    try {
      response = await this.run(work);
    } catch (error) {
      this.counters.engine_errors++;
      this.consecutiveErrors++;
      const delay = this.backoffDelay();
      this.logger.error({ err: error, ...describe(work), retry_in_ms: delay }, 'rating engine failed on a bus event; it will be delivered again');
      await this.sleep(delay);
      this.counters.requeued++;
      this.settle(session, message, () => session.channel.nack(message, false, true));
      return;
    }
    this.consecutiveErrors = 0;
    if (!response.ok) {
      this.counters.engine_rejected++;
      this.logger.warn(
        { ...describe(work), failed_account_tag: response.failed_account_tag, failed_reason: response.failed_reason, body: bodyForLog(message) },
        'rating engine rejected a bus event',
      );
    }
    if (work.protocol === 'canyan') this.reply(session, message, response);
    this.ackSoon(session, message);
  }

  /** Acks `message` with the next batch (at most ackBatchMs from now). */
  private ackSoon(session: Session, message: ConsumeMessage): void {
    this.heldAcks.push({ session, message });
    if (this.heldAcks.length >= this.ackBatchSize || this.closing !== null) this.sendHeldAcks();
    else this.ackTimer ??= setTimeout(() => this.sendHeldAcks(), this.options.ackBatchMs ?? ACK_BATCH_MS);
  }

  private sendHeldAcks(): void {
    if (this.ackTimer !== null) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    const held = this.heldAcks.splice(0);
    // Acks of a session that was lost fail here and are counted: RabbitMQ delivers those again.
    // Delivery tags belong to their channel: each session's acks are grouped on their own.
    for (const session of new Set(held.map((entry) => entry.session))) {
      const messages = held.filter((entry) => entry.session === session).map((entry) => entry.message);
      this.ackTogether(session, messages);
    }
  }

  /** Acks `messages` (applied, held) of `session` in as few frames as their order allows. */
  private ackTogether(session: Session, messages: readonly ConsumeMessage[]): void {
    const heldTags = new Set(messages.map((message) => message.fields.deliveryTag));
    let firstBusy = Number.POSITIVE_INFINITY;
    for (const tag of session.unsettled) if (!heldTags.has(tag) && tag < firstBusy) firstBusy = tag;
    let last: ConsumeMessage | null = null;
    let covered = 0;
    for (const message of messages) {
      const tag = message.fields.deliveryTag;
      if (tag > firstBusy) {
        if (this.settle(session, message, () => session.channel.ack(message))) this.counters.acked++;
        continue;
      }
      covered++;
      if (last === null || tag > last.fields.deliveryTag) last = message;
    }
    if (last === null) return;
    const upTo = last;
    const sent = this.settle(session, upTo, () => session.channel.ack(upTo, covered > 1));
    for (const message of messages) if (message.fields.deliveryTag < firstBusy) session.unsettled.delete(message.fields.deliveryTag);
    if (sent) this.counters.acked += covered;
  }

  private run(work: Work): Promise<OperationResponse> {
    const { engine } = this.options;
    if (work.protocol === 'native') {
      const { event } = work;
      this.counters[event.kind]++;
      switch (event.kind) {
        case 'begin':
          return engine.beginTransaction(event.begin);
        case 'end':
          return engine.completeTransaction(event.begin, event.end);
        case 'record':
          return engine.recordTransaction(event.record);
      }
    }
    const { operation } = work;
    switch (operation.queue) {
      case 'begin_transaction':
        this.counters.begin++;
        return engine.beginTransaction(operation.request);
      case 'end_transaction':
        this.counters.end++;
        return engine.endTransaction(operation.request);
      case 'record_transaction':
        this.counters.record++;
        return engine.recordTransaction(operation.request);
    }
  }

  /** canyan: answers a message that asked for a reply (an RPC call, §5.3). */
  private reply(session: Session, message: ConsumeMessage, body: unknown): void {
    const { replyTo, correlationId, deliveryMode } = message.properties as { replyTo?: string; correlationId?: string; deliveryMode?: number };
    if (typeof replyTo !== 'string' || replyTo === '') return;
    this.send(session, () =>
      session.channel.sendToQueue(replyTo, Buffer.from(JSON.stringify(body)), {
        contentType: 'application/json',
        ...(correlationId === undefined ? {} : { correlationId }),
        ...(deliveryMode === undefined ? {} : { deliveryMode }),
        type: 'result',
        timestamp: Math.floor(Date.now() / 1000),
      }),
    );
  }

  /** Runs the ack, nack or reject of `message`; a closed channel means RabbitMQ delivers it again. */
  private settle(session: Session, message: ConsumeMessage, action: () => unknown): boolean {
    session.unsettled.delete(message.fields.deliveryTag);
    return this.send(session, action);
  }

  /** Runs a channel operation; a closed channel means RabbitMQ delivers the message again. */
  private send(session: Session, action: () => unknown): boolean {
    try {
      action();
      return true;
    } catch (error) {
      this.counters.settle_failures++;
      this.logger.debug({ err: error, session: session.id }, 'could not settle a bus message (channel closed); it will be delivered again');
      return false;
    }
  }

  private backoffDelay(): number {
    const initial = this.options.errorBackoff?.initialMs ?? 500;
    const max = this.options.errorBackoff?.maxMs ?? 30_000;
    return Math.min(max, initial * 2 ** Math.min(30, this.consecutiveErrors - 1));
  }

  private sleep(ms: number): Promise<void> {
    if (this.closing !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.backoffWakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.backoffWakers.add(wake);
    });
  }
}

function describe(work: Work): Record<string, unknown> {
  if (work.protocol === 'native') {
    const request = work.event.kind === 'record' ? work.event.record : work.event.begin;
    return { kind: work.event.kind, tenant: request.tenant, transaction_tag: request.transaction_tag };
  }
  const request = work.operation.request;
  return { queue: work.operation.queue, tenant: request.tenant, transaction_tag: request.transaction_tag };
}

function bodyForLog(message: ConsumeMessage): string {
  const text = message.content.toString('utf8');
  return text.length > LOGGED_BODY_CHARS ? `${text.slice(0, LOGGED_BODY_CHARS)}...` : text;
}

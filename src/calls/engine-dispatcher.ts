// Turns call intents into rating-engine operations: begin -> beginTransaction, end and timed out
// -> endTransaction, failed attempt -> recordTransaction (a zero-fee, unauthorized record that
// carries the final SIP status, so operators see failed calls).
//
// Operations of one call run strictly in order (an end never overtakes its begin): a call with an
// operation running queues the next ones. Operations of different calls requested in the same
// turn of the event loop start together, so that the storage can commit them together. Engine failures are counted and logged, never thrown, never silently dropped.
import type { Logger } from 'pino';
import type {
  BeginTransactionRequest,
  EndTransactionRequest,
  OperationResponse,
  RatingEngine,
  RecordTransactionRequest,
} from '../rating/engine-types.ts';
import type { CallIntent } from './call-intents.ts';

export interface DispatchSettings {
  tenant: string;
  /** Tags stored on every transaction (transaction_tags plus the product tag); null when none. */
  tags: string[] | null;
}

export interface DispatchCounters {
  begin: number;
  end: number;
  record: number;
  /** Operations the engine answered with ok = false (unknown or inactive account, ...). */
  engine_rejected: number;
  /** Operations that threw (storage down, bug): logged with the error. */
  engine_errors: number;
  in_flight: number;
}

type Operation =
  | { method: 'beginTransaction'; request: BeginTransactionRequest }
  | { method: 'endTransaction'; request: EndTransactionRequest }
  | { method: 'recordTransaction'; request: RecordTransactionRequest };

/** The transaction tags of the settings: transaction_tags plus product_tag, without blanks or repeats. */
export function transactionTagsOf(transactionTags: readonly string[], productTag: string): string[] | null {
  const tags = [...transactionTags, productTag].filter((tag) => tag !== '');
  const unique = [...new Set(tags)];
  return unique.length === 0 ? null : unique;
}

export class EngineDispatcher {
  readonly counters: DispatchCounters = { begin: 0, end: 0, record: 0, engine_rejected: 0, engine_errors: 0, in_flight: 0 };
  /**
   * Calls with an operation running, each with the operations waiting behind it (often none).
   * A queue per busy call instead of a promise chain per operation: most operations find their
   * call idle and start at once, with no promise or closure built just for ordering.
   */
  private readonly busy = new Map<string, Operation[]>();
  private idleWaiters: Array<() => void> = [];
  /** First operations of idle calls, started together at the end of this turn of the event loop. */
  private starting: Array<{ tag: string; operation: Operation }> = [];
  private startScheduled = false;

  constructor(
    private readonly engine: RatingEngine,
    private readonly settings: DispatchSettings,
    private readonly logger: Logger,
  ) {}

  /** Queues the intent behind the previous operations of the same call. Never throws. */
  dispatch(intent: CallIntent): void {
    // The request is built now: the tracker's call state is not read again later.
    const operation = this.operationFor(intent);
    const tag = intent.call.transactionTag;
    this.counters.in_flight++;
    const waiting = this.busy.get(tag);
    if (waiting !== undefined) {
      waiting.push(operation);
      return;
    }
    this.busy.set(tag, []);
    // Started after every packet read in this turn of the event loop has been handled (libuv
    // reads datagrams in runs): their storage transactions then share one commit, which costs
    // more than the transactions themselves. Started one by one, each would commit alone.
    this.starting.push({ tag, operation });
    if (!this.startScheduled) {
      this.startScheduled = true;
      setImmediate(() => this.startAll());
    }
  }

  private startAll(): void {
    const starting = this.starting;
    this.starting = [];
    this.startScheduled = false;
    for (const { tag, operation } of starting) void this.drain(tag, operation);
  }

  /** Resolves once every queued operation has settled (including ones queued meanwhile). */
  idle(): Promise<void> {
    if (this.busy.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Runs `first`, then whatever was queued for the same call meanwhile, in order. */
  private async drain(tag: string, first: Operation): Promise<void> {
    const waiting = this.busy.get(tag) ?? [];
    let operation: Operation | undefined = first;
    while (operation !== undefined) {
      await this.run(operation);
      this.counters.in_flight--;
      operation = waiting.shift();
    }
    this.busy.delete(tag);
    if (this.busy.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private operationFor(intent: CallIntent): Operation {
    const call = intent.call;
    const tenant = this.settings.tenant;
    const transaction_tag = call.transactionTag;
    const account_tag = call.accountTag === '' ? null : call.accountTag;
    const destination_account_tag = call.destinationAccountTag === '' ? null : call.destinationAccountTag;
    // Object literals with every field written out (no spreads): one allocation per request.
    switch (intent.kind) {
      case 'begin':
        return {
          method: 'beginTransaction',
          request: {
            tenant,
            transaction_tag,
            account_tag,
            destination_account_tag,
            source: call.source === '' ? null : call.source,
            source_ip: call.sourceIp,
            destination: call.destination === '' ? null : call.destination,
            carrier_ip: null,
            tags: this.tags(),
            timestamp_begin: intent.timestamp,
          },
        };
      case 'end':
        return {
          method: 'endTransaction',
          request: { tenant, transaction_tag, account_tag, destination_account_tag, timestamp_end: intent.timestamp, end_reason: null },
        };
      case 'timed_out':
        return {
          method: 'endTransaction',
          request: { tenant, transaction_tag, account_tag, destination_account_tag, timestamp_end: intent.timestamp, end_reason: intent.endReason },
        };
      case 'attempt_failed':
        return {
          method: 'recordTransaction',
          request: {
            tenant,
            transaction_tag,
            account_tag,
            destination_account_tag,
            source: call.source === '' ? null : call.source,
            source_ip: call.sourceIp,
            destination: call.destination === '' ? null : call.destination,
            carrier_ip: null,
            tags: this.tags(),
            authorized: false,
            unauthorized_reason: null,
            // No authorization happens on this path; the INVITE is when a proxy would have asked.
            timestamp_auth: call.invitedAt,
            timestamp_begin: intent.timestamp,
            timestamp_end: intent.timestamp,
            sip_status: intent.sipStatus,
          },
        };
    }
  }

  /** A copy per request: the engine may keep or change what it is given. */
  private tags(): string[] | null {
    return this.settings.tags === null ? null : this.settings.tags.slice();
  }

  private async run(operation: Operation): Promise<void> {
    const { tenant, transaction_tag } = operation.request;
    try {
      let response: OperationResponse;
      switch (operation.method) {
        case 'beginTransaction':
          this.counters.begin++;
          response = await this.engine.beginTransaction(operation.request);
          break;
        case 'endTransaction':
          this.counters.end++;
          response = await this.engine.endTransaction(operation.request);
          break;
        case 'recordTransaction':
          this.counters.record++;
          response = await this.engine.recordTransaction(operation.request);
          break;
      }
      if (!response.ok) {
        this.counters.engine_rejected++;
        this.logger.warn(
          {
            operation: operation.method,
            tenant,
            transaction_tag,
            failed_account_tag: response.failed_account_tag,
            failed_reason: response.failed_reason,
          },
          'rating engine rejected a call operation',
        );
      }
    } catch (error) {
      this.counters.engine_errors++;
      this.logger.error({ operation: operation.method, tenant, transaction_tag, err: error }, 'rating engine call failed');
    }
  }
}

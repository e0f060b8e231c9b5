// Turns call intents into rating-engine operations: begin -> beginTransaction, end and timed out
// -> endTransaction, failed attempt -> recordTransaction (a zero-fee, unauthorized record that
// carries the final SIP status, so operators see failed calls).
//
// Operations of one call run strictly in order (an end never overtakes its begin): a call with an
// operation running queues the next ones. Operations of different calls requested in the same
// turn of the event loop start together, so that the storage can commit them together. Engine failures are counted and logged, never thrown, never silently dropped.
import type { Logger } from 'pino';
import type { OperationResponse, RatingEngine } from '../rating/engine-types.ts';
import type { CallIntent } from './call-intents.ts';
import { operationFor, type CallOperation as Operation, type CallRequestSettings as DispatchSettings } from './call-requests.ts';
import type { IntentOutlet } from './intent-outlet.ts';

export { transactionTagsOf } from './call-requests.ts';
export type { CallRequestSettings as DispatchSettings } from './call-requests.ts';

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

export class EngineDispatcher implements IntentOutlet {
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
    const operation = operationFor(intent, this.settings);
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

  stats(): Record<string, number> {
    const c = this.counters;
    return {
      emitted: c.begin + c.end + c.record,
      begin: c.begin,
      end: c.end,
      record: c.record,
      engine_rejected: c.engine_rejected,
      engine_errors: c.engine_errors,
      in_flight: c.in_flight,
    };
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

// A RabbitMQ connection that is re-established forever, with exponential backoff, until closed.
// Each state change is logged once (an outage of an hour is one warning, not thousands); the
// owner sets up its channels in `open` and forgets them in `lost`. Any channel failure should
// close the whole connection, so recovery has one path.
import { connect, type ChannelModel } from 'amqplib';
import type { Logger } from 'pino';

export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface RetryOptions {
  /** First wait after a failed or lost connection. Default 200 ms. */
  initialDelayMs?: number;
  /** Longest wait between attempts. Default 30 s. */
  maxDelayMs?: number;
  /** Time allowed for the TCP and AMQP handshake. Default 10 s. */
  connectTimeoutMs?: number;
}

export interface ConnectorOptions {
  url: string;
  logger: Logger;
  retry?: RetryOptions;
  /** Sets up channels on a fresh connection; throwing closes it and retries. */
  open(connection: ChannelModel, session: number): Promise<void>;
  /** The connection of `session` is gone (after a successful open). */
  lost(session: number): void;
}

/** The URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable url)';
  }
}

export class Connector {
  state: ConnectionState = 'connecting';
  /** Connections established after the first one. */
  reconnects = 0;
  private connection: ChannelModel | null = null;
  private closed = false;
  private wake: (() => void) | null = null;
  private readonly running: Promise<void>;
  private readonly initialDelay: number;
  private readonly maxDelay: number;
  private readonly connectTimeout: number;
  private session = 0;

  constructor(private readonly options: ConnectorOptions) {
    this.initialDelay = options.retry?.initialDelayMs ?? 200;
    this.maxDelay = options.retry?.maxDelayMs ?? 30_000;
    this.connectTimeout = options.retry?.connectTimeoutMs ?? 10_000;
    this.running = this.run();
  }

  /** Closes the current connection if any (it will be re-established). */
  async drop(session: number, reason: string): Promise<void> {
    if (this.closed || session !== this.session || this.connection === null) return;
    this.options.logger.warn({ reason }, 'closing the bus connection to recover');
    await this.connection.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return this.running;
    this.closed = true;
    this.wake?.();
    const connection = this.connection;
    if (connection !== null) await connection.close().catch(() => undefined);
    await this.running;
    this.state = 'closed';
  }

  private async run(): Promise<void> {
    const { logger } = this.options;
    const target = redactUrl(this.options.url);
    let delay = this.initialDelay;
    let failures = 0;
    let everConnected = false;
    while (!this.closed) {
      let connection: ChannelModel | null = null;
      try {
        connection = await connect(this.options.url, { timeout: this.connectTimeout });
        let lastError: Error | null = null;
        // Without an 'error' listener, an EventEmitter error would crash the process.
        connection.on('error', (error: Error) => (lastError = error));
        const lost = new Promise<void>((resolve) => connection?.once('close', () => resolve()));
        const session = ++this.session;
        this.connection = connection;
        if (this.closed) {
          await connection.close().catch(() => undefined);
          break;
        }
        await this.options.open(connection, session);
        if (everConnected) this.reconnects++;
        everConnected = true;
        this.state = 'connected';
        logger.info({ url: target, failed_attempts: failures }, 'bus connected');
        failures = 0;
        delay = this.initialDelay;
        connection.on('blocked', (reason: string) => logger.warn({ reason }, 'bus connection blocked by the broker (resource alarm)'));
        connection.on('unblocked', () => logger.info('bus connection unblocked'));
        await lost;
        this.connection = null;
        this.options.lost(session);
        if (this.closed) break;
        this.state = 'disconnected';
        logger.warn({ url: target, err: lastError }, 'bus connection lost; reconnecting');
      } catch (error) {
        if (connection !== null) {
          this.connection = null;
          await connection.close().catch(() => undefined);
          this.options.lost(this.session);
        }
        if (this.closed) break;
        failures++;
        this.state = 'disconnected';
        if (failures === 1) logger.warn({ url: target, err: error }, 'bus unavailable (unreachable, or it refused the connection or the queue setup); retrying with backoff');
        else logger.debug({ url: target, err: error, attempt: failures }, 'bus still unreachable');
      }
      if (this.closed) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
      delay = Math.min(delay * 2, this.maxDelay);
    }
  }
}

// The connection that LISTENs for rates changes (see rates-version-cache.ts) and keeps the cache
// usable only while it is up. A lost connection stops caching at once and is re-established in
// the background with a growing pause; the cache starts empty each time it is back.
import { Socket } from 'node:net';
import pg from 'pg';
import type { Logger } from 'pino';
import type { RatesVersionCache } from './rates-version-cache.ts';
import { RATES_CHANNEL } from './sql.ts';

export const RATES_LISTENER_NAME = 'canyan-rating rates listener';

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;

export interface RatesListenerOptions {
  connectionString: string;
  startupOptions: string;
  schema: string;
  cache: RatesVersionCache;
  logger: Logger;
}

export class RatesChangeListener {
  #client: pg.Client | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #retryMs = FIRST_RETRY_MS;
  #started = false;
  #stopped = false;

  constructor(private readonly options: RatesListenerOptions) {}

  /** Connects and listens (once; later calls do nothing). Failures are logged and retried. */
  async start(): Promise<void> {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    await this.#connect();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.options.cache.setListening(false);
    const client = this.#client;
    this.#client = null;
    if (client === null) return;
    // The socket was unref'd while listening; ending it must keep the process alive until the
    // server has closed it, or a caller awaiting close() with nothing else pending would see its
    // process exit with the promise unsettled.
    const socket: unknown = client.connection.stream;
    if (socket instanceof Socket) socket.ref();
    await client.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    const { cache, logger, schema } = this.options;
    const client = new pg.Client({
      connectionString: this.options.connectionString,
      options: this.options.startupOptions,
      // Named, so that operators (and the tests) can tell it from the transactions' connections
      // (PostgreSQL keeps the first 63 bytes).
      application_name: `${RATES_LISTENER_NAME} ${schema}`,
    });
    let lost = false;
    const onLost = (error: Error | null): void => {
      if (lost) return;
      lost = true;
      cache.setListening(false);
      if (this.#client === client) this.#client = null;
      client.end().catch(() => undefined);
      if (this.#stopped) return;
      logger.warn({ err: error ?? undefined, retryInMs: this.#retryMs }, 'rates change notifications lost; reading rates versions from the database until they are back');
      this.#scheduleRetry();
    };
    client.on('error', (error) => onLost(error));
    client.on('end', () => onLost(null));
    client.on('notification', (message) => {
      if (message.channel === RATES_CHANNEL && message.payload === schema) cache.invalidate();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${RATES_CHANNEL}`);
    } catch (error) {
      onLost(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (this.#stopped || lost) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    this.#retryMs = FIRST_RETRY_MS;
    // Like the pool's idle connections, it must not keep a process alive that forgot close().
    const socket: unknown = client.connection.stream;
    if (socket instanceof Socket) socket.unref();
    // Set after the LISTEN: a change committed before it is already in what the database answers.
    cache.setListening(true);
    logger.debug('listening for rates change notifications');
  }

  #scheduleRetry(): void {
    const delay = this.#retryMs;
    this.#retryMs = Math.min(MAX_RETRY_MS, this.#retryMs * 2);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      if (!this.#stopped) void this.#connect();
    }, delay);
    // A pending reconnection must not keep the process alive.
    this.#retryTimer.unref();
  }
}

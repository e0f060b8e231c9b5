// The Redis connection of the shared call state (state_url=redis://...). Commands fail at once
// while Redis is unreachable (no offline queue, a command timeout) instead of piling up in the
// client: the call tracker retries its steps itself, with bounds it can count and report.
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RateLimitedLog } from '../transports/rate-limited-log.ts';

export interface StateRedisOptions {
  /** Milliseconds a command may take before it fails. Default 5000. */
  commandTimeoutMs?: number;
}

export function createStateRedisClient(url: string, logger: Logger, options: StateRedisOptions = {}): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs ?? 5000,
    // Steps of many calls run at once: their commands share round trips.
    enableAutoPipelining: true,
    // Reconnects forever, at most every 2 s: the agent keeps running while Redis is away.
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
  });
  const log = new RateLimitedLog(logger, { clock: () => Date.now(), maxPerWindow: 5 });
  redis.on('error', (error: Error) => log.warn({ err: error.message, state_url: redactedUrl(url) }, 'call state: Redis connection error'));
  return redis;
}

/** Resolves true once connected, false after timeoutMs (the client keeps trying meanwhile). */
export function waitForRedis(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    redis.once('ready', onReady);
  });
}

/** The URL without its password, for logs. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'redis://(invalid url)';
  }
}

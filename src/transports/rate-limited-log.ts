// Warnings about bad packets, limited per time window: a misconfigured sender can produce
// thousands per second, which would drown the log (and the disk). What is suppressed is counted
// and reported when the next window opens.
import type { Logger } from 'pino';

export interface RateLimitedLogOptions {
  /** Messages logged per window. Default 10. */
  maxPerWindow?: number;
  /** Window length in milliseconds. Default 60,000. */
  windowMs?: number;
  /** Milliseconds clock. */
  clock: () => number;
}

export class RateLimitedLog {
  private readonly maxPerWindow: number;
  private readonly windowMs: number;
  private windowStart = Number.NEGATIVE_INFINITY;
  private loggedInWindow = 0;
  private suppressedInWindow = 0;
  /** Total messages not logged because of the limit. */
  suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly options: RateLimitedLogOptions,
  ) {
    this.maxPerWindow = options.maxPerWindow ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
  }

  warn(details: Record<string, unknown>, message: string): void {
    const now = this.options.clock();
    if (now - this.windowStart >= this.windowMs) {
      if (this.suppressedInWindow > 0) {
        this.logger.warn({ suppressed: this.suppressedInWindow }, 'bad-packet warnings suppressed by the rate limit');
      }
      this.windowStart = now;
      this.loggedInWindow = 0;
      this.suppressedInWindow = 0;
    }
    if (this.loggedInWindow < this.maxPerWindow) {
      this.loggedInWindow++;
      this.logger.warn(details, message);
    } else {
      this.suppressedInWindow++;
      this.suppressed++;
    }
  }
}

// Where the HEP agent's call intents go: straight to the engine in this process (EngineDispatcher,
// bus_url=local) or onto a message bus for engine processes elsewhere (src/bus).
import type { CallIntent } from './call-intents.ts';

export interface IntentOutlet {
  /** Takes the intent, keeping the order of intents of the same call. Never throws. */
  dispatch(intent: CallIntent): void;
  /**
   * Resolves once everything dispatched so far is out of the agent's hands: settled by the
   * engine, or confirmed by the bus, or written to the on-disk spool.
   */
  idle(): Promise<void>;
  /** Counters for GET /status/agent ("transactions"). */
  stats(): Record<string, number>;
}

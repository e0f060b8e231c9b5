// What call tracking tells the rest of the agent: a call began, ended, failed before being
// answered, or was closed because its end was never captured. Times are the SIP times carried in
// HEP (microseconds), never the clock of this machine.
import type { Micros } from '../domain/types.ts';

/** The parties of a call as identified from its initial INVITE; "" when unknown. */
export interface TrackedCall {
  /** The SIP Call-ID of the initial INVITE (or the HEP correlation id when the SIP had none). */
  readonly transactionTag: string;
  readonly accountTag: string;
  readonly destinationAccountTag: string;
  readonly source: string;
  readonly destination: string;
  /** Source address of the first captured copy of the initial INVITE, when HEP carried it. */
  readonly sourceIp: string | null;
  /** When the initial INVITE was captured (HEP time). */
  readonly invitedAt: Micros;
}

export type CallIntent =
  /** The call was answered at `timestamp` (the 200 OK, or the ACK when no 200 OK was captured). */
  | { kind: 'begin'; call: TrackedCall; timestamp: Micros }
  /**
   * The call ended by a captured BYE at `timestamp`. `answeredAt` repeats the begin's time, so
   * that a consumer that sees the end first (another engine, over a bus) can settle it alone.
   */
  | { kind: 'end'; call: TrackedCall; timestamp: Micros; answeredAt: Micros }
  /** The attempt ended unanswered (CANCEL or a final 3xx-6xx) at `timestamp`; it costs nothing. */
  | { kind: 'attempt_failed'; call: TrackedCall; timestamp: Micros; sipStatus: number }
  /** The call's end was never captured; it is closed at begin + the maximum call duration. */
  | { kind: 'timed_out'; call: TrackedCall; timestamp: Micros; answeredAt: Micros; endReason: 'max_duration' };

export type CallIntentSink = (intent: CallIntent) => void;

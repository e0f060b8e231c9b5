// What the Redis call tracker stores, as text. Pure functions: reading never throws, since a value
// in Redis may have been written by another version of the agent or be damaged.
//
// Record value: "<version>|<write id>|<payload>" (composed by COMPARE_AND_SET in redis-scripts.ts),
// payload a tombstone or the call's JSON record. A parked early message is the JSON of its facts.
import type { Micros } from '../domain/types.ts';
import { callRecordOf, callStateFromRecord, type CallState, type TrackableSipMessage } from '../calls/call-rules.ts';

/** Tombstone payload: "T<local time until which it absorbs late copies>". */
export const TOMBSTONE = 'T';
/** Tombstones stay in Redis a little longer than their grace: agents' clocks differ a little. */
export const TOMBSTONE_TTL_MARGIN_MS = 60_000;

/** What is kept of a message until its step runs (and what is parked in Redis). */
export interface MessageFacts extends TrackableSipMessage {
  key: string;
  at: Micros;
  local: Micros;
  srcIp: string | null;
}

/** A record value cut at its first two separators; the payload is not read yet. */
export interface RecordEnvelope {
  version: number;
  writeId: string;
  payload: string;
}

/** A payload read back. */
export interface RecordPayload {
  /** null: a tombstone. */
  call: CallState | null;
  /** A tombstone's end of grace (local time): until then it absorbs late copies. */
  finishedUntil: Micros;
}

/** The envelope of a record value, or null when the value has none. */
export function decodeEnvelope(value: string): RecordEnvelope | null {
  const first = value.indexOf('|');
  const second = value.indexOf('|', first + 1);
  const version = Number(value.slice(0, first));
  if (first < 0 || second < 0 || !Number.isSafeInteger(version)) return null;
  return { version, writeId: value.slice(first + 1, second), payload: value.slice(second + 1) };
}

/** A tombstone or a call, or null when the payload is neither. */
export function decodePayload(payload: string): RecordPayload | null {
  if (payload.startsWith(TOMBSTONE)) {
    const until = Number(payload.slice(TOMBSTONE.length));
    return { call: null, finishedUntil: Number.isFinite(until) ? until : Number.POSITIVE_INFINITY };
  }
  let call: CallState | null = null;
  try {
    call = callStateFromRecord(JSON.parse(payload));
  } catch {
    call = null;
  }
  return call === null ? null : { call, finishedUntil: 0 };
}

/** The payload of a live call. */
export function encodeCall(call: CallState): string {
  return JSON.stringify(callRecordOf(call));
}

/** The payload of a finished call, absorbing late copies until `until` (local time). */
export function encodeTombstone(until: Micros): string {
  return `${TOMBSTONE}${Math.ceil(until)}`;
}

/** A message parked until its INVITE opens the call. */
export function encodeParked(facts: MessageFacts): string {
  return JSON.stringify(facts);
}

/** A parked message read back, or null when it is not one (written by another version, damaged). */
export function parseParked(text: string): MessageFacts | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const m = value as Record<string, unknown>;
  const textOrNull = (field: unknown): boolean => field === null || typeof field === 'string';
  const numberOrNull = (field: unknown): boolean => field === null || typeof field === 'number';
  const to = m.to as Record<string, unknown> | null | undefined;
  const valid =
    typeof m.isRequest === 'boolean' &&
    typeof m.key === 'string' &&
    typeof m.at === 'number' &&
    typeof m.local === 'number' &&
    textOrNull(m.method) &&
    numberOrNull(m.statusCode) &&
    textOrNull(m.callId) &&
    numberOrNull(m.cseqNumber) &&
    textOrNull(m.cseqMethod) &&
    textOrNull(m.srcIp) &&
    (to === null || (typeof to === 'object' && to !== undefined && textOrNull(to.tag)));
  return valid ? (value as MessageFacts) : null;
}

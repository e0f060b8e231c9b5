// The native bus event: one call intent as versioned JSON, self-contained so that any engine can
// apply it in any order relative to the other events of the call. An end carries its begin
// (rebuilt from the answer time), so an engine that sees the end first rates the call alone
// with completeTransaction. Timestamps are integer microseconds since the epoch.
//
//   {"v":1,"kind":"begin","begin":{...}}
//   {"v":1,"kind":"end","begin":{...},"end":{...}}          (end and timed-out intents)
//   {"v":1,"kind":"record","record":{...}}                  (failed attempts)
import { z } from 'zod';
import type { CallIntent } from '../calls/call-intents.ts';
import { beginRequestOf, endRequestOf, failedAttemptRequestOf, type CallRequestSettings } from '../calls/call-requests.ts';
import type {
  BeginTransactionRequest,
  EndTransactionRequest,
  RecordTransactionRequest,
} from '../rating/engine-types.ts';

export const EVENT_VERSION = 1;

export type BusEvent =
  | { v: 1; kind: 'begin'; begin: BeginTransactionRequest }
  | { v: 1; kind: 'end'; begin: BeginTransactionRequest; end: EndTransactionRequest }
  | { v: 1; kind: 'record'; record: RecordTransactionRequest };

export type DecodeResult = { ok: true; event: BusEvent } | { ok: false; error: string };

export function eventOfIntent(intent: CallIntent, settings: CallRequestSettings): BusEvent {
  switch (intent.kind) {
    case 'begin':
      return { v: 1, kind: 'begin', begin: beginRequestOf(intent.call, intent.timestamp, settings) };
    case 'end':
      return {
        v: 1,
        kind: 'end',
        begin: beginRequestOf(intent.call, intent.answeredAt, settings),
        end: endRequestOf(intent.call, intent.timestamp, null, settings),
      };
    case 'timed_out':
      return {
        v: 1,
        kind: 'end',
        begin: beginRequestOf(intent.call, intent.answeredAt, settings),
        end: endRequestOf(intent.call, intent.timestamp, intent.endReason, settings),
      };
    case 'attempt_failed':
      return { v: 1, kind: 'record', record: failedAttemptRequestOf(intent.call, intent.timestamp, intent.sipStatus, settings) };
  }
}

export function encodeEvent(event: BusEvent): string {
  return JSON.stringify(event);
}

/** The call an event belongs to: events of one call are applied in order by one consumer. */
export function callKeyOf(event: BusEvent): string {
  const request = event.kind === 'record' ? event.record : event.begin;
  return `${request.tenant}\u0000${request.transaction_tag}`;
}

// Validation of what arrives from the wire. Field sets are exactly the engine request types;
// unknown fields are rejected (.strict) so that a producer with a newer format is noticed
// instead of half-understood (a newer format must bump "v").
const micros = z.number().int().refine(Number.isSafeInteger, 'must be a safe integer');
const tag = z.string().min(1);
const optionalText = z.string().nullable();
const parties = {
  tenant: tag,
  transaction_tag: tag,
  account_tag: optionalText,
  destination_account_tag: optionalText,
};
const callDetails = {
  source: optionalText,
  source_ip: optionalText,
  destination: optionalText,
  carrier_ip: optionalText,
  tags: z.array(z.string()).nullable(),
};

const beginSchema = z.object({ ...parties, ...callDetails, timestamp_begin: micros }).strict();
const endSchema = z.object({ ...parties, timestamp_end: micros, end_reason: optionalText.optional() }).strict();
const recordSchema = z
  .object({
    ...parties,
    ...callDetails,
    authorized: z.boolean(),
    unauthorized_reason: optionalText,
    timestamp_auth: micros.nullable(),
    timestamp_begin: micros,
    timestamp_end: micros,
    sip_status: z.number().int().min(0).max(999).nullable().optional(),
    end_reason: optionalText.optional(),
  })
  .strict();

const eventSchema = z.discriminatedUnion('kind', [
  z.object({ v: z.literal(1), kind: z.literal('begin'), begin: beginSchema }).strict(),
  z.object({ v: z.literal(1), kind: z.literal('end'), begin: beginSchema, end: endSchema }).strict(),
  z.object({ v: z.literal(1), kind: z.literal('record'), record: recordSchema }).strict(),
]);

/** Reads an event from a message body or spool line. Never throws. */
export function decodeEvent(input: string | Uint8Array): DecodeResult {
  let text: string;
  try {
    text = typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true }).decode(input);
  } catch {
    return { ok: false, error: 'not UTF-8' };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  if (typeof parsed === 'object' && parsed !== null && 'v' in parsed && parsed.v !== EVENT_VERSION) {
    return { ok: false, error: `unsupported event version ${JSON.stringify(parsed.v)}` };
  }
  const result = eventSchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? 'event' : issue.path.join('.');
    return { ok: false, error: `${where}: ${issue?.message ?? 'invalid'}` };
  }
  // The schema's output has exactly the request types' fields.
  const event: BusEvent = result.data;
  if (event.kind === 'end' && (event.end.tenant !== event.begin.tenant || event.end.transaction_tag !== event.begin.transaction_tag)) {
    return { ok: false, error: 'end: tenant and transaction_tag must match the begin' };
  }
  return { ok: true, event };
}

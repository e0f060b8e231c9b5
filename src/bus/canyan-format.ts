// bus_protocol=canyan: the original's fire-and-forget messages (rating.md §5.4), `{"request":
// {...}}` on the method queues, with datetimes as RFC 3339 UTC text. Fractions of a second are
// kept: the original engine's pydantic models accept ISO-8601 with fractions. Consumed messages
// are validated exactly like the REST endpoints' bodies (same readers).
import { formatIsoMicros } from '../domain/time.ts';
import type { Micros } from '../domain/types.ts';
import { readBeginTransaction, readEndTransaction, readRecordTransaction } from '../api/rest/requests.ts';
import type { ValidationIssue } from '../api/rest/validation.ts';
import type {
  BeginTransactionRequest,
  EndTransactionRequest,
  RecordTransactionRequest,
} from '../rating/engine-types.ts';
import type { BusEvent } from './events.ts';
import type { CanyanQueue } from './topology.ts';

export type CanyanOperation =
  | { queue: 'begin_transaction'; request: BeginTransactionRequest }
  | { queue: 'end_transaction'; request: EndTransactionRequest }
  | { queue: 'record_transaction'; request: RecordTransactionRequest };

export type CanyanReadResult =
  | { ok: true; operation: CanyanOperation }
  /** Not JSON or not `{"request": {...}}`: nothing the original would have answered either. */
  | { ok: false; malformed: string }
  /** A request the validation refuses, answered `{"errors": [...]}` like the original (§4.1). */
  | { ok: false; issues: ValidationIssue[] };

function rfc3339(micros: Micros | null): string | null {
  return micros === null ? null : `${formatIsoMicros(micros)}Z`;
}

/** The queue and body the original's agent would have sent for `event`. */
export function canyanMessageOf(event: BusEvent): { queue: CanyanQueue; body: { request: Record<string, unknown> } } {
  switch (event.kind) {
    case 'begin':
      return { queue: 'begin_transaction', body: { request: { ...event.begin, timestamp_begin: rfc3339(event.begin.timestamp_begin) } } };
    case 'end': {
      // The original end carries no begin: an end that reaches an engine before its begin fails.
      const { end_reason: endReason, ...end } = event.end;
      const request: Record<string, unknown> = { ...end, timestamp_end: rfc3339(end.timestamp_end) };
      if (endReason !== undefined && endReason !== null) request.end_reason = endReason;
      return { queue: 'end_transaction', body: { request } };
    }
    case 'record': {
      const record = event.record;
      return {
        queue: 'record_transaction',
        body: {
          request: {
            ...record,
            // The original's record_transaction crashes on null tags (rating.md §8.17).
            tags: record.tags ?? [],
            timestamp_auth: rfc3339(record.timestamp_auth),
            timestamp_begin: rfc3339(record.timestamp_begin),
            timestamp_end: rfc3339(record.timestamp_end),
          },
        },
      };
    }
  }
}

/** Reads a message of a canyan queue. Never throws. */
export function readCanyanMessage(queue: string, content: Uint8Array): CanyanReadResult {
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(content));
  } catch {
    return { ok: false, malformed: 'not UTF-8 JSON' };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !('request' in body)) {
    return { ok: false, malformed: 'not an object with a "request" field' };
  }
  const fields = body.request;
  switch (queue) {
    case 'begin_transaction': {
      const read = readBeginTransaction(fields);
      return read.ok ? { ok: true, operation: { queue, request: read.request } } : { ok: false, issues: read.issues };
    }
    case 'end_transaction': {
      const read = readEndTransaction(fields);
      return read.ok ? { ok: true, operation: { queue, request: read.request } } : { ok: false, issues: read.issues };
    }
    case 'record_transaction': {
      const read = readRecordTransaction(fields);
      return read.ok ? { ok: true, operation: { queue, request: read.request } } : { ok: false, issues: read.issues };
    }
    default:
      return { ok: false, malformed: `no operation for queue ${queue}` };
  }
}

/** The original engine's validation answer: pydantic locations, relative to the request. */
export function canyanErrorsOf(issues: readonly ValidationIssue[]): { errors: ValidationIssue[] } {
  return { errors: issues.map((issue) => ({ ...issue, loc: issue.loc[0] === 'body' ? issue.loc.slice(1) : issue.loc })) };
}

// The engine requests a call intent stands for: begin -> beginTransaction, end and timed out ->
// endTransaction, failed attempt -> recordTransaction (a zero-fee, unauthorized record carrying
// the final SIP status). Shared by the in-process dispatcher and the message-bus publisher.
import type {
  BeginTransactionRequest,
  EndTransactionRequest,
  RecordTransactionRequest,
} from '../rating/engine-types.ts';
import type { CallIntent, TrackedCall } from './call-intents.ts';
import type { Micros } from '../domain/types.ts';

export interface CallRequestSettings {
  tenant: string;
  /** Tags stored on every transaction (transaction_tags plus the product tag); null when none. */
  tags: string[] | null;
}

export type CallOperation =
  | { method: 'beginTransaction'; request: BeginTransactionRequest }
  | { method: 'endTransaction'; request: EndTransactionRequest }
  | { method: 'recordTransaction'; request: RecordTransactionRequest };

/** The transaction tags of the settings: transaction_tags plus product_tag, without blanks or repeats. */
export function transactionTagsOf(transactionTags: readonly string[], productTag: string): string[] | null {
  const tags = [...transactionTags, productTag].filter((tag) => tag !== '');
  const unique = [...new Set(tags)];
  return unique.length === 0 ? null : unique;
}

const absentIfEmpty = (value: string): string | null => (value === '' ? null : value);

/** A copy per request: the engine may keep or change what it is given. */
function tagsOf(settings: CallRequestSettings): string[] | null {
  return settings.tags === null ? null : settings.tags.slice();
}

// Object literals with every field written out (no spreads): one allocation per request on the
// packet path.

export function beginRequestOf(call: TrackedCall, answeredAt: Micros, settings: CallRequestSettings): BeginTransactionRequest {
  return {
    tenant: settings.tenant,
    transaction_tag: call.transactionTag,
    account_tag: absentIfEmpty(call.accountTag),
    destination_account_tag: absentIfEmpty(call.destinationAccountTag),
    source: absentIfEmpty(call.source),
    source_ip: call.sourceIp,
    destination: absentIfEmpty(call.destination),
    carrier_ip: null,
    tags: tagsOf(settings),
    timestamp_begin: answeredAt,
  };
}

export function endRequestOf(call: TrackedCall, endedAt: Micros, endReason: string | null, settings: CallRequestSettings): EndTransactionRequest {
  return {
    tenant: settings.tenant,
    transaction_tag: call.transactionTag,
    account_tag: absentIfEmpty(call.accountTag),
    destination_account_tag: absentIfEmpty(call.destinationAccountTag),
    timestamp_end: endedAt,
    end_reason: endReason,
  };
}

export function failedAttemptRequestOf(call: TrackedCall, failedAt: Micros, sipStatus: number, settings: CallRequestSettings): RecordTransactionRequest {
  return {
    tenant: settings.tenant,
    transaction_tag: call.transactionTag,
    account_tag: absentIfEmpty(call.accountTag),
    destination_account_tag: absentIfEmpty(call.destinationAccountTag),
    source: absentIfEmpty(call.source),
    source_ip: call.sourceIp,
    destination: absentIfEmpty(call.destination),
    carrier_ip: null,
    tags: tagsOf(settings),
    authorized: false,
    unauthorized_reason: null,
    // No authorization happens on this path; the INVITE is when a proxy would have asked.
    timestamp_auth: call.invitedAt,
    timestamp_begin: failedAt,
    timestamp_end: failedAt,
    sip_status: sipStatus,
  };
}

export function operationFor(intent: CallIntent, settings: CallRequestSettings): CallOperation {
  switch (intent.kind) {
    case 'begin':
      return { method: 'beginTransaction', request: beginRequestOf(intent.call, intent.timestamp, settings) };
    case 'end':
      return { method: 'endTransaction', request: endRequestOf(intent.call, intent.timestamp, null, settings) };
    case 'timed_out':
      return { method: 'endTransaction', request: endRequestOf(intent.call, intent.timestamp, intent.endReason, settings) };
    case 'attempt_failed':
      return { method: 'recordTransaction', request: failedAttemptRequestOf(intent.call, intent.timestamp, intent.sipStatus, settings) };
  }
}

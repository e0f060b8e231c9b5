// The five agent requests of rating.md §6.1, read from JSON bodies into the engine's request
// types. Defaults follow the original: tenant "default", everything else absent.
import type {
  AuthorizationRequest,
  BeginTransactionRequest,
  EndTransactionRequest,
  RecordTransactionRequest,
  RollbackTransactionRequest,
} from '../../rating/engine-types.ts';
import { BodyReader, type ValidationIssue } from './validation.ts';

export type ReadResult<T> = { ok: true; request: T } | { ok: false; issues: ValidationIssue[] };

const DEFAULT_TENANT = 'default';

function parties(reader: BodyReader): RollbackTransactionRequest {
  return {
    tenant: reader.optionalText('tenant', DEFAULT_TENANT) ?? DEFAULT_TENANT,
    transaction_tag: reader.requiredText('transaction_tag'),
    account_tag: reader.optionalText('account_tag'),
    destination_account_tag: reader.optionalText('destination_account_tag'),
  };
}

function callDetails(reader: BodyReader) {
  return {
    source: reader.optionalText('source'),
    source_ip: reader.optionalText('source_ip'),
    destination: reader.optionalText('destination'),
    carrier_ip: reader.optionalText('carrier_ip'),
    tags: reader.optionalTextList('tags'),
  };
}

function finish<T>(reader: BodyReader, request: T): ReadResult<T> {
  return reader.valid ? { ok: true, request } : { ok: false, issues: reader.issues };
}

export function readAuthorization(body: unknown): ReadResult<AuthorizationRequest> {
  const reader = new BodyReader(body);
  return finish(reader, {
    ...parties(reader),
    ...callDetails(reader),
    timestamp_auth: reader.optionalTimestamp('timestamp_auth'),
  });
}

export function readBeginTransaction(body: unknown): ReadResult<BeginTransactionRequest> {
  const reader = new BodyReader(body);
  return finish(reader, {
    ...parties(reader),
    ...callDetails(reader),
    timestamp_begin: reader.optionalTimestamp('timestamp_begin'),
  });
}

export function readEndTransaction(body: unknown): ReadResult<EndTransactionRequest> {
  const reader = new BodyReader(body);
  return finish(reader, {
    ...parties(reader),
    timestamp_end: reader.optionalTimestamp('timestamp_end'),
    end_reason: reader.optionalText('end_reason'),
  });
}

export function readRollbackTransaction(body: unknown): ReadResult<RollbackTransactionRequest> {
  const reader = new BodyReader(body);
  return finish(reader, parties(reader));
}

export function readRecordTransaction(body: unknown): ReadResult<RecordTransactionRequest> {
  const reader = new BodyReader(body);
  return finish(reader, {
    ...parties(reader),
    ...callDetails(reader),
    authorized: reader.bool('authorized', false),
    unauthorized_reason: reader.optionalText('unauthorized_reason'),
    timestamp_auth: reader.optionalTimestamp('timestamp_auth'),
    timestamp_begin: reader.optionalTimestamp('timestamp_begin'),
    timestamp_end: reader.optionalTimestamp('timestamp_end'),
    sip_status: reader.optionalInteger('sip_status'),
    end_reason: reader.optionalText('end_reason'),
  });
}

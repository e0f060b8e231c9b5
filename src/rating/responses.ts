// Answers of the engine's operations, and the error that aborts an operation's storage
// transaction while still giving the caller a normal answer.
import type { FailedReason, UnauthorizedReason } from '../domain/types.ts';
import type { AuthorizationResponse, OperationResponse } from './engine-types.ts';

// Answers are fresh objects: transports may decorate the answer they are given.
export function succeeded(): OperationResponse {
  return { ok: true, failed_account_tag: null, failed_reason: null };
}

/** ok=false with no account named: the request named no party and none could be restored. */
export function nothingToDo(): OperationResponse {
  return { ok: false, failed_account_tag: null, failed_reason: null };
}

export function failed(accountTag: string | null, reason: FailedReason): OperationResponse {
  return { ok: false, failed_account_tag: accountTag, failed_reason: reason };
}

export function defaultAuthorization(): AuthorizationResponse {
  return {
    authorized: false,
    authorized_destination: false,
    unauthorized_account_tag: null,
    unauthorized_reason: null,
    balance: 0,
    carriers: [],
    max_available_units: 0,
  };
}

export function unauthorized(accountTag: string, reason: UnauthorizedReason): AuthorizationResponse {
  return { ...defaultAuthorization(), unauthorized_account_tag: accountTag, unauthorized_reason: reason };
}

/**
 * Thrown inside an operation's storage transaction to undo everything it wrote so far
 * (operations are all-or-nothing) and answer `response` instead.
 */
export class OperationAborted extends Error {
  constructor(readonly response: OperationResponse) {
    super(`operation aborted: ${response.failed_reason ?? 'failed'} for ${response.failed_account_tag ?? '-'}`);
    this.name = 'OperationAborted';
  }
}

/** Which account an operation was working on, so an unexpected error can name it. */
export interface Progress {
  accountTag: string | null;
}

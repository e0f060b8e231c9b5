// Requests and responses of the rating engine's operations (Canyan engine §4.1 / agent §6.1).
// Timestamps are already parsed into microseconds; validation and parsing of wire formats
// happen in the transports (REST, bus, HEP agent), never here.
import type { FailedReason, Micros, UnauthorizedReason } from '../domain/types.ts';

interface Parties {
  tenant: string;
  transaction_tag: string;
  /** Caller (paying) account; null or "" means absent. */
  account_tag: string | null;
  /** Destination (receiving) account; null or "" means absent. */
  destination_account_tag: string | null;
}

interface CallDetails {
  source: string | null;
  source_ip: string | null;
  destination: string | null;
  carrier_ip: string | null;
  tags: string[] | null;
}

export interface AuthorizationRequest extends Parties, CallDetails {
  /** Defaults to the engine's clock when null. */
  timestamp_auth: Micros | null;
}

export interface AuthorizationResponse {
  authorized: boolean;
  authorized_destination: boolean;
  unauthorized_account_tag: string | null;
  unauthorized_reason: UnauthorizedReason | null;
  balance: number;
  carriers: string[];
  max_available_units: number;
}

export interface BeginTransactionRequest extends Parties, CallDetails {
  timestamp_begin: Micros | null;
}

export interface EndTransactionRequest extends Parties {
  timestamp_end: Micros | null;
  /** Why the call ended when not by a captured BYE, e.g. "max_duration" (an addition). */
  end_reason?: string | null;
}

export type RollbackTransactionRequest = Parties;

export interface RecordTransactionRequest extends Parties, CallDetails {
  authorized: boolean;
  unauthorized_reason: string | null;
  timestamp_auth: Micros | null;
  timestamp_begin: Micros | null;
  timestamp_end: Micros | null;
  /** Final SIP status of the call (an addition: the HEP agent records failed attempts with it). */
  sip_status?: number | null;
  /** Why the call ended when not by a captured BYE, e.g. "max_duration" (an addition). */
  end_reason?: string | null;
}

export interface OperationResponse {
  ok: boolean;
  failed_account_tag: string | null;
  failed_reason: FailedReason | null;
}

export interface RollbackResponse {
  ok: boolean;
}

export interface RatingEngine {
  authorization(request: AuthorizationRequest): Promise<AuthorizationResponse>;
  beginTransaction(request: BeginTransactionRequest): Promise<OperationResponse>;
  endTransaction(request: EndTransactionRequest): Promise<OperationResponse>;
  rollbackTransaction(request: RollbackTransactionRequest): Promise<RollbackResponse>;
  recordTransaction(request: RecordTransactionRequest): Promise<OperationResponse>;
  /**
   * Begin and end of one call in a single atomic operation, for consumers that may see a call's
   * end before (or without) its begin: events of one call handled by different engines. Whatever
   * was already done is skipped (a begun call is only ended, a settled one changes nothing), so
   * it is as idempotent as begin and end are. An addition; Canyan has no such operation.
   */
  completeTransaction(begin: BeginTransactionRequest, end: EndTransactionRequest): Promise<OperationResponse>;
}

/** The engine's clock, injected so tests and HEP replays control "now". */
export type Clock = () => Micros;

// The rating engine over a Storage: every operation is one storage transaction, so it is
// all-or-nothing and never interleaves with another operation's reads and writes. Balances are
// only ever changed with repo.addToBalance (no read-modify-write in JS).
import { nowMicros } from '../domain/time.ts';
import type { Repository, Storage, TransactionHint } from '../storage/storage.ts';
import { authorize } from './authorize.ts';
import { beginCall } from './begin.ts';
import { endCall } from './end.ts';
import type {
  AuthorizationRequest,
  AuthorizationResponse,
  BeginTransactionRequest,
  Clock,
  EndTransactionRequest,
  OperationResponse,
  RatingEngine,
  RecordTransactionRequest,
  RollbackResponse,
  RollbackTransactionRequest,
} from './engine-types.ts';
import { partiesOf, partyTags, preloadParties, presentTag } from './parties.ts';
import { RateIndexCache } from './rate-cache.ts';
import { recordCall } from './record.ts';
import { OperationAborted, failed, type Progress } from './responses.ts';
import { rollBackCall } from './rollback.ts';

export interface RatingEngineOptions {
  storage: Storage;
  /** "now" for requests without timestamps; defaults to the system clock. */
  clock?: Clock;
  /** Share one cache with the API so rate indexes are built once per tenant and version. */
  rates?: RateIndexCache;
  /**
   * Let unexpected errors (storage unreachable, a bug) propagate instead of answering
   * INTERNAL_ERROR: a message-bus consumer must then not acknowledge the event, so it is retried.
   * Default false (the REST and GraphQL transports answer with a response).
   */
  rethrowUnexpectedErrors?: boolean;
}

/** The hint for an operation that starts with preloadParties (parties.ts). */
function accountsHint(
  tenant: string,
  request: { account_tag: string | null; destination_account_tag: string | null },
  transactionTag: string | null,
): TransactionHint['accounts'] {
  const tags = partyTags(partiesOf(request));
  return tags.length === 0 ? undefined : { tenant, accountTags: tags, transactionTag };
}

/** The account named first by a request: who an unexpected failure is reported against. */
function firstParty(request: { account_tag: string | null; destination_account_tag: string | null }): string | null {
  return presentTag(request.account_tag) ?? presentTag(request.destination_account_tag);
}

export function createRatingEngine(options: RatingEngineOptions): RatingEngine {
  const { storage } = options;
  const clock = options.clock ?? nowMicros;
  const rates = options.rates ?? new RateIndexCache();

  /**
   * Runs an operation atomically. An aborted operation answers its own response; any other
   * error undoes everything and answers INTERNAL_ERROR for the account being worked on.
   */
  async function settle(
    request: { account_tag: string | null; destination_account_tag: string | null },
    work: (repo: Repository, progress: Progress) => Promise<OperationResponse>,
    hint?: TransactionHint,
  ): Promise<OperationResponse> {
    const progress: Progress = { accountTag: firstParty(request) };
    try {
      return await storage.transaction((repo) => work(repo, progress), hint);
    } catch (error) {
      if (error instanceof OperationAborted) return error.response;
      if (options.rethrowUnexpectedErrors === true) throw error;
      return failed(progress.accountTag, 'INTERNAL_ERROR');
    }
  }

  return {
    authorization(request: AuthorizationRequest): Promise<AuthorizationResponse> {
      const at = request.timestamp_auth ?? clock();
      // Errors propagate: the transport answers a server error rather than a made-up refusal.
      return storage.transaction(async (repo) => authorize(repo, await rates.ratesOf(repo, request.tenant), request, at));
    },

    beginTransaction(request: BeginTransactionRequest): Promise<OperationResponse> {
      const at = request.timestamp_begin ?? clock();
      return settle(
        request,
        async (repo, progress) => beginCall(repo, await rates.forTenant(repo, request.tenant), request, at, progress),
        // What beginCall reads first (its preloadParties, then the rates version).
        { accounts: accountsHint(request.tenant, request, null), ratesOf: request.tenant },
      );
    },

    endTransaction(request: EndTransactionRequest): Promise<OperationResponse> {
      const at = request.timestamp_end ?? clock();
      return settle(request, (repo, progress) => endCall(repo, request, at, progress), {
        accounts: accountsHint(request.tenant, request, request.transaction_tag),
      });
    },

    async rollbackTransaction(request: RollbackTransactionRequest): Promise<RollbackResponse> {
      const at = clock();
      try {
        return { ok: await storage.transaction((repo) => rollBackCall(repo, request, at)) };
      } catch {
        return { ok: false };
      }
    },

    completeTransaction(begin: BeginTransactionRequest, end: EndTransactionRequest): Promise<OperationResponse> {
      const beganAt = begin.timestamp_begin ?? clock();
      const endedAt = end.timestamp_end ?? clock();
      return settle(begin, async (repo, progress) => {
        // The common case is a call whose begin was applied on its own: then the begin would
        // change nothing (its running transactions exist), so its reads, rates and inserts are
        // skipped. The first party's account with its running transaction of the call tells (the
        // end reads it next; PostgreSQL answers that second read from memory); only when it has
        // none are the call's running transactions on any account looked up. A call that is
        // running still ends after one of its accounts is deactivated (end does not check
        // `active`, §4.6).
        const party = firstParty(begin);
        await preloadParties(repo, begin.tenant, partiesOf(begin), begin.transaction_tag);
        const first = party === null ? null : await repo.getAccountWithRunning(begin.tenant, party, { transactionTag: begin.transaction_tag });
        const running = (first?.running.length ?? 0) > 0 || (await repo.findRunningByTransaction(begin.tenant, begin.transaction_tag)).length > 0;
        if (!running) {
          // Not begun, or already settled (then the begin does nothing: insertRunning refuses
          // settled calls). A begin that fails (unknown or inactive account) leaves nothing for
          // the end to settle; its answer is the call's.
          const began = await beginCall(repo, await rates.forTenant(repo, begin.tenant), begin, beganAt, progress);
          if (!began.ok) throw new OperationAborted(began);
        }
        return endCall(repo, end, endedAt, progress);
      }, { accounts: accountsHint(begin.tenant, begin, begin.transaction_tag) });
    },

    recordTransaction(request: RecordTransactionRequest): Promise<OperationResponse> {
      const now = clock();
      const times = { begin: request.timestamp_begin ?? now, end: request.timestamp_end ?? now };
      return settle(request, async (repo, progress) => recordCall(repo, await rates.forTenant(repo, request.tenant), request, times, progress));
    },
  };
}

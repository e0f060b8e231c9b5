// `end_transaction` (§4.6): rate every running transaction of the call with its frozen rate,
// store the consolidated transaction record, debit the balance (POSTPAID too) and remove the
// running transaction, all in one storage transaction. Repeating an end charges nothing.
import type { Micros, RunningTransaction } from '../domain/types.ts';
import type { Repository, RunningSettlement } from '../storage/storage.ts';
import { sidesOf, type CallAccounts } from './checks.ts';
import type { EndTransactionRequest, OperationResponse } from './engine-types.ts';
import { computeFee } from './fees.ts';
import {
  hasParties,
  joinTags,
  loadLinkedAccounts,
  partiesFromAuthorization,
  partiesFromRunning,
  partiesOf,
  preloadParties,
  type CallParties,
} from './parties.ts';
import { nothingToDo, succeeded, OperationAborted, failed, type Progress } from './responses.ts';

export async function endCall(repo: Repository, request: EndTransactionRequest, at: Micros, progress: Progress): Promise<OperationResponse> {
  const { tenant, transaction_tag: transactionTag } = request;
  let parties = partiesOf(request);
  if (!hasParties(parties)) {
    const restored =
      (await partiesFromRunning(repo, tenant, transactionTag)) ?? (await partiesFromAuthorization(repo, tenant, transactionTag));
    if (restored === null || !hasParties(restored)) return nothingToDo();
    parties = restored;
  }
  const loaded = await loadCallAccountsWithRunning(repo, tenant, parties, transactionTag);
  if (!loaded.ok) return loaded.response;

  const { running } = loaded;
  // Every account's settlement is worked out first (reads only), then written in one step where
  // the storage can. An account met twice (a party linked to the other) has one running
  // transaction, settled once.
  const settlements: RunningSettlement[] = [];
  const included = new Set<string>();
  let allRunningLoaded = false;
  for (const side of sidesOf(loaded.accounts)) {
    // Linked accounts first, the side's own account last (§4.6).
    const linked = await loadLinkedAccounts(repo, side.account);
    if (linked.length > 0 && !allRunningLoaded) {
      for (const rt of await repo.findRunningByTransaction(tenant, transactionTag)) running.set(rt.account_tag, rt);
      allRunningLoaded = true;
    }
    const items = [...linked, side.account];
    for (const item of items) {
      if (included.has(item.account_tag)) continue;
      included.add(item.account_tag);
      progress.accountTag = item.account_tag;
      const rt = running.get(item.account_tag);
      if (rt === undefined) {
        // Already settled: a repeated end. (A running transaction never coexists with an
        // outcome, so the outcome is only looked up when nothing is running.)
        if ((await repo.getOutcome(tenant, transactionTag, item.account_tag)) !== null) continue;
        // The side's own account must have begun the call (§7.4: ok=false). A linked account
        // added after the begin has nothing to settle and must not block the call's end.
        if (item === side.account) throw new OperationAborted(failed(item.account_tag, 'INTERNAL_ERROR'));
        continue;
      }
      const { fee, duration } = computeFee(rt.destination_rate, rt.timestamp_begin, at);
      const record = {
        source: rt.source,
        source_ip: rt.source_ip,
        destination: rt.destination,
        carrier_ip: rt.carrier_ip,
        destination_rate: rt.destination_rate,
        tags: joinTags(rt.tags, item.tags),
        timestamp_begin: rt.timestamp_begin,
        timestamp_end: at,
        primary: rt.primary,
        inbound: rt.inbound,
        duration,
        fee,
        end_reason: request.end_reason ?? null,
      };
      settlements.push({ tenant, transactionTag, accountTag: item.account_tag, record, balanceDelta: -fee, at });
    }
  }
  await settleAll(repo, settlements, progress);
  return succeeded();
}

/**
 * Writes the settlements: in one step (PostgreSQL: one round trip for all), one step each, or
 * four writes each, as the storage can. An account that is gone aborts the operation.
 */
async function settleAll(repo: Repository, settlements: readonly RunningSettlement[], progress: Progress): Promise<void> {
  if (settlements.length === 0) return;
  if (repo.settleRunningAll !== undefined) {
    const settled = await repo.settleRunningAll(settlements);
    for (const [i, ok] of settled.entries()) if (!ok) missing(settlements[i], progress);
    return;
  }
  for (const settlement of settlements) {
    progress.accountTag = settlement.accountTag;
    if (repo.settleRunning !== undefined) {
      if (!(await repo.settleRunning(settlement))) missing(settlement, progress);
      continue;
    }
    const { tenant, transactionTag, accountTag, record, balanceDelta, at } = settlement;
    await repo.upsert('transaction', { key: { tenant, transaction_tag: transactionTag, account_tag: accountTag } }, record, { readBack: false });
    if (balanceDelta !== 0 && !(await repo.addToBalance(tenant, accountTag, balanceDelta))) missing(settlement, progress);
    await repo.deleteRunning(tenant, accountTag, transactionTag);
    await repo.putOutcome({ tenant, transaction_tag: transactionTag, account_tag: accountTag, outcome: 'ended', at });
  }
}

/** The account of a settlement is gone: the operation aborts (a module-level function: no closure per end). */
function missing(settlement: RunningSettlement, progress: Progress): never {
  progress.accountTag = settlement.accountTag;
  throw new OperationAborted(failed(settlement.accountTag, 'INTERNAL_ERROR'));
}

type LoadedForEnd =
  | { ok: true; accounts: CallAccounts; running: Map<string, RunningTransaction> }
  | { ok: false; response: OperationResponse };

/**
 * The call's accounts (the caller checked first, inactive ones included) each read together
 * with its running transaction of this call, keyed by account tag: one read per account.
 */
async function loadCallAccountsWithRunning(repo: Repository, tenant: string, parties: CallParties, transactionTag: string): Promise<LoadedForEnd> {
  const running = new Map<string, RunningTransaction>();
  const accounts: CallAccounts = { account: null, destinationAccount: null };
  await preloadParties(repo, tenant, parties, transactionTag);
  for (const [tag, slot] of [
    [parties.accountTag, 'account'],
    [parties.destinationAccountTag, 'destinationAccount'],
  ] as const) {
    if (tag === null) continue;
    const found = await repo.getAccountWithRunning(tenant, tag, { transactionTag });
    if (found === null) return { ok: false, response: failed(tag, 'NOT_FOUND') };
    for (const rt of found.running) running.set(rt.account_tag, rt);
    accounts[slot] = found.account;
  }
  return { ok: true, accounts, running };
}

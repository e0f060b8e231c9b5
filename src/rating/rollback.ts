// `rollback_transaction` (§4.7): forget a call without charging it. Linked accounts are rolled
// back too (FIX §8.16), so their running transactions no longer leak. The transaction records
// are left as they are, as in the original.
import type { Micros } from '../domain/types.ts';
import type { Repository } from '../storage/storage.ts';
import type { RollbackTransactionRequest } from './engine-types.ts';
import { hasParties, loadAccount, loadLinkedAccounts, partiesFromAuthorization, partiesFromRunning, partiesOf } from './parties.ts';

/** Removes one account's running transaction; false when there was none to remove. */
async function rollBackAccount(repo: Repository, tenant: string, transactionTag: string, accountTag: string, at: Micros): Promise<boolean> {
  if ((await repo.getOutcome(tenant, transactionTag, accountTag)) !== null) return true;
  if ((await repo.deleteRunning(tenant, accountTag, transactionTag)) === 0) return false;
  await repo.putOutcome({ tenant, transaction_tag: transactionTag, account_tag: accountTag, outcome: 'rolled_back', at });
  return true;
}

/**
 * ok is false when a named account had nothing to roll back (§7.4), as in the original; what
 * could be rolled back stays rolled back.
 */
export async function rollBackCall(repo: Repository, request: RollbackTransactionRequest, at: Micros): Promise<boolean> {
  const { tenant, transaction_tag: transactionTag } = request;
  let parties = partiesOf(request);
  if (!hasParties(parties)) {
    const restored =
      (await partiesFromRunning(repo, tenant, transactionTag)) ?? (await partiesFromAuthorization(repo, tenant, transactionTag));
    if (restored === null || !hasParties(restored)) return false;
    parties = restored;
  }
  let ok = true;
  for (const tag of [parties.accountTag, parties.destinationAccountTag]) {
    if (tag === null) continue;
    if (!(await rollBackAccount(repo, tenant, transactionTag, tag, at))) ok = false;
    const account = await loadAccount(repo, tenant, tag);
    if (account === null) continue;
    for (const linked of await loadLinkedAccounts(repo, account)) {
      // A linked account without a running transaction never took part: not a failure.
      await rollBackAccount(repo, tenant, transactionTag, linked.account_tag, at);
    }
  }
  return ok;
}

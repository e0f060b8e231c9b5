// `begin_transaction` (§4.5): a running transaction with a frozen rate on every account of the
// call. Begin trusts the earlier authorization: no balance, limit or rate check. The request's
// tags are kept on the running transaction (FIX §8.15). Repeating a begin changes nothing.
import type { Micros, RunningTransaction } from '../domain/types.ts';
import type { Repository } from '../storage/storage.ts';
import { loadCallAccounts, sidesOf } from './checks.ts';
import type { BeginTransactionRequest, OperationResponse } from './engine-types.ts';
import { freezeRate, hasParties, loadLinkedAccounts, mergeParties, partiesFromAuthorization, partiesOf, preloadParties } from './parties.ts';
import type { RateIndex } from './rate-index.ts';
import { nothingToDo, succeeded, type Progress } from './responses.ts';

export async function beginCall(
  repo: Repository,
  rates: RateIndex,
  request: BeginTransactionRequest,
  at: Micros,
  progress: Progress,
): Promise<OperationResponse> {
  const { tenant, transaction_tag: transactionTag } = request;
  let parties = partiesOf(request);
  if (!hasParties(parties)) {
    const restored = await partiesFromAuthorization(repo, tenant, transactionTag);
    if (restored === null || !hasParties(restored)) return nothingToDo();
    parties = mergeParties(parties, restored);
  }
  // The accounts alone: begin never reads running transactions (inserts refuse repeats).
  await preloadParties(repo, tenant, parties, null);
  const loaded = await loadCallAccounts(repo, tenant, parties, { requireActive: true });
  if (!loaded.ok) return loaded.response;

  // Every account's running transaction is built first and inserted in one step where the
  // storage can. An account met twice (a party linked to the other) has one running transaction:
  // the first, as the storage would refuse the second.
  const rows: RunningTransaction[] = [];
  const included = new Set<string>();
  for (const side of sidesOf(loaded.accounts)) {
    const items = [side.account, ...(await loadLinkedAccounts(repo, side.account))];
    for (const [n, item] of items.entries()) {
      if (included.has(item.account_tag)) continue;
      included.add(item.account_tag);
      progress.accountTag = item.account_tag;
      rows.push({
        tenant,
        account_tag: item.account_tag,
        transaction_tag: transactionTag,
        proxy_tag: null,
        source: parties.source,
        source_ip: parties.sourceIp,
        destination: parties.destination,
        carrier_ip: parties.carrierIp,
        tags: request.tags,
        destination_rate: side.inbound ? null : freezeRate(rates.destinationRate(item, parties.destination, at)),
        in_progress: true,
        inbound: side.inbound,
        primary: n === 0,
        timestamp_begin: at,
        timestamp_end: null,
      });
    }
  }
  // insertRunning refuses a second running transaction with the same tag (a repeated begin)
  // and, with unlessSettled, one for a call already ended, rolled back or recorded (a late or
  // repeated begin must not reopen it).
  if (repo.insertRunningAll !== undefined) {
    if (rows.length > 0) progress.accountTag = rows[0].account_tag;
    await repo.insertRunningAll(rows, { unlessSettled: true });
  } else {
    for (const row of rows) {
      progress.accountTag = row.account_tag;
      await repo.insertRunning(row, { unlessSettled: true });
    }
  }
  return succeeded();
}

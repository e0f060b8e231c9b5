// `begin_transaction` (§4.5): a running transaction with a frozen rate on every account of the
// call. Begin trusts the earlier authorization: no balance, limit or rate check. The request's
// tags are kept on the running transaction (FIX §8.15). Repeating a begin changes nothing.
import type { Micros } from '../domain/types.ts';
import type { Repository } from '../storage/storage.ts';
import { loadCallAccounts, sidesOf } from './checks.ts';
import type { BeginTransactionRequest, OperationResponse } from './engine-types.ts';
import { freezeRate, hasParties, loadLinkedAccounts, mergeParties, partiesFromAuthorization, partiesOf } from './parties.ts';
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
  const loaded = await loadCallAccounts(repo, tenant, parties, { requireActive: true });
  if (!loaded.ok) return loaded.response;

  for (const side of sidesOf(loaded.accounts)) {
    const items = [side.account, ...(await loadLinkedAccounts(repo, side.account))];
    for (const [n, item] of items.entries()) {
      progress.accountTag = item.account_tag;
      // insertRunning refuses a second running transaction with the same tag (a repeated begin)
      // and, with unlessSettled, one for a call already ended, rolled back or recorded (a late
      // or repeated begin must not reopen it).
      await repo.insertRunning(
        {
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
        },
        { unlessSettled: true },
      );
    }
  }
  return succeeded();
}

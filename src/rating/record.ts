// `record_transaction` (§4.9): rate a finished call in one shot. Unlike the original (§8.17)
// it sets `inbound`, debits every charged account, stores authorized / unauthorized_reason /
// timestamp_auth, treats null tags as [] and keeps the SIP status and end reason. Failed SIP
// attempts arrive with begin = end and therefore cost nothing. Repeating a record charges nothing.
import type { Micros } from '../domain/types.ts';
import type { Repository } from '../storage/storage.ts';
import { loadCallAccounts, sidesOf } from './checks.ts';
import type { OperationResponse, RecordTransactionRequest } from './engine-types.ts';
import { computeFee } from './fees.ts';
import { freezeRate, hasParties, joinTags, loadLinkedAccounts, partiesOf } from './parties.ts';
import type { RateIndex } from './rate-index.ts';
import { nothingToDo, succeeded, OperationAborted, failed, type Progress } from './responses.ts';

export async function recordCall(
  repo: Repository,
  rates: RateIndex,
  request: RecordTransactionRequest,
  times: { begin: Micros; end: Micros },
  progress: Progress,
): Promise<OperationResponse> {
  const { tenant, transaction_tag: transactionTag } = request;
  const parties = partiesOf(request);
  if (!hasParties(parties)) return nothingToDo();
  const loaded = await loadCallAccounts(repo, tenant, parties, { requireActive: true });
  if (!loaded.ok) return loaded.response;

  for (const side of sidesOf(loaded.accounts)) {
    const items = [side.account, ...(await loadLinkedAccounts(repo, side.account))];
    for (const [n, item] of items.entries()) {
      progress.accountTag = item.account_tag;
      if ((await repo.getOutcome(tenant, transactionTag, item.account_tag)) !== null) continue;
      // The inbound side has no rate: receiving a call is free.
      const rate = side.inbound ? null : freezeRate(rates.destinationRate(item, parties.destination, times.begin));
      const { fee, duration } = computeFee(rate, times.begin, times.end);
      await repo.upsert(
        'transaction',
        { key: { tenant, transaction_tag: transactionTag, account_tag: item.account_tag } },
        {
          source: parties.source,
          source_ip: parties.sourceIp,
          destination: parties.destination,
          carrier_ip: parties.carrierIp,
          tags: joinTags(request.tags, item.tags),
          authorized: request.authorized,
          unauthorized_reason: request.unauthorized_reason,
          destination_rate: rate,
          timestamp_auth: request.timestamp_auth,
          timestamp_begin: times.begin,
          timestamp_end: times.end,
          primary: n === 0,
          inbound: side.inbound,
          duration,
          fee,
          sip_status: request.sip_status ?? null,
          end_reason: request.end_reason ?? null,
        },
        { readBack: false },
      );
      if (fee !== 0 && !(await repo.addToBalance(tenant, item.account_tag, -fee))) {
        throw new OperationAborted(failed(item.account_tag, 'INTERNAL_ERROR'));
      }
      // A recorded call is settled: a running transaction left by an earlier begin would never
      // be ended (the outcome makes later ends no-ops) and would keep lowering the balance.
      await repo.deleteRunning(tenant, item.account_tag, transactionTag);
      await repo.putOutcome({ tenant, transaction_tag: transactionTag, account_tag: item.account_tag, outcome: 'recorded', at: times.end });
    }
  }
  return succeeded();
}

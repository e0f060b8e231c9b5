// The `authorization` operation (Canyan §4.3, checks in the normative order) and its
// authorization records (§4.4), written in the same storage transaction instead of by a
// low-priority asynchronous message, with source_ip and the refusal reason stored (FIX §8.14).
import type { Account, Micros, RunningTransaction, UnauthorizedReason } from '../domain/types.ts';
import type { Repository } from '../storage/storage.ts';
import type { AuthorizationRequest, AuthorizationResponse } from './engine-types.ts';
import { MAX_UNITS, maxAllowedUnits } from './fees.ts';
import { loadLinkedAccounts, partiesOf, virtualBalance } from './parties.ts';
import type { TenantRates } from './rate-cache.ts';
import { defaultAuthorization, unauthorized } from './responses.ts';
import { formatCarriers } from './carriers.ts';

interface AuthorizationSide {
  account: Account;
  inbound: boolean;
  /** request.tags + account.tags: the tags of this side's authorization record. */
  tags: string[];
}

interface Refusal {
  side: AuthorizationSide;
  accountTag: string;
  reason: UnauthorizedReason;
}

function limitReached(account: Account, running: readonly RunningTransaction[]): UnauthorizedReason | null {
  if (account.max_concurrent_transactions !== null && account.max_concurrent_transactions <= running.length) {
    return 'TOO_MANY_RUNNING_TRANSACTIONS';
  }
  if (account.max_inbound_transactions !== null && account.max_inbound_transactions <= running.filter((rt) => rt.inbound).length) {
    return 'TOO_MANY_RUNNING_INBOUND_TRANSACTIONS';
  }
  if (account.max_outbound_transactions !== null && account.max_outbound_transactions <= running.filter((rt) => !rt.inbound).length) {
    return 'TOO_MANY_RUNNING_OUTBOUND_TRANSACTIONS';
  }
  return null;
}

/** The account, its running transactions noted in `runningOf`; null when it does not exist. */
async function loadWithRunning(repo: Repository, tenant: string, tag: string, runningOf: Map<string, RunningTransaction[]>): Promise<Account | null> {
  const found = await repo.getAccountWithRunning(tenant, tag);
  if (found === null) return null;
  runningOf.set(tag, found.running);
  return found.account;
}

export async function authorize(repo: Repository, tenantRates: TenantRates, request: AuthorizationRequest, at: Micros): Promise<AuthorizationResponse> {
  const { tenant } = request;
  const rates = tenantRates.index;
  const parties = partiesOf(request);
  const { accountTag, destinationAccountTag, destination } = parties;
  if (accountTag === null && destinationAccountTag === null) return defaultAuthorization();

  // The call's own accounts come with their running transactions (one read each); linked
  // accounts are read one by one, as they are rarely there.
  const runningOf = new Map<string, RunningTransaction[]>();
  const account = accountTag === null ? null : await loadWithRunning(repo, tenant, accountTag, runningOf);
  const destinationAccount = destinationAccountTag === null ? null : await loadWithRunning(repo, tenant, destinationAccountTag, runningOf);
  // These refusals record nothing, as in the original.
  if (accountTag !== null) {
    if (account === null) return unauthorized(accountTag, 'NOT_FOUND');
    if (account.active === false) return unauthorized(accountTag, 'NOT_ACTIVE');
    // No destination at all is unreachable too (FIX §8.12).
    if (rates.destinationRate(account, destination, at) === null) return unauthorized(accountTag, 'UNREACHEABLE_DESTINATION');
  }
  if (destinationAccountTag !== null) {
    if (destinationAccount === null) return unauthorized(destinationAccountTag, 'NOT_FOUND');
    if (destinationAccount.active === false) return unauthorized(destinationAccountTag, 'NOT_ACTIVE');
  }

  const carriers = account === null ? [] : formatCarriers(tenantRates.carriers, rates.leastCostRouting(account.carrier_tags, destination, at));
  const sides: AuthorizationSide[] = [];
  if (account !== null) sides.push({ account, inbound: false, tags: [] });
  if (destinationAccount !== null) sides.push({ account: destinationAccount, inbound: true, tags: [] });

  let maxUnits = MAX_UNITS;
  // The original reports the virtual balance of the last account evaluated (§8.13, kept).
  let balance = 0;
  let refusal: Refusal | null = null;
  for (const side of sides) {
    side.tags.push(...(request.tags ?? []), ...(side.account.tags ?? []));
    if (refusal !== null) continue;
    for (const item of [side.account, ...(await loadLinkedAccounts(repo, side.account))]) {
      const running = runningOf.get(item.account_tag) ?? (await repo.listRunning(tenant, item.account_tag));
      balance = virtualBalance(item, running, at);
      const limit = limitReached(item, running);
      if (limit !== null) {
        refusal = { side, accountTag: item.account_tag, reason: limit };
        break;
      }
      if (!side.inbound && item.type === 'PREPAID') {
        const allowed = maxAllowedUnits(balance, rates.destinationRate(item, destination, at));
        maxUnits = Math.min(maxUnits, allowed.units);
        if (!allowed.authorized) {
          refusal = { side, accountTag: item.account_tag, reason: 'BALANCE_INSUFFICIENT' };
          break;
        }
      }
    }
  }

  const response: AuthorizationResponse =
    refusal === null
      ? {
          authorized: account !== null,
          authorized_destination: destinationAccount !== null,
          unauthorized_account_tag: null,
          unauthorized_reason: null,
          balance,
          carriers,
          max_available_units: maxUnits,
        }
      : unauthorized(refusal.accountTag, refusal.reason);

  for (const side of sides) {
    await repo.upsert(
      'transaction',
      { key: { tenant, transaction_tag: request.transaction_tag, account_tag: side.account.account_tag } },
      {
        source: parties.source,
        source_ip: parties.sourceIp,
        destination,
        carrier_ip: parties.carrierIp,
        tags: side.tags,
        timestamp_auth: at,
        authorized: side.inbound ? response.authorized_destination : response.authorized,
        // The reason goes on the side that was refused (also when one of its linked accounts failed).
        unauthorized_reason: refusal !== null && refusal.side === side ? refusal.reason : null,
        primary: true,
        inbound: side.inbound,
      },
      { readBack: false },
    );
  }
  return response;
}

// The accounts taking part in a call, and the call details shared by the engine's operations:
// tag normalisation, account and linked-account loading, frozen rates, and restoring the
// parties of a call that is named only by its transaction tag (FIX §8.3: both sides,
// deterministically).
import type { Account, FrozenRate, Micros, PricelistRate, RunningTransaction } from '../domain/types.ts';
import type { Repository } from '../storage/storage.ts';
import { computeFee } from './fees.ts';

/** Empty-string tags mean "absent", as in the original (the HEP agent sends "" for a missing side). */
export function presentTag(tag: string | null | undefined): string | null {
  return tag === undefined || tag === null || tag === '' ? null : tag;
}

export interface CallParties {
  accountTag: string | null;
  destinationAccountTag: string | null;
  source: string | null;
  sourceIp: string | null;
  destination: string | null;
  carrierIp: string | null;
}

export interface PartiesRequest {
  account_tag: string | null;
  destination_account_tag: string | null;
  source?: string | null;
  source_ip?: string | null;
  destination?: string | null;
  carrier_ip?: string | null;
}

export function partiesOf(request: PartiesRequest): CallParties {
  return {
    accountTag: presentTag(request.account_tag),
    destinationAccountTag: presentTag(request.destination_account_tag),
    source: request.source ?? null,
    sourceIp: request.source_ip ?? null,
    destination: request.destination ?? null,
    carrierIp: request.carrier_ip ?? null,
  };
}

export function hasParties(parties: CallParties): boolean {
  return parties.accountTag !== null || parties.destinationAccountTag !== null;
}

export function loadAccount(repo: Repository, tenant: string, accountTag: string): Promise<Account | null> {
  return repo.get('account', { key: { tenant, account_tag: accountTag } });
}

/**
 * Lets the storage read the call's accounts (with their running transaction of the call, unless
 * `transactionTag` is null) at once, when it can: the reads that follow are then answered
 * without a round trip each.
 */
export async function preloadParties(repo: Repository, tenant: string, parties: CallParties, transactionTag: string | null): Promise<void> {
  if (repo.preloadAccounts === undefined) return;
  const tags = partyTags(parties);
  if (tags.length > 0) await repo.preloadAccounts(tenant, tags, transactionTag);
}

/** The call's account tags, caller first, each once. */
export function partyTags(parties: CallParties): string[] {
  const tags: string[] = [];
  if (parties.accountTag !== null) tags.push(parties.accountTag);
  if (parties.destinationAccountTag !== null && parties.destinationAccountTag !== parties.accountTag) tags.push(parties.destinationAccountTag);
  return tags;
}

/** The account's linked accounts in the order listed; missing ones, duplicates and itself are dropped. */
export async function loadLinkedAccounts(repo: Repository, account: Account): Promise<Account[]> {
  const linked: Account[] = [];
  const seen = new Set<string>([account.account_tag]);
  for (const tag of account.linked_accounts ?? []) {
    if (tag === '' || seen.has(tag)) continue;
    seen.add(tag);
    const found = await loadAccount(repo, account.tenant, tag);
    if (found !== null) linked.push(found);
  }
  return linked;
}

/** The copy of a rate stored with a running transaction; numeric fields default to 0 as in the original. */
export function freezeRate(rate: PricelistRate | null): FrozenRate | null {
  if (rate === null) return null;
  return {
    pricelist_tag: rate.pricelist_tag,
    carrier_tag: rate.carrier_tag,
    prefix: rate.prefix,
    description: rate.description,
    datetime_start: rate.datetime_start,
    datetime_end: rate.datetime_end,
    connect_fee: rate.connect_fee ?? 0,
    rate: rate.rate ?? 0,
    rate_increment: rate.rate_increment ?? 0,
    interval_start: rate.interval_start ?? 0,
  };
}

/**
 * Balance minus what the account's running calls cost so far (§2.11). Calls still in progress
 * are rated up to `at`, the authorization time (FIX §8.11), not the engine's clock.
 */
export function virtualBalance(account: Account, running: readonly RunningTransaction[], at: Micros): number {
  let balance = account.balance;
  for (const rt of running) balance -= computeFee(rt.destination_rate, rt.timestamp_begin, rt.timestamp_end ?? at).fee;
  return balance;
}

/** Concatenation of tag lists where null counts as empty (FIX §8.17). */
export function joinTags(first: readonly string[] | null, second: readonly string[] | null): string[] {
  return [...(first ?? []), ...(second ?? [])];
}

interface PrimaryRecord {
  account_tag: string;
  inbound: boolean;
  source: string | null;
  source_ip: string | null;
  destination: string | null;
  carrier_ip: string | null;
}

/** Both sides from the primary records of a call: the first outbound one is the caller, the first inbound one the callee. */
function partiesFromRecords(records: readonly PrimaryRecord[]): CallParties | null {
  const caller = records.find((record) => !record.inbound) ?? null;
  const callee = records.find((record) => record.inbound) ?? null;
  const details = caller ?? callee;
  if (details === null) return null;
  return {
    accountTag: presentTag(caller?.account_tag),
    destinationAccountTag: presentTag(callee?.account_tag),
    source: details.source,
    sourceIp: details.source_ip,
    destination: details.destination,
    carrierIp: details.carrier_ip,
  };
}

/** The parties recorded by the call's authorization (its primary transaction records). */
export async function partiesFromAuthorization(repo: Repository, tenant: string, transactionTag: string): Promise<CallParties | null> {
  const records = await repo.list('transaction', {
    filter: [
      { kind: 'eq', field: 'tenant', value: tenant },
      { kind: 'eq', field: 'transaction_tag', value: transactionTag },
      { kind: 'eq', field: 'primary', value: true },
    ],
    sortField: null,
    ascending: true,
    offset: 0,
    limit: null,
  });
  return partiesFromRecords(records);
}

/** The parties of a call in progress (its primary running transactions). */
export async function partiesFromRunning(repo: Repository, tenant: string, transactionTag: string): Promise<CallParties | null> {
  const running = await repo.findRunningByTransaction(tenant, transactionTag);
  return partiesFromRecords(running.filter((rt) => rt.primary));
}

/** Request values win; restored ones fill the gaps. */
export function mergeParties(request: CallParties, restored: CallParties): CallParties {
  return {
    accountTag: restored.accountTag,
    destinationAccountTag: restored.destinationAccountTag,
    source: request.source ?? restored.source,
    sourceIp: request.sourceIp ?? restored.sourceIp,
    destination: request.destination ?? restored.destination,
    carrierIp: request.carrierIp ?? restored.carrierIp,
  };
}

// Loading a call's two accounts, with the existence and activity checks shared by begin, end
// and record (§4.5, §4.6, §4.9): the caller is checked first, then the destination account.
import type { Account } from '../domain/types.ts';
import type { Repository } from '../storage/storage.ts';
import type { OperationResponse } from './engine-types.ts';
import { type CallParties, loadAccount } from './parties.ts';
import { failed } from './responses.ts';

export interface CallAccounts {
  account: Account | null;
  destinationAccount: Account | null;
}

export type LoadedAccounts = { ok: true; accounts: CallAccounts } | { ok: false; response: OperationResponse };

export async function loadCallAccounts(
  repo: Repository,
  tenant: string,
  parties: CallParties,
  options: { requireActive: boolean },
): Promise<LoadedAccounts> {
  const found: Array<Account | null> = [];
  for (const tag of [parties.accountTag, parties.destinationAccountTag]) {
    if (tag === null) {
      found.push(null);
      continue;
    }
    const account = await loadAccount(repo, tenant, tag);
    if (account === null) return { ok: false, response: failed(tag, 'NOT_FOUND') };
    if (options.requireActive && account.active === false) return { ok: false, response: failed(tag, 'NOT_ACTIVE') };
    found.push(account);
  }
  return { ok: true, accounts: { account: found[0], destinationAccount: found[1] } };
}

/** The call's sides in processing order: caller (outbound) first, then the destination (inbound). */
export function sidesOf(accounts: CallAccounts): Array<{ account: Account; inbound: boolean }> {
  const sides: Array<{ account: Account; inbound: boolean }> = [];
  if (accounts.account !== null) sides.push({ account: accounts.account, inbound: false });
  if (accounts.destinationAccount !== null) sides.push({ account: accounts.destinationAccount, inbound: true });
  return sides;
}

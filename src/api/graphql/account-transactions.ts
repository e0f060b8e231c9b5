// Running-transaction and balance operations on accounts (Canyan §3.6), each in one storage
// transaction, plus the AccountTransaction getter.
import type { RunningTransaction } from '../../domain/types.ts';
import { argBoolean, argNumber, argObject, argString, argStringList, type Args } from './args.ts';
import { inTransaction, type GraphqlDeps } from './deps.ts';
import type { RootResolver } from './entity-resolvers.ts';
import { UserInputError } from './errors.ts';
import { frozenRateFromInput } from './writes.ts';

function tenantOf(args: Args): string {
  return argString(args, 'tenant') ?? 'default';
}

function requiredString(args: Args, name: string): string {
  const value = argString(args, name);
  if (value === null) throw new UserInputError(`${name} is required`);
  return value;
}

function requiredAmount(args: Args, name: string): number {
  const value = argNumber(args, name);
  if (value === null) throw new UserInputError(`${name} is required`);
  return value;
}

function runningFromInput(tenant: string, accountTag: string, input: Args): RunningTransaction {
  const rate = argObject(input, 'destination_rate');
  const timestampBegin = argNumber(input, 'timestamp_begin');
  if (timestampBegin === null) throw new UserInputError('transaction.timestamp_begin is required');
  return {
    tenant,
    account_tag: accountTag,
    transaction_tag: requiredString(input, 'transaction_tag'),
    proxy_tag: argString(input, 'proxy_tag'),
    source: argString(input, 'source'),
    source_ip: argString(input, 'source_ip'),
    destination: argString(input, 'destination'),
    carrier_ip: argString(input, 'carrier_ip'),
    tags: argStringList(input, 'tags'),
    destination_rate: rate === null ? null : frozenRateFromInput(rate),
    in_progress: true,
    inbound: argBoolean(input, 'inbound') === true,
    primary: argBoolean(input, 'primary') === true,
    timestamp_begin: timestampBegin,
    // Canyan stores the begin's timestamp_end as null whatever is passed.
    timestamp_end: null,
  };
}

export function accountTransactionQueries(deps: GraphqlDeps): Record<string, RootResolver> {
  return {
    AccountTransaction: (_parent, args) => {
      const accountTag = argString(args, 'account_tag');
      const transactionTag = argString(args, 'transaction_tag');
      if (accountTag === null || transactionTag === null) return null;
      return inTransaction(deps, async (repo) => {
        const running = await repo.listRunning(tenantOf(args), accountTag);
        return running.find((rt) => rt.transaction_tag === transactionTag) ?? null;
      });
    },
  };
}

export function accountTransactionMutations(deps: GraphqlDeps): Record<string, RootResolver> {
  const adjust = (mode: 'set' | 'increment'): RootResolver => (_parent, args) => {
    const amount = requiredAmount(args, 'balance');
    return inTransaction(deps, async (repo) => {
      const matched = await repo.adjustBalances(tenantOf(args), argString(args, 'account_tag'), argStringList(args, 'tags'), mode, amount);
      return { ok: matched > 0 };
    });
  };

  return {
    beginAccountTransaction: (_parent, args) => {
      const tenant = tenantOf(args);
      const accountTag = requiredString(args, 'account_tag');
      const input = argObject(args, 'transaction');
      if (input === null) throw new UserInputError('transaction is required');
      const running = runningFromInput(tenant, accountTag, input);
      return inTransaction(deps, async (repo) => {
        const account = await repo.get('account', { key: { tenant, account_tag: accountTag } });
        // An unknown account answers {ok: null, transaction: null}, as in Canyan.
        if (account === null) return { ok: null, transaction: null };
        if (!(await repo.insertRunning(running))) {
          throw new UserInputError(
            `Account ${accountTag} in tenant ${tenant} already has a running transaction with tag ${running.transaction_tag}!`,
          );
        }
        // Canyan returns the first running transaction; we return the one just added (§8.23).
        const stored = await repo.listRunning(tenant, accountTag);
        return { ok: true, transaction: stored.find((rt) => rt.transaction_tag === running.transaction_tag) ?? running };
      });
    },
    endAccountTransaction: (_parent, args) => {
      const tenant = tenantOf(args);
      const accountTag = requiredString(args, 'account_tag');
      const transactionTag = requiredString(args, 'transaction_tag');
      // Without an explicit end the call ends now (Canyan would store a null end).
      const timestampEnd = argNumber(args, 'timestamp_end') ?? deps.clock();
      return inTransaction(deps, async (repo) => {
        const ended = await repo.endRunning(tenant, accountTag, transactionTag, timestampEnd);
        return ended === null ? { ok: null, transaction: null } : { ok: true, transaction: ended };
      });
    },
    commitAccountTransaction: (_parent, args) => {
      const tenant = tenantOf(args);
      const accountTag = requiredString(args, 'account_tag');
      const transactionTag = requiredString(args, 'transaction_tag');
      const fee = requiredAmount(args, 'fee');
      return inTransaction(deps, async (repo) => {
        const removed = await repo.deleteRunning(tenant, accountTag, transactionTag);
        if (removed === 0) return { ok: false };
        await repo.addToBalance(tenant, accountTag, -fee);
        return { ok: true };
      });
    },
    rollbackAccountTransaction: (_parent, args) => {
      const tenant = tenantOf(args);
      const accountTag = requiredString(args, 'account_tag');
      const transactionTag = requiredString(args, 'transaction_tag');
      return inTransaction(deps, async (repo) => ({ ok: (await repo.deleteRunning(tenant, accountTag, transactionTag)) > 0 }));
    },
    setAccountBalance: adjust('set'),
    incrementAccountBalance: adjust('increment'),
  };
}

// Resolvers of computed fields: references between entities, running transactions, linked
// accounts, destination rate and least-cost routing. A reference to a deleted record resolves
// to null instead of failing the whole response (a fix of Canyan §8.28).
import type { Account, Invoice, RunningTransaction, Transaction } from '../../domain/types.ts';
import { argString, type Args } from './args.ts';
import { inTransaction, type GraphqlDeps } from './deps.ts';
import { destinationRate, leastCostCarriers } from './rates.ts';
import { frozenRateView, type RateView } from './views.ts';

function accountFields(deps: GraphqlDeps) {
  return {
    customer: (account: Account) =>
      account.customer_tag === null
        ? null
        : inTransaction(deps, (repo) =>
            repo.get('customer', { key: { tenant: account.tenant, customer_tag: account.customer_tag ?? '' } }),
          ),
    running_transactions: (account: Account) =>
      inTransaction(deps, (repo) => repo.listRunning(account.tenant, account.account_tag)),
    destination_rate: (account: Account, args: Args) =>
      inTransaction(deps, (repo) => destinationRate(deps, repo, account.tenant, account, argString(args, 'destination'))),
  };
}

export function fieldResolvers(deps: GraphqlDeps) {
  const account = accountFields(deps);
  return {
    Account: {
      ...account,
      // Canyan returns the customer's id here (§8.22); we return the stored tag.
      customer_tag: (record: Account) => record.customer_tag,
      linked_accounts: (record: Account) => {
        const tags = record.linked_accounts ?? [];
        if (tags.length === 0) return [];
        // Missing tags drop out; the order is the storage's, not the list's (as in Canyan).
        return inTransaction(deps, (repo) =>
          repo.list('account', {
            filter: [
              { kind: 'eq', field: 'tenant', value: record.tenant },
              { kind: 'in', field: 'account_tag', values: tags },
            ],
            sortField: null,
            ascending: true,
            offset: 0,
            limit: null,
          }),
        );
      },
      least_cost_routing: (record: Account, args: Args) =>
        inTransaction(deps, (repo) =>
          leastCostCarriers(deps, repo, record.tenant, record.carrier_tags, argString(args, 'destination')),
        ),
    },
    LinkedAccount: {
      ...account,
      // Canyan never shows these for linked accounts.
      id: () => null,
      customer: () => null,
      customer_tag: () => null,
    },
    AccountTransaction: {
      destination_rate: (rt: RunningTransaction) => frozenRateView(rt.tenant, rt.destination_rate),
    },
    Transaction: {
      account: (tx: Transaction) =>
        inTransaction(deps, (repo) => repo.get('account', { key: { tenant: tx.tenant, account_tag: tx.account_tag } })),
      invoice: (tx: Transaction) =>
        tx.invoice_number === null
          ? null
          : inTransaction(deps, (repo) =>
              repo.get('invoice', { key: { tenant: tx.tenant, invoice_number: tx.invoice_number ?? '' } }),
            ),
      destination_rate: (tx: Transaction) => frozenRateView(tx.tenant, tx.destination_rate),
    },
    PricelistRate: {
      pricelist_id: async (rate: RateView) => {
        if (rate.pricelist_tag === null) return null;
        const pricelist = await inTransaction(deps, (repo) =>
          repo.get('pricelist', { key: { tenant: rate.tenant, pricelist_tag: rate.pricelist_tag ?? '' } }),
        );
        return pricelist?.id ?? null;
      },
      carrier_id: async (rate: RateView) => {
        if (rate.carrier_tag === null) return null;
        const carrier = await inTransaction(deps, (repo) =>
          repo.get('carrier', { key: { tenant: rate.tenant, carrier_tag: rate.carrier_tag ?? '' } }),
        );
        return carrier?.id ?? null;
      },
    },
    Invoice: {
      customer: (invoice: Invoice) =>
        invoice.customer_tag === null
          ? null
          : inTransaction(deps, (repo) =>
              repo.get('customer', { key: { tenant: invoice.tenant, customer_tag: invoice.customer_tag ?? '' } }),
            ),
    },
  };
}

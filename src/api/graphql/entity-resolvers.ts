// Root getters, lists and create/update/upsert/delete mutations of the eight entities.
import type { EntityName } from '../../domain/types.ts';
import type { Args } from './args.ts';
import { inTransaction, type GraphqlDeps } from './deps.ts';
import { buildConditions, buildListQuery } from './lists.ts';
import { deleteEntity, getEntity, upsertEntity } from './writes.ts';

export type RootResolver = (parent: unknown, args: Args) => Promise<unknown> | unknown;

/** GraphQL names of each entity: the singular type name and the plural used by `allX`. */
export const ENTITY_NAMES: readonly { entity: EntityName; type: string; plural: string }[] = [
  { entity: 'carrier', type: 'Carrier', plural: 'Carriers' },
  { entity: 'customer', type: 'Customer', plural: 'Customers' },
  { entity: 'seller', type: 'Seller', plural: 'Sellers' },
  { entity: 'invoice', type: 'Invoice', plural: 'Invoices' },
  { entity: 'pricelist', type: 'Pricelist', plural: 'Pricelists' },
  { entity: 'pricelist_rate', type: 'PricelistRate', plural: 'PricelistRates' },
  { entity: 'account', type: 'Account', plural: 'Accounts' },
  { entity: 'transaction', type: 'Transaction', plural: 'Transactions' },
];

export function entityQueries(deps: GraphqlDeps): Record<string, RootResolver> {
  const resolvers: Record<string, RootResolver> = {};
  for (const { entity, type, plural } of ENTITY_NAMES) {
    resolvers[type] = (_parent, args) => inTransaction(deps, (repo) => getEntity(repo, entity, args));
    resolvers[`all${plural}`] = (_parent, args) =>
      inTransaction(deps, async (repo) => repo.list(entity, await buildListQuery(entity, args, { repo, now: deps.clock() })));
    // The count ignores page and perPage.
    resolvers[`_all${plural}Meta`] = (_parent, args) =>
      inTransaction(deps, async (repo) => ({
        count: await repo.count(entity, await buildConditions(entity, args, { repo, now: deps.clock() })),
      }));
  }
  return resolvers;
}

export function entityMutations(deps: GraphqlDeps): Record<string, RootResolver> {
  const resolvers: Record<string, RootResolver> = {};
  for (const { entity, type } of ENTITY_NAMES) {
    // Canyan's create, update and upsert are one operation under three names.
    const write: RootResolver = (_parent, args) => inTransaction(deps, (repo) => upsertEntity(repo, entity, args));
    resolvers[`create${type}`] = write;
    resolvers[`update${type}`] = write;
    resolvers[`upsert${type}`] = write;
    resolvers[`delete${type}`] = (_parent, args) => inTransaction(deps, (repo) => deleteEntity(repo, entity, args));
  }
  return resolvers;
}

// `allX` / `_allXMeta` arguments: paging, sorting and each entity's filter, translated into a
// storage ListQuery (Canyan §3.3).
import type { EntityName, Micros } from '../../domain/types.ts';
import type { Condition, ListQuery, Repository } from '../../storage/storage.ts';
import { argBoolean, argNumber, argObject, argString, argStringList, truthy, type Args } from './args.ts';
import { UserInputError } from './errors.ts';

const DEFAULT_PER_PAGE = 25;
/** Canyan's fixed threshold for "long running" transactions. */
export const LONG_RUNNING_MICROS = 3 * 3600 * 1_000_000;

export interface FilterContext {
  repo: Repository;
  now: Micros;
}

type FilterBuilder = (filter: Args, context: FilterContext) => Promise<Condition[]>;

function eq(field: string, value: string | number | boolean): Condition {
  return { kind: 'eq', field, value };
}

/** Conditions shared by every filter: tenant, q, exact fields, and id/ids. */
function common(
  filter: Args,
  options: { qFields: readonly string[]; exact: readonly string[]; idWinsOverIds: boolean },
): Condition[] {
  const conditions: Condition[] = [];
  const tenant = argString(filter, 'tenant');
  if (tenant !== null && truthy(tenant)) conditions.push(eq('tenant', tenant));
  const q = argString(filter, 'q');
  if (q !== null && truthy(q)) conditions.push({ kind: 'contains', fields: options.qFields, text: q });
  const id = argString(filter, 'id');
  const ids = argStringList(filter, 'ids');
  if (id !== null && truthy(id)) conditions.push(eq('id', id));
  if (ids !== null && truthy(ids) && !(options.idWinsOverIds && id !== null && truthy(id))) {
    conditions.push({ kind: 'in', field: 'id', values: ids });
  }
  for (const field of options.exact) {
    const value = argString(filter, field);
    if (value !== null && truthy(value)) conditions.push(eq(field, value));
  }
  return conditions;
}

const simple =
  (qFields: readonly string[], exact: readonly string[], idWinsOverIds = false): FilterBuilder =>
  async (filter) =>
    common(filter, { qFields, exact, idWinsOverIds });

const party = ['company_name', 'tax_number', 'vat_number'];

async function invoiceFilter(filter: Args): Promise<Condition[]> {
  // customer_tag is accepted and ignored, as in Canyan.
  const conditions = common(filter, { qFields: ['tenant', 'invoice_number'], exact: ['invoice_number'], idWinsOverIds: false });
  const date = argNumber(filter, 'invoice_date');
  if (date !== null) conditions.push(eq('invoice_date', date));
  return conditions;
}

async function pricelistRateFilter(filter: Args, { repo }: FilterContext): Promise<Condition[]> {
  const conditions = common(filter, { qFields: ['pricelist_tag', 'prefix', 'description'], exact: ['prefix'], idWinsOverIds: false });
  const carrierTag = argString(filter, 'carrier_tag');
  const carrierId = argString(filter, 'carrier_id');
  if (carrierTag !== null && truthy(carrierTag)) conditions.push(eq('carrier_tag', carrierTag));
  else if (carrierId !== null && truthy(carrierId)) {
    const carrier = await repo.get('carrier', { id: carrierId });
    if (carrier !== null) conditions.push(eq('tenant', carrier.tenant), eq('carrier_tag', carrier.carrier_tag));
  }
  const pricelistTag = argString(filter, 'pricelist_tag');
  const pricelistId = argString(filter, 'pricelist_id');
  if (pricelistTag !== null && truthy(pricelistTag)) conditions.push(eq('pricelist_tag', pricelistTag));
  else if (pricelistId !== null && truthy(pricelistId)) {
    const pricelist = await repo.get('pricelist', { id: pricelistId });
    if (pricelist !== null) conditions.push(eq('tenant', pricelist.tenant), eq('pricelist_tag', pricelist.pricelist_tag));
  }
  // Canyan applies `active` only when true.
  if (argBoolean(filter, 'active') === true) conditions.push(eq('active', true));
  return conditions;
}

async function accountFilter(filter: Args, { now }: FilterContext): Promise<Condition[]> {
  // customer_tag is accepted and ignored, as in Canyan.
  const conditions = common(filter, { qFields: ['tenant', 'account_tag', 'name'], exact: ['account_tag', 'type'], idWinsOverIds: false });
  if (argBoolean(filter, 'active') === true) conditions.push(eq('active', true));
  if (argBoolean(filter, 'with_running_transactions') === true) {
    conditions.push({ kind: 'runningTransaction', outboundOnly: true, begunAtOrBefore: null });
  }
  if (argBoolean(filter, 'with_long_running_transactions') === true) {
    conditions.push({ kind: 'runningTransaction', outboundOnly: false, begunAtOrBefore: now - LONG_RUNNING_MICROS });
  }
  return conditions;
}

async function transactionFilter(filter: Args): Promise<Condition[]> {
  const conditions = common(filter, {
    qFields: ['tenant', 'transaction_tag', 'account_tag'],
    exact: ['transaction_tag', 'account_tag', 'invoice_number'],
    idWinsOverIds: true,
  });
  // Unlike the other flags these apply whenever given, so `false` selects too.
  for (const flag of ['primary', 'inbound']) {
    const value = argBoolean(filter, flag);
    if (value !== null) conditions.push(eq(flag, value));
  }
  return conditions;
}

const FILTERS: Readonly<Record<EntityName, FilterBuilder>> = {
  carrier: simple(['tenant', 'carrier_tag', 'host'], ['carrier_tag']),
  customer: simple(['tenant', 'customer_tag', ...party], ['customer_tag']),
  seller: simple(['tenant', 'seller_tag', ...party], ['seller_tag']),
  invoice: invoiceFilter,
  pricelist: simple(['tenant', 'pricelist_tag', 'name'], ['pricelist_tag'], true),
  pricelist_rate: pricelistRateFilter,
  account: accountFilter,
  transaction: transactionFilter,
};

/** No filter object means every tenant; a filter object brings its own tenant default. */
export async function buildConditions(entity: EntityName, args: Args, context: FilterContext): Promise<Condition[]> {
  const filter = argObject(args, 'filter');
  if (filter === null) return [];
  return FILTERS[entity](filter, context);
}

function nonNegativeInteger(args: Args, name: string, fallback: number): number {
  const value = argNumber(args, name) ?? fallback;
  if (value < 0) throw new UserInputError(`${name} must not be negative (got ${value})`);
  return value;
}

export async function buildListQuery(entity: EntityName, args: Args, context: FilterContext): Promise<ListQuery> {
  const page = nonNegativeInteger(args, 'page', 0);
  const perPage = nonNegativeInteger(args, 'perPage', DEFAULT_PER_PAGE);
  const sortOrder = argString(args, 'sortOrder') ?? 'asc';
  return {
    filter: await buildConditions(entity, args, context),
    sortField: argString(args, 'sortField') ?? 'id',
    // Canyan: "asc" in any case sorts ascending, anything else descending.
    ascending: sortOrder.toLowerCase() === 'asc',
    // perPage 0 means no limit (MongoDB's semantics).
    offset: page * perPage,
    limit: perPage === 0 ? null : perPage,
  };
}

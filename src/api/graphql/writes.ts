// create/update/upsert/delete of the eight entities (Canyan §3.5): one operation under three
// names. Find by id or natural key, insert when missing, then write every argument that is not
// null. Deliberate fixes: an update keeps the stored tenant when `tenant` is not passed, and
// `active` (or a transaction's primary/inbound) gets its default only when inserting.
import { ENTITIES } from '../../domain/entities.ts';
import type { EntityMap, EntityName, FrozenRate, InvoiceRow } from '../../domain/types.ts';
import type { EntityRef, Repository } from '../../storage/storage.ts';
import {
  argNumber,
  argObject,
  argObjectList,
  argString,
  requireNonNegative,
  requirePositive,
  shown,
  truthy,
  type Args,
} from './args.ts';
import { UserInputError } from './errors.ts';
import { KEY_FIELDS, keyErrorMessage, naturalKey, refFromArgs } from './keys.ts';

type Fields = Record<string, unknown>;

interface ResolveContext {
  repo: Repository;
  args: Args;
  /** The tenant references are looked up in: the argument, else the stored record's, else "default". */
  tenant: string;
  fields: Fields;
}

interface EntityWriteRules {
  /** Whether the arguments name a record when no id is given (Canyan's key rule). */
  hasKey(args: Args): boolean;
  /** Looks up references, failing with Canyan's messages, and rewrites fields they imply. */
  resolve?(context: ResolveContext): Promise<void>;
  /** Defaults applied only when a new record is inserted. */
  insertDefaults?: Fields;
  /** Fields a new record cannot do without, besides its natural key. */
  requiredOnInsert?: readonly string[];
  validate?(fields: Fields): void;
}

function numberField(fields: Fields, name: string): number | null {
  const value = fields[name];
  return typeof value === 'number' ? value : null;
}

function stringField(fields: Fields, name: string): string | null {
  const value = fields[name];
  return typeof value === 'string' ? value : null;
}

function validateRateNumbers(label: string, fields: Fields, increment: 'positive' | 'zero means one'): void {
  requireNonNegative(`${label}connect_fee`, numberField(fields, 'connect_fee'));
  requireNonNegative(`${label}rate`, numberField(fields, 'rate'));
  requireNonNegative(`${label}interval_start`, numberField(fields, 'interval_start'));
  if (increment === 'positive') requirePositive(`${label}rate_increment`, numberField(fields, 'rate_increment'));
  else requireNonNegative(`${label}rate_increment`, numberField(fields, 'rate_increment'));
}

export function frozenRateFromInput(input: Args): FrozenRate {
  const rate: FrozenRate = {
    pricelist_tag: argString(input, 'pricelist_tag'),
    carrier_tag: argString(input, 'carrier_tag'),
    prefix: argString(input, 'prefix'),
    description: argString(input, 'description'),
    datetime_start: argNumber(input, 'datetime_start'),
    datetime_end: argNumber(input, 'datetime_end'),
    connect_fee: argNumber(input, 'connect_fee'),
    rate: argNumber(input, 'rate'),
    rate_increment: argNumber(input, 'rate_increment'),
    interval_start: argNumber(input, 'interval_start'),
  };
  // Canyan's engine sends a missing increment as 0 in frozen copies (the rater reads 0 as 1),
  // so a copy accepts 0 where a price-list rate does not.
  validateRateNumbers('destination_rate.', { ...rate }, 'zero means one');
  return rate;
}

function invoiceRowFromInput(input: Args): InvoiceRow {
  return {
    prefix: argString(input, 'prefix'),
    description: argString(input, 'description'),
    unit_price: argNumber(input, 'unit_price'),
    quantity: argNumber(input, 'quantity'),
    total: argNumber(input, 'total'),
  };
}

const byNaturalKey =
  (entity: EntityName) =>
  (args: Args): boolean =>
    naturalKey(entity, argString(args, 'tenant'), args) !== null;

async function requireCustomer(context: ResolveContext, message: (tag: string) => string): Promise<void> {
  const tag = stringField(context.fields, 'customer_tag');
  if (tag === null) return;
  const customer = await context.repo.get('customer', { key: { tenant: context.tenant, customer_tag: tag } });
  if (customer === null) throw new UserInputError(message(tag));
}

const RULES: Readonly<Record<EntityName, EntityWriteRules>> = {
  carrier: {
    hasKey: byNaturalKey('carrier'),
    insertDefaults: { active: true },
    validate(fields) {
      const port = numberField(fields, 'port');
      if (port !== null && (port < 0 || port > 65535)) throw new UserInputError(`port must be between 0 and 65535 (got ${port})`);
    },
  },
  customer: { hasKey: byNaturalKey('customer'), insertDefaults: { active: true } },
  seller: { hasKey: byNaturalKey('seller'), insertDefaults: { active: true } },
  invoice: {
    hasKey: byNaturalKey('invoice'),
    requiredOnInsert: ['invoice_date'],
    async resolve(context) {
      await requireCustomer(context, (tag) => `Customer with id = ${tag} not found in tenant ${context.tenant}!`);
      const rows = argObjectList(context.args, 'rows');
      if (rows !== null) context.fields.rows = rows.map(invoiceRowFromInput);
    },
  },
  pricelist: { hasKey: byNaturalKey('pricelist') },
  pricelist_rate: {
    hasKey(args) {
      const given = (name: string): boolean => truthy(args[name]);
      const tenant = argString(args, 'tenant') ?? 'default';
      return (
        (truthy(tenant) || given('pricelist_id')) &&
        (given('pricelist_tag') || given('pricelist_id')) &&
        (given('carrier_tag') || given('carrier_id')) &&
        given('prefix')
      );
    },
    insertDefaults: { active: true },
    async resolve({ repo, args, tenant, fields }) {
      const pricelistId = argString(args, 'pricelist_id');
      const pricelistTag = argString(args, 'pricelist_tag');
      let rateTenant = tenant;
      if (truthy(pricelistId) || truthy(pricelistTag)) {
        const pricelist =
          pricelistId !== null && truthy(pricelistId)
            ? await repo.get('pricelist', { id: pricelistId })
            : await repo.get('pricelist', { key: { tenant, pricelist_tag: pricelistTag ?? '' } });
        if (pricelist === null) {
          throw new UserInputError(
            `Price list with id = ${shown(pricelistId)} and tag = ${shown(pricelistTag)} not found in tenant ${tenant}!`,
          );
        }
        // A resolved pricelist decides the rate's tenant and pricelist tag.
        rateTenant = pricelist.tenant;
        fields.tenant = pricelist.tenant;
        fields.pricelist_tag = pricelist.pricelist_tag;
      }
      const carrierId = argString(args, 'carrier_id');
      const carrierTag = argString(args, 'carrier_tag');
      if (truthy(carrierId) || truthy(carrierTag)) {
        const carrier =
          carrierId !== null && truthy(carrierId)
            ? await repo.get('carrier', { id: carrierId })
            : await repo.get('carrier', { key: { tenant: rateTenant, carrier_tag: carrierTag ?? '' } });
        if (carrier === null) {
          throw new UserInputError(
            `Carrier with id = ${shown(carrierId)} and tag = ${shown(carrierTag)} not found in tenant ${rateTenant}!`,
          );
        }
        fields.carrier_tag = carrier.carrier_tag;
      }
    },
    validate: (fields) => validateRateNumbers('', fields, 'positive'),
  },
  account: {
    hasKey: byNaturalKey('account'),
    insertDefaults: { active: true, balance: 0 },
    async resolve(context) {
      await requireCustomer(context, (tag) => `Customer with tag = ${tag} not found in tenant ${context.tenant}!`);
    },
    validate(fields) {
      for (const limit of ['max_concurrent_transactions', 'max_inbound_transactions', 'max_outbound_transactions']) {
        requireNonNegative(limit, numberField(fields, limit));
      }
    },
  },
  transaction: {
    hasKey: byNaturalKey('transaction'),
    insertDefaults: { primary: false, inbound: false },
    async resolve({ repo, args, tenant, fields }) {
      const accountTag = stringField(fields, 'account_tag');
      if (accountTag !== null) {
        const account = await repo.get('account', { key: { tenant, account_tag: accountTag } });
        if (account === null) throw new UserInputError(`Account with id = ${accountTag} not found in tenant ${tenant}!`);
      }
      const invoiceNumber = stringField(fields, 'invoice_number');
      if (invoiceNumber !== null) {
        const invoice = await repo.get('invoice', { key: { tenant, invoice_number: invoiceNumber } });
        if (invoice === null) throw new UserInputError(`Invoice with number = ${invoiceNumber} not found in tenant ${tenant}!`);
      }
      const rate = argObject(args, 'destination_rate');
      if (rate !== null) fields.destination_rate = frozenRateFromInput(rate);
    },
    validate(fields) {
      requireNonNegative('duration', numberField(fields, 'duration'));
    },
  },
};

/** Arguments that are stored fields of the entity and not null (upserts never unset). */
function givenFields(entity: EntityName, args: Args): Fields {
  const fields: Fields = {};
  for (const name of Object.keys(ENTITIES[entity].fields)) {
    if (name === 'id' || name === 'tenant') continue;
    const value = args[name];
    if (value !== null && value !== undefined) fields[name] = value;
  }
  return fields;
}

function missingOnInsert(entity: EntityName, fields: Fields, rules: EntityWriteRules): string[] {
  const required = ['tenant', ...KEY_FIELDS[entity], ...(rules.requiredOnInsert ?? [])];
  return required.filter((name) => fields[name] === null || fields[name] === undefined);
}

export async function upsertEntity<E extends EntityName>(repo: Repository, entity: E, args: Args): Promise<EntityMap[E]> {
  const rules = RULES[entity];
  const idArg = argString(args, 'id');
  const id = idArg !== null && truthy(idArg) ? idArg : null;
  if (id === null && !rules.hasKey(args)) throw new UserInputError(keyErrorMessage(entity));

  const tenantArg = argString(args, 'tenant');
  const storedById = id === null ? null : await repo.get(entity, { id });
  const tenant = tenantArg ?? storedById?.tenant ?? 'default';
  const fields = givenFields(entity, args);
  if (tenantArg !== null) fields.tenant = tenantArg;
  await rules.resolve?.({ repo, args, tenant, fields });

  let ref: EntityRef;
  let existing: EntityMap[E] | null;
  if (id !== null) {
    ref = { id };
    existing = storedById;
  } else {
    const key = naturalKey(entity, stringField(fields, 'tenant') ?? tenant, fields);
    if (key === null) throw new UserInputError(keyErrorMessage(entity));
    ref = { key };
    existing = await repo.get(entity, ref);
  }

  if (existing === null) {
    fields.tenant ??= tenant;
    for (const [name, value] of Object.entries(rules.insertDefaults ?? {})) fields[name] ??= value;
    const missing = missingOnInsert(entity, fields, rules);
    if (missing.length > 0) {
      const named = id === null ? ENTITIES[entity].name : `${ENTITIES[entity].name} ${id}`;
      throw new UserInputError(`Cannot create ${named}: ${missing.join(', ')} required`);
    }
  }
  rules.validate?.(fields);
  // `fields` holds only schema-checked arguments named after the entity's own fields.
  return repo.upsert(entity, ref, fields as Partial<EntityMap[E]>);
}

export async function deleteEntity<E extends EntityName>(repo: Repository, entity: E, args: Args): Promise<EntityMap[E] | null> {
  return repo.delete(entity, refFromArgs(entity, args));
}

export async function getEntity<E extends EntityName>(repo: Repository, entity: E, args: Args): Promise<EntityMap[E] | null> {
  return repo.get(entity, refFromArgs(entity, args));
}

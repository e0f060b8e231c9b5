// Which record a getter, delete or upsert names: its id, or its complete natural key (Canyan §3.2).
import type { EntityName } from '../../domain/types.ts';
import type { EntityRef } from '../../storage/storage.ts';
import { argString, truthy, type Args } from './args.ts';
import { UserInputError } from './errors.ts';

/** Natural-key fields besides tenant, in the order Canyan's error messages name them. */
export const KEY_FIELDS: Readonly<Record<EntityName, readonly string[]>> = {
  carrier: ['carrier_tag'],
  customer: ['customer_tag'],
  seller: ['seller_tag'],
  invoice: ['invoice_number'],
  pricelist: ['pricelist_tag'],
  pricelist_rate: ['pricelist_tag', 'carrier_tag', 'prefix'],
  account: ['account_tag'],
  transaction: ['transaction_tag', 'account_tag'],
};

export function keyErrorMessage(entity: EntityName): string {
  const fields = ['tenant', ...KEY_FIELDS[entity]];
  const listed = fields.length === 2 ? fields.join(' and ') : `${fields.slice(0, -1).join(', ')} and ${fields[fields.length - 1]}`;
  return `Provide either the id or ${listed}!`;
}

/**
 * The natural key from explicit values, or null when one is missing or empty. `tenant` falls
 * back to "default" because every Canyan key argument defaults to it.
 */
export function naturalKey(entity: EntityName, tenant: string | null, values: Args): Record<string, string> | null {
  const key: Record<string, string> = { tenant: tenant ?? 'default' };
  if (!truthy(key.tenant)) return null;
  for (const field of KEY_FIELDS[entity]) {
    const value = argString(values, field);
    if (value === null || !truthy(value)) return null;
    key[field] = value;
  }
  return key;
}

/** The id when given, otherwise the natural key; throws Canyan's key error when neither is complete. */
export function refFromArgs(entity: EntityName, args: Args): EntityRef {
  const id = argString(args, 'id');
  if (id !== null && truthy(id)) return { id };
  const key = naturalKey(entity, argString(args, 'tenant'), args);
  if (key === null) throw new UserInputError(keyErrorMessage(entity));
  return { key };
}

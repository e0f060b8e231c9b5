// Field catalogue of every stored entity: which fields exist, what kind of value each holds and
// which fields form the natural key. Storage builds its tables and queries from it; the API uses
// it to validate sort fields and to serialise values. One list, so the two never drift apart.
import type { EntityName } from './types.ts';

export type FieldKind =
  | 'id' // string UUID, primary key
  | 'string'
  | 'enum' // string restricted to an enum's values
  | 'int' // 32-bit in the GraphQL schema, stored as an integer
  | 'money' // integer minor units, any JS safe integer (GraphQL BigInt)
  | 'bool'
  | 'micros' // timestamp: integer microseconds since the epoch
  | 'date' // a calendar day, stored as the micros of its midnight UTC
  | 'json'; // lists and nested objects, stored as JSON text

export interface EntityDescriptor {
  name: EntityName;
  /** SQL table name. */
  table: string;
  /** Natural key fields, unique together. Always starts with tenant. */
  key: readonly string[];
  fields: Readonly<Record<string, FieldKind>>;
  /**
   * Whether `sortField: "id"` sorts by id. Canyan maps it to a field that does not exist for
   * pricelist rates, which leaves them in natural (insertion) order.
   */
  idSortable: boolean;
}

const party = {
  company_name: 'string',
  firstname: 'string',
  lastname: 'string',
  email: 'string',
  tax_number: 'string',
  vat_number: 'string',
  address: 'string',
  zipcode: 'string',
  city: 'string',
  province: 'string',
  country: 'string',
  active: 'bool',
} as const;

export const ENTITIES: Readonly<Record<EntityName, EntityDescriptor>> = {
  carrier: {
    name: 'carrier',
    table: 'carriers',
    key: ['tenant', 'carrier_tag'],
    idSortable: true,
    fields: { id: 'id', tenant: 'string', carrier_tag: 'string', host: 'string', port: 'int', protocol: 'enum', active: 'bool' },
  },
  customer: {
    name: 'customer',
    table: 'customers',
    key: ['tenant', 'customer_tag'],
    idSortable: true,
    fields: { id: 'id', tenant: 'string', customer_tag: 'string', ...party, vat_policy: 'enum' },
  },
  seller: {
    name: 'seller',
    table: 'sellers',
    key: ['tenant', 'seller_tag'],
    idSortable: true,
    fields: { id: 'id', tenant: 'string', seller_tag: 'string', ...party },
  },
  invoice: {
    name: 'invoice',
    table: 'invoices',
    key: ['tenant', 'invoice_number'],
    idSortable: true,
    fields: {
      id: 'id',
      tenant: 'string',
      invoice_number: 'string',
      invoice_date: 'date',
      customer_tag: 'string',
      rows: 'json',
      net_total: 'money',
      vat_rate: 'int',
      total: 'money',
    },
  },
  pricelist: {
    name: 'pricelist',
    table: 'pricelists',
    key: ['tenant', 'pricelist_tag'],
    idSortable: true,
    fields: { id: 'id', tenant: 'string', pricelist_tag: 'string', name: 'string', currency: 'enum' },
  },
  pricelist_rate: {
    name: 'pricelist_rate',
    table: 'pricelist_rates',
    key: ['tenant', 'pricelist_tag', 'prefix', 'carrier_tag'],
    idSortable: false,
    fields: {
      id: 'id',
      tenant: 'string',
      pricelist_tag: 'string',
      carrier_tag: 'string',
      prefix: 'string',
      datetime_start: 'micros',
      datetime_end: 'micros',
      active: 'bool',
      connect_fee: 'money',
      rate: 'money',
      rate_increment: 'int',
      interval_start: 'int',
      description: 'string',
    },
  },
  account: {
    name: 'account',
    table: 'accounts',
    key: ['tenant', 'account_tag'],
    idSortable: true,
    fields: {
      id: 'id',
      tenant: 'string',
      account_tag: 'string',
      name: 'string',
      type: 'enum',
      customer_tag: 'string',
      notification_email: 'string',
      notification_mobile: 'string',
      active: 'bool',
      balance: 'money',
      max_concurrent_transactions: 'int',
      max_inbound_transactions: 'int',
      max_outbound_transactions: 'int',
      carrier_tags: 'json',
      carrier_tags_override: 'json',
      pricelist_tags: 'json',
      tags: 'json',
      linked_accounts: 'json',
    },
  },
  transaction: {
    name: 'transaction',
    table: 'transactions',
    key: ['tenant', 'transaction_tag', 'account_tag'],
    idSortable: true,
    fields: {
      id: 'id',
      tenant: 'string',
      transaction_tag: 'string',
      account_tag: 'string',
      source: 'string',
      source_ip: 'string',
      destination: 'string',
      carrier_ip: 'string',
      tags: 'json',
      authorized: 'bool',
      unauthorized_reason: 'string',
      destination_rate: 'json',
      timestamp_auth: 'micros',
      timestamp_begin: 'micros',
      timestamp_end: 'micros',
      primary: 'bool',
      inbound: 'bool',
      duration: 'int',
      fee: 'money',
      invoice_number: 'string',
      sip_status: 'int',
      end_reason: 'string',
    },
  },
};

/** Fields a list can be sorted by (scalars only; JSON fields sort as "unknown", i.e. natural order). */
export function isSortableField(entity: EntityDescriptor, field: string): boolean {
  // Own properties only: inherited names such as "toString" are not fields.
  if (!Object.hasOwn(entity.fields, field)) return false;
  const kind = entity.fields[field];
  if (kind === 'json') return false;
  return field !== 'id' || entity.idSortable;
}

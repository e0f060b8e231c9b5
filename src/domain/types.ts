// Domain records shared by storage, rating engine and API.
//
// Field names follow the Canyan GraphQL schema (snake_case) so that records map onto the API
// without renaming. Money is always an integer number of minor units (JS safe integers only);
// timestamps are integer microseconds since the Unix epoch (UTC), which keeps the sub-second
// precision HEP gives us and lets durations be computed with exact integer arithmetic.

/** Microseconds since 1970-01-01T00:00:00Z. Always an integer. */
export type Micros = number;

export type AccountType = 'PREPAID' | 'POSTPAID';
export type CarrierProtocol = 'TCP' | 'UDP';
export type PricelistCurrency = 'EUR' | 'USD';
export type CustomerVatPolicy = 'EXEMPT' | 'VAT_INCLUDED' | 'VAT_EXCLUDED';

export const ACCOUNT_TYPES: readonly AccountType[] = ['PREPAID', 'POSTPAID'];
export const CARRIER_PROTOCOLS: readonly CarrierProtocol[] = ['TCP', 'UDP'];
export const PRICELIST_CURRENCIES: readonly PricelistCurrency[] = ['EUR', 'USD'];
export const CUSTOMER_VAT_POLICIES: readonly CustomerVatPolicy[] = ['EXEMPT', 'VAT_INCLUDED', 'VAT_EXCLUDED'];

export type UnauthorizedReason =
  | 'NOT_FOUND'
  | 'NOT_ACTIVE'
  | 'UNREACHEABLE_DESTINATION'
  | 'TOO_MANY_RUNNING_TRANSACTIONS'
  | 'TOO_MANY_RUNNING_INBOUND_TRANSACTIONS'
  | 'TOO_MANY_RUNNING_OUTBOUND_TRANSACTIONS'
  | 'BALANCE_INSUFFICIENT';

export type FailedReason = 'NOT_FOUND' | 'NOT_ACTIVE' | 'INTERNAL_ERROR';

export interface Carrier {
  id: string;
  tenant: string;
  carrier_tag: string;
  host: string | null;
  port: number | null;
  protocol: CarrierProtocol | null;
  active: boolean | null;
}

export interface Pricelist {
  id: string;
  tenant: string;
  pricelist_tag: string;
  name: string | null;
  currency: PricelistCurrency | null;
}

export interface PricelistRate {
  id: string;
  tenant: string;
  pricelist_tag: string;
  carrier_tag: string;
  prefix: string;
  datetime_start: Micros | null;
  datetime_end: Micros | null;
  active: boolean | null;
  connect_fee: number | null;
  rate: number | null;
  rate_increment: number | null;
  interval_start: number | null;
  description: string | null;
}

/**
 * The copy of a rate frozen into a running transaction at begin, so that later price-list
 * edits never change the price of a call already in progress.
 */
export interface FrozenRate {
  pricelist_tag: string | null;
  carrier_tag: string | null;
  prefix: string | null;
  description: string | null;
  datetime_start: Micros | null;
  datetime_end: Micros | null;
  connect_fee: number | null;
  rate: number | null;
  rate_increment: number | null;
  interval_start: number | null;
}

export interface Account {
  id: string;
  tenant: string;
  account_tag: string;
  name: string | null;
  type: AccountType;
  customer_tag: string | null;
  notification_email: string | null;
  notification_mobile: string | null;
  active: boolean | null;
  balance: number;
  max_concurrent_transactions: number | null;
  max_inbound_transactions: number | null;
  max_outbound_transactions: number | null;
  carrier_tags: string[] | null;
  carrier_tags_override: string[] | null;
  pricelist_tags: string[] | null;
  tags: string[] | null;
  /** Tags of the "parent" accounts checked and charged together with this one. */
  linked_accounts: string[] | null;
}

/** An element of an account's running transactions (a call in progress, or ended but not yet settled). */
export interface RunningTransaction {
  tenant: string;
  account_tag: string;
  transaction_tag: string;
  proxy_tag: string | null;
  source: string | null;
  source_ip: string | null;
  destination: string | null;
  carrier_ip: string | null;
  tags: string[] | null;
  destination_rate: FrozenRate | null;
  in_progress: boolean;
  inbound: boolean;
  primary: boolean;
  timestamp_begin: Micros;
  timestamp_end: Micros | null;
}

/** The consolidated record of one account's side of a call. Key: (tenant, transaction_tag, account_tag). */
export interface Transaction {
  id: string;
  tenant: string;
  transaction_tag: string;
  account_tag: string;
  source: string | null;
  source_ip: string | null;
  destination: string | null;
  carrier_ip: string | null;
  tags: string[] | null;
  authorized: boolean | null;
  unauthorized_reason: string | null;
  destination_rate: FrozenRate | null;
  timestamp_auth: Micros | null;
  timestamp_begin: Micros | null;
  timestamp_end: Micros | null;
  primary: boolean;
  inbound: boolean;
  duration: number | null;
  fee: number | null;
  invoice_number: string | null;
  /** Final SIP status of the call when known (e.g. 486 for a failed attempt); an addition to Canyan. */
  sip_status: number | null;
  /** Set when the call was closed by a timeout instead of a captured end; an addition to Canyan. */
  end_reason: string | null;
}

export interface Customer {
  id: string;
  tenant: string;
  customer_tag: string;
  company_name: string | null;
  firstname: string | null;
  lastname: string | null;
  email: string | null;
  tax_number: string | null;
  vat_number: string | null;
  vat_policy: CustomerVatPolicy | null;
  address: string | null;
  zipcode: string | null;
  city: string | null;
  province: string | null;
  country: string | null;
  active: boolean | null;
}

export interface Seller {
  id: string;
  tenant: string;
  seller_tag: string;
  company_name: string | null;
  firstname: string | null;
  lastname: string | null;
  email: string | null;
  tax_number: string | null;
  vat_number: string | null;
  address: string | null;
  zipcode: string | null;
  city: string | null;
  province: string | null;
  country: string | null;
  active: boolean | null;
}

export interface InvoiceRow {
  prefix: string | null;
  description: string | null;
  unit_price: number | null;
  quantity: number | null;
  total: number | null;
}

export interface Invoice {
  id: string;
  tenant: string;
  invoice_number: string;
  /** Midnight UTC of the invoice date, in microseconds. */
  invoice_date: Micros;
  customer_tag: string | null;
  rows: InvoiceRow[] | null;
  net_total: number | null;
  vat_rate: number | null;
  total: number | null;
}

export interface EntityMap {
  carrier: Carrier;
  customer: Customer;
  seller: Seller;
  invoice: Invoice;
  pricelist: Pricelist;
  pricelist_rate: PricelistRate;
  account: Account;
  transaction: Transaction;
}

export type EntityName = keyof EntityMap;

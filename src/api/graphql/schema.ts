// The GraphQL schema: Canyan's rating-api names (snake_case fields and arguments, capitalised
// root getters, `_allXMeta` companions) plus the agent's operations (`version`, `authorization`,
// `beginTransaction`, ...), served together on one endpoint.
//
// Deliberate differences from Canyan, all additive or stricter:
// - money fields (balance, fee, connect_fee, rate, invoice totals) are BigInt in and out;
// - update arguments (`tenant`, `active`, `primary`, `inbound`) have no schema default, so an
//   update that leaves them out keeps the stored value (defaults apply only when inserting);
// - Transaction exposes sip_status and end_reason; agent payloads expose failed_account_tag and
//   failed_reason; the agent's `authorization` accepts `tags`.

const entityTypes = /* GraphQL */ `
scalar BigInt
scalar DateTime
scalar Date

enum AccountType { PREPAID POSTPAID }
enum CarrierProtocol { TCP UDP }
enum PricelistCurrency { EUR USD }
enum CustomerVATPolicy { EXEMPT VAT_INCLUDED VAT_EXCLUDED }

type ListMetadata { count: Int }

type Carrier {
  id: ID!
  tenant: ID!
  carrier_tag: String!
  host: String
  port: Int
  protocol: CarrierProtocol
  active: Boolean
}

type Pricelist {
  id: ID!
  tenant: ID!
  pricelist_tag: String!
  name: String
  currency: PricelistCurrency
}

type PricelistRate {
  id: ID
  tenant: ID!
  pricelist_id: ID
  pricelist_tag: String
  carrier_id: ID
  carrier_tag: String
  prefix: String!
  datetime_start: DateTime
  datetime_end: DateTime
  active: Boolean
  connect_fee: BigInt
  rate: BigInt
  rate_increment: Int
  interval_start: Int
  description: String
}

type Customer {
  id: ID!
  tenant: ID!
  customer_tag: String!
  company_name: String
  firstname: String
  lastname: String
  email: String
  tax_number: String
  vat_number: String
  vat_policy: CustomerVATPolicy
  address: String
  zipcode: String
  city: String
  province: String
  country: String
  active: Boolean
}

type Seller {
  id: ID!
  tenant: ID!
  seller_tag: String!
  company_name: String
  firstname: String
  lastname: String
  email: String
  tax_number: String
  vat_number: String
  address: String
  zipcode: String
  city: String
  province: String
  country: String
  active: Boolean
}

type InvoiceRow {
  prefix: String
  description: String
  unit_price: Int
  quantity: BigInt
  total: BigInt
}

type Invoice {
  id: ID!
  tenant: ID!
  invoice_number: String!
  invoice_date: Date!
  customer: Customer
  rows: [InvoiceRow]
  net_total: BigInt
  vat_rate: Int
  total: BigInt
}

type AccountTransaction {
  transaction_tag: String!
  proxy_tag: String
  source: String
  source_ip: String
  destination: String
  carrier_ip: String
  tags: [String]
  destination_rate: PricelistRate
  in_progress: Boolean
  inbound: Boolean
  primary: Boolean
  timestamp_begin: DateTime
  timestamp_end: DateTime
}

type Account {
  id: ID
  tenant: ID
  account_tag: String!
  name: String
  type: AccountType!
  customer_tag: String
  customer: Customer
  notification_email: String
  notification_mobile: String
  active: Boolean
  balance: BigInt
  max_concurrent_transactions: Int
  max_inbound_transactions: Int
  max_outbound_transactions: Int
  running_transactions: [AccountTransaction]
  carrier_tags: [String]
  carrier_tags_override: [String]
  pricelist_tags: [String]
  tags: [String]
  linked_accounts: [LinkedAccount]
  destination_rate(destination: String!): PricelistRate
  least_cost_routing(destination: String!): [Carrier]
}

type LinkedAccount {
  id: ID
  tenant: ID
  account_tag: String!
  name: String
  type: AccountType!
  customer_tag: String
  customer: Customer
  notification_email: String
  notification_mobile: String
  active: Boolean
  balance: BigInt
  max_concurrent_transactions: Int
  max_inbound_transactions: Int
  max_outbound_transactions: Int
  running_transactions: [AccountTransaction]
  carrier_tags: [String]
  carrier_tags_override: [String]
  pricelist_tags: [String]
  tags: [String]
  destination_rate(destination: String): PricelistRate
}

type Transaction {
  id: ID!
  tenant: ID!
  transaction_tag: String!
  account_tag: String
  account: Account
  invoice: Invoice
  source: String
  source_ip: String
  destination: String
  carrier_ip: String
  tags: [String]
  authorized: Boolean
  unauthorized_reason: String
  destination_rate: PricelistRate
  timestamp_auth: DateTime
  timestamp_begin: DateTime
  timestamp_end: DateTime
  primary: Boolean
  inbound: Boolean
  duration: Int
  fee: BigInt
  sip_status: Int
  end_reason: String
}
`;

const filterTypes = /* GraphQL */ `
input CarrierFilter {
  q: String
  id: ID
  ids: [ID]
  tenant: ID = "default"
  carrier_tag: String
}

input CustomerFilter {
  q: String
  id: ID
  ids: [ID]
  tenant: ID = "default"
  customer_tag: String
}

input SellerFilter {
  q: String
  id: ID
  ids: [ID]
  tenant: ID = "default"
  seller_tag: String
}

input InvoiceFilter {
  q: String
  id: ID
  ids: [ID]
  tenant: ID = "default"
  invoice_number: String
  invoice_date: Date
  customer_tag: String
}

input PricelistFilter {
  q: String
  id: ID
  ids: [ID]
  tenant: ID = "default"
  pricelist_tag: String
}

input PricelistRateFilter {
  q: String
  id: ID
  ids: [ID]
  tenant: ID = "default"
  pricelist_id: ID
  pricelist_tag: String
  carrier_id: ID
  carrier_tag: String
  prefix: String
  active: Boolean
}

input AccountFilter {
  q: String
  id: ID
  ids: [ID]
  tenant: ID = "default"
  account_tag: String
  type: AccountType
  active: Boolean
  customer_tag: String
  with_running_transactions: Boolean
  with_long_running_transactions: Boolean
}

input TransactionFilter {
  q: String
  id: ID
  ids: [ID]
  tenant: ID = "default"
  transaction_tag: String
  account_tag: String
  invoice_number: String
  primary: Boolean
  inbound: Boolean
}

input InputAccountPricelistRate {
  pricelist_tag: String!
  prefix: String!
  datetime_start: DateTime
  datetime_end: DateTime
  connect_fee: BigInt
  rate: BigInt
  rate_increment: Int
  interval_start: Int
  carrier_tag: String
  description: String
}

input InputAccountTransaction {
  transaction_tag: String!
  proxy_tag: String
  source: String
  source_ip: String
  destination: String!
  carrier_ip: String
  tags: [String]
  destination_rate: InputAccountPricelistRate
  inbound: Boolean
  primary: Boolean
  timestamp_begin: DateTime!
  timestamp_end: DateTime
}

input InputInvoiceRow {
  prefix: String
  description: String
  unit_price: Int
  quantity: BigInt
  total: BigInt
}
`;

function listFields(plural: string, type: string): string {
  const args = `page: Int, perPage: Int, sortField: String, sortOrder: String, filter: ${type}Filter`;
  return `  all${plural}(${args}): [${type}]\n  _all${plural}Meta(${args}): ListMetadata\n`;
}

const query = /* GraphQL */ `
type Query {
  version: Int
  Carrier(id: ID, tenant: ID = "default", carrier_tag: String): Carrier
  Customer(id: ID, tenant: ID = "default", customer_tag: String): Customer
  Seller(id: ID, tenant: ID = "default", seller_tag: String): Seller
  Invoice(id: ID, tenant: ID = "default", invoice_number: String): Invoice
  Pricelist(id: ID, tenant: ID = "default", pricelist_tag: String): Pricelist
  PricelistRate(id: ID, tenant: ID = "default", pricelist_tag: String, prefix: String, carrier_tag: String): PricelistRate
  Account(id: ID, tenant: ID = "default", account_tag: String): Account
  AccountTransaction(tenant: ID = "default", account_tag: String, transaction_tag: String): AccountTransaction
  Transaction(id: ID, tenant: ID = "default", transaction_tag: String, account_tag: String): Transaction
  leastCostRouting(tenant: ID = "default", carrier_tags: [String], carrier_tags_override: [String], destination: String): [Carrier]
${listFields('Carriers', 'Carrier')}${listFields('Customers', 'Customer')}${listFields('Sellers', 'Seller')}${listFields('Invoices', 'Invoice')}${listFields('Pricelists', 'Pricelist')}${listFields('PricelistRates', 'PricelistRate')}${listFields('Accounts', 'Account')}${listFields('Transactions', 'Transaction')}}
`;

/** The four write mutations of one entity share their arguments. */
function writeMutations(entity: string, args: string, keyArgs: string): string {
  return (
    `  create${entity}(${args}): ${entity}\n` +
    `  update${entity}(${args}): ${entity}\n` +
    `  upsert${entity}(${args}): ${entity}\n` +
    `  delete${entity}(${keyArgs}): ${entity}\n`
  );
}

const party =
  'company_name: String, firstname: String, lastname: String, email: String, tax_number: String, ' +
  'vat_number: String, address: String, zipcode: String, city: String, province: String, country: String, active: Boolean';

const mutation = /* GraphQL */ `
type BeginAccountTransaction { ok: Boolean, transaction: AccountTransaction }
type EndAccountTransaction { ok: Boolean, transaction: AccountTransaction }
type CommitAccountTransaction { ok: Boolean }
type RollbackAccountTransaction { ok: Boolean }
type SetAccountBalance { ok: Boolean }
type IncrementAccountBalance { ok: Boolean }

type Authorization {
  tenant: ID
  transaction_tag: String
  account_tag: String
  destination_account_tag: String
  authorized: Boolean
  authorized_destination: Boolean
  unauthorized_account_tag: String
  unauthorized_reason: String
  max_available_units: Int
  balance: BigInt
  carriers: [String]
}

type TransactionOperation {
  ok: Boolean
  tenant: ID
  transaction_tag: String
  account_tag: String
  destination_account_tag: String
  failed_account_tag: String
  failed_reason: String
}

type Mutation {
${writeMutations(
  'Carrier',
  'id: ID, tenant: ID, carrier_tag: String, host: String, port: Int, protocol: CarrierProtocol, active: Boolean',
  'id: ID, tenant: ID = "default", carrier_tag: String',
)}${writeMutations(
  'Customer',
  `id: ID, tenant: ID, customer_tag: String, ${party}, vat_policy: CustomerVATPolicy`,
  'id: ID, tenant: ID = "default", customer_tag: String',
)}${writeMutations(
  'Seller',
  `id: ID, tenant: ID, seller_tag: String, ${party}`,
  'id: ID, tenant: ID = "default", seller_tag: String',
)}${writeMutations(
  'Invoice',
  'id: ID, tenant: ID, invoice_number: String, invoice_date: Date, customer_tag: String, rows: [InputInvoiceRow], ' +
    'net_total: BigInt, vat_rate: Int, total: BigInt',
  'id: ID, tenant: ID = "default", invoice_number: String',
)}${writeMutations(
  'Pricelist',
  'id: ID, tenant: ID, pricelist_tag: String, name: String, currency: PricelistCurrency',
  'id: ID, tenant: ID = "default", pricelist_tag: String',
)}${writeMutations(
  'PricelistRate',
  'id: ID, tenant: ID, pricelist_id: ID, pricelist_tag: String, carrier_id: ID, carrier_tag: String, prefix: String, ' +
    'datetime_start: DateTime, datetime_end: DateTime, active: Boolean, connect_fee: BigInt, rate: BigInt, ' +
    'rate_increment: Int, interval_start: Int, description: String',
  'id: ID, tenant: ID = "default", pricelist_tag: String, prefix: String, carrier_tag: String',
)}${writeMutations(
  'Account',
  'id: ID, tenant: ID, account_tag: String, name: String, type: AccountType!, customer_tag: String, ' +
    'notification_email: String, notification_mobile: String, active: Boolean, balance: BigInt, ' +
    'max_concurrent_transactions: Int, max_inbound_transactions: Int, max_outbound_transactions: Int, ' +
    'carrier_tags: [String], carrier_tags_override: [String], pricelist_tags: [String], tags: [String], linked_accounts: [String]',
  'id: ID, tenant: ID = "default", account_tag: String',
)}${writeMutations(
  'Transaction',
  'id: ID, tenant: ID, transaction_tag: String, account_tag: String, source: String, source_ip: String, ' +
    'destination: String, carrier_ip: String, tags: [String], authorized: Boolean, unauthorized_reason: String, ' +
    'destination_rate: InputAccountPricelistRate, timestamp_auth: DateTime, timestamp_begin: DateTime, ' +
    'timestamp_end: DateTime, primary: Boolean, inbound: Boolean, duration: Int, fee: BigInt, invoice_number: String, ' +
    'sip_status: Int, end_reason: String',
  'id: ID, tenant: ID = "default", transaction_tag: String, account_tag: String',
)}
  beginAccountTransaction(tenant: ID = "default", account_tag: String!, transaction: InputAccountTransaction!): BeginAccountTransaction
  endAccountTransaction(tenant: ID = "default", account_tag: String!, transaction_tag: String!, timestamp_end: DateTime): EndAccountTransaction
  commitAccountTransaction(tenant: ID = "default", account_tag: String!, transaction_tag: String!, fee: BigInt): CommitAccountTransaction
  rollbackAccountTransaction(tenant: ID = "default", account_tag: String!, transaction_tag: String!): RollbackAccountTransaction
  setAccountBalance(tenant: ID = "default", account_tag: String, tags: [String], balance: BigInt): SetAccountBalance
  incrementAccountBalance(tenant: ID = "default", account_tag: String, tags: [String], balance: BigInt): IncrementAccountBalance

  authorization(tenant: ID = "default", transaction_tag: String!, account_tag: String, destination_account_tag: String,
    source: String, source_ip: String, destination: String, carrier_ip: String, tags: [String], timestamp_auth: DateTime): Authorization
  beginTransaction(tenant: ID = "default", transaction_tag: String!, account_tag: String, destination_account_tag: String,
    source: String, source_ip: String, destination: String, carrier_ip: String, tags: [String], timestamp_begin: DateTime): TransactionOperation
  endTransaction(tenant: ID = "default", transaction_tag: String!, account_tag: String, destination_account_tag: String,
    timestamp_end: DateTime): TransactionOperation
  rollbackTransaction(tenant: ID = "default", transaction_tag: String!, account_tag: String, destination_account_tag: String): TransactionOperation
  recordTransaction(tenant: ID = "default", transaction_tag: String!, account_tag: String, destination_account_tag: String,
    source: String, source_ip: String, destination: String, carrier_ip: String, tags: [String], authorized: Boolean,
    unauthorized_reason: String, timestamp_auth: DateTime, timestamp_begin: DateTime, timestamp_end: DateTime): TransactionOperation
}
`;

export const schemaSdl = entityTypes + filterTypes + query + mutation;

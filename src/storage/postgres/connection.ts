// Where the tables live: the connection URL without our own `schema` parameter, and the schema
// every connection of the pool works in (through its search_path, set when it connects).
export interface PostgresLocation {
  /** The URL to hand to node-postgres (without `schema`; with `options` folded into `options`). */
  connectionString: string;
  schema: string;
  /** The `options` startup parameter: the URL's own, plus our search_path. */
  startupOptions: string;
}

// Lower-case, unquoted-identifier names only: they need no quoting in the startup parameter
// and mean the same in every tool (psql, pg_dump) without double quotes.
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export const DEFAULT_SCHEMA = 'public';

/** Throws a clear error unless `name` is a usable schema name. */
export function checkSchemaName(name: string): string {
  if (!SCHEMA_NAME.test(name)) {
    throw new Error(`invalid PostgreSQL schema name "${name}": use lower-case letters, digits and _ (not first), at most 63 characters`);
  }
  return name;
}

/**
 * Reads `?schema=NAME` from the URL (removing it: node-postgres would pass unknown parameters
 * to the server). A `schema` option must agree with the URL's when both are given.
 */
export function resolvePostgresLocation(url: string, schemaOption: string | undefined): PostgresLocation {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`invalid PostgreSQL URL "${redact(url)}"`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new Error(`invalid PostgreSQL URL "${redact(url)}": expected postgres:// or postgresql://`);
  }
  const fromUrl = parsed.searchParams.get('schema');
  parsed.searchParams.delete('schema');
  if (fromUrl !== null && schemaOption !== undefined && fromUrl !== schemaOption) {
    throw new Error(`the PostgreSQL URL names schema "${fromUrl}" but the options name "${schemaOption}"`);
  }
  const schema = checkSchemaName(schemaOption ?? fromUrl ?? DEFAULT_SCHEMA);
  // A connection string's parameters override node-postgres' own options, so an `options`
  // parameter of the URL is moved into ours rather than left to replace it.
  const urlOptions = parsed.searchParams.get('options');
  parsed.searchParams.delete('options');
  const startupOptions = [urlOptions, `-c search_path=${schema}`].filter((part) => part !== null && part !== '').join(' ');
  return { connectionString: parsed.toString(), schema, startupOptions };
}

/** The URL without its password, for messages and logs. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}

// Every transaction is SERIALIZABLE, and a sequential scan takes a read lock on the whole table:
// then any write to that table by a concurrent transaction is a read-write conflict. Once the
// statistics say a table is small (autovacuum analyzes the accounts table within minutes), the
// planner prefers sequential scans for the engine's lookups by key, and nearly every second
// engine transaction failed and ran again (bench: 977 repeats in 2,000 transactions, 172 with
// this setting). Scans that no index can serve are still sequential (the setting only makes
// them look expensive). PostgreSQL's documentation on serializable isolation advises the same.
const PREFER_INDEX_SCANS = '-c enable_seqscan=off';

// The engine runs the same few named statements (prepared once per connection) thousands of
// times with different keys. PostgreSQL plans the first five executions with their values and
// then keeps a value-specific ("custom") plan whenever the generic plan is estimated dearer,
// which for these CTEs it always is: every execution was planned again. A CPU profile of the
// distributed bench put planning at a sixth of PostgreSQL's time. Every statement looks rows
// up by key through an index, so the generic plan is the same plan (bench: +10-15% calls/s).
const PLAN_ONCE = '-c plan_cache_mode=force_generic_plan';

/** The `options` startup parameter of the storage's pooled connections: the location's, plus the planner settings above. */
export function sessionStartupOptions(location: PostgresLocation): string {
  return `${location.startupOptions} ${PREFER_INDEX_SCANS} ${PLAN_ONCE}`;
}

// The process configuration: one flat record, loaded from defaults < YAML file < environment <
// command-line flags, and validated completely before anything starts.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './errors.ts';
import type { HepAgentSettings } from '../transports/hep-agent.ts';
import { configSchema, type BusProtocol, type LogLevel } from './schema.ts';

export { ConfigError } from './errors.ts';
export { BUS_PROTOCOLS, LOG_LEVELS, type BusProtocol, type LogLevel } from './schema.ts';

/**
 * Flat on purpose: the HEP agent's settings are part of it, so the whole configuration can be
 * handed to the agent as is.
 */
export interface RatingConfig extends HepAgentSettings {
  /** `host:port` of the HTTP server (GraphQL + REST). */
  api_listen: string;
  /** `sqlite:PATH` or `postgres://...`. */
  database_url: string;
  log_level: LogLevel;
  /** Largest accepted HTTP request body, in bytes. */
  api_body_limit: number;
  /** Connections per process to PostgreSQL (ignored by SQLite). */
  database_pool_size: number;
  /** Where the HEP agent keeps the state of open calls: `memory` or `redis://...`. */
  state_url: string;
  /** Prefix of every Redis key the agent writes (several deployments can share one Redis). */
  state_key_prefix: string;
  /** With state_url=memory: file the agent saves its open calls to on a clean stop and restores on start ("" disables). */
  state_file: string;
  /** How call events reach the engine: `local` (in-process) or `amqp://...` (RabbitMQ). */
  bus_url: string;
  /** `native` (durable queue, persistent messages) or `canyan` (the original's queues and JSON). */
  bus_protocol: BusProtocol;
  /** Queue of the native protocol. */
  bus_queue: string;
  /** Directory of the agent's on-disk spool of events not yet accepted by the bus or engine. */
  spool_dir: string;
  /** Largest size of the spool, in bytes; beyond it events are refused (and counted, and logged). */
  spool_max_bytes: number;
  /** Events an engine process works on at once (RabbitMQ prefetch). */
  engine_prefetch: number;
}

export type ConfigKey = keyof RatingConfig;

// Keeps the interface above and the validation schema from drifting apart.
type SchemaOutput = z.output<typeof configSchema>;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaMatchesInterface: Same<SchemaOutput, RatingConfig> = true;
void schemaMatchesInterface;

export const DEFAULT_CONFIG: Readonly<RatingConfig> = Object.freeze({
  api_listen: '0.0.0.0:8000',
  database_url: 'sqlite:./data/rating.db',
  tenant: 'default',
  log_level: 'info',
  api_body_limit: 1_048_576,
  hep_listen_udp: '0.0.0.0:9060',
  hep_listen_tcp: '0.0.0.0:9060',
  sip_local_domains: [],
  sip_header_caller: '',
  sip_header_callee: '',
  sip_header_history_info: 'History-Info',
  sip_header_history_info_index: 1,
  account_tag_match_regexp: '',
  product_tag: 'VOICE',
  transaction_tags: [],
  call_max_duration: 14_400,
  call_unanswered_timeout: 300,
  database_pool_size: 10,
  state_url: 'memory',
  state_key_prefix: 'canyan-rating:',
  state_file: './data/agent-calls.json',
  bus_url: 'local',
  bus_protocol: 'native',
  bus_queue: 'canyan-rating.events',
  spool_dir: './data/spool',
  spool_max_bytes: 1_073_741_824,
  engine_prefetch: 64,
});

export interface ConfigKeySpec {
  key: ConfigKey;
  /** Environment variables, the first one set wins. */
  env: readonly string[];
  /** Other names the YAML file may use (the original HEP agent's). */
  yamlAliases: readonly string[];
  /** Long command-line flag, when there is one. */
  flag: string | null;
  description: string;
}

const agentEnv = (key: string): string => `RATING_AGENT_HEP_${key.toUpperCase()}`;

/** Every key, in the order `--help` lists them. */
export const CONFIG_KEYS: readonly ConfigKeySpec[] = [
  { key: 'api_listen', env: ['RATING_API_LISTEN'], yamlAliases: [], flag: '--api-listen', description: 'host:port of the HTTP server (GraphQL at /graphql, REST at /v1/*)' },
  { key: 'database_url', env: ['RATING_DATABASE_URL'], yamlAliases: [], flag: '--database-url', description: 'database, sqlite:PATH or postgres://user@host:port/db' },
  { key: 'tenant', env: ['RATING_TENANT', agentEnv('tenant')], yamlAliases: [], flag: '--tenant', description: 'tenant of the calls rated by the HEP agent' },
  { key: 'log_level', env: ['RATING_LOG_LEVEL'], yamlAliases: [], flag: '--log-level', description: 'fatal, error, warn, info, debug, trace or silent' },
  { key: 'api_body_limit', env: ['RATING_API_BODY_LIMIT'], yamlAliases: [], flag: null, description: 'largest HTTP request body, in bytes' },
  { key: 'hep_listen_udp', env: ['RATING_HEP_LISTEN_UDP', agentEnv('listen_udp')], yamlAliases: ['listen_udp'], flag: '--hep-listen-udp', description: 'host:port of the HEP UDP listener ("" disables)' },
  { key: 'hep_listen_tcp', env: ['RATING_HEP_LISTEN_TCP', agentEnv('listen_tcp')], yamlAliases: ['listen_tcp'], flag: '--hep-listen-tcp', description: 'host:port of the HEP TCP listener ("" disables)' },
  { key: 'sip_local_domains', env: [agentEnv('sip_local_domains')], yamlAliases: [], flag: null, description: 'SIP domains of local accounts (list)' },
  { key: 'sip_header_caller', env: [agentEnv('sip_header_caller')], yamlAliases: [], flag: null, description: 'SIP header carrying the caller account tag' },
  { key: 'sip_header_callee', env: [agentEnv('sip_header_callee')], yamlAliases: [], flag: null, description: 'SIP header carrying the destination account tag' },
  { key: 'sip_header_history_info', env: [agentEnv('sip_header_history_info')], yamlAliases: [], flag: null, description: 'History-Info header name ("" disables)' },
  { key: 'sip_header_history_info_index', env: [agentEnv('sip_header_history_info_index')], yamlAliases: [], flag: null, description: 'History-Info entry, counted from the last (0 = last)' },
  { key: 'account_tag_match_regexp', env: [agentEnv('account_tag_match_regexp')], yamlAliases: [], flag: null, description: 'regexp whose group 1 becomes the account tag' },
  { key: 'product_tag', env: [agentEnv('product_tag')], yamlAliases: [], flag: null, description: 'product tag of HEP-rated calls' },
  { key: 'transaction_tags', env: [agentEnv('transaction_tags')], yamlAliases: [], flag: null, description: 'tags added to HEP-rated transactions (list)' },
  { key: 'call_max_duration', env: ['RATING_CALL_MAX_DURATION'], yamlAliases: [], flag: null, description: 'seconds after which an answered call without BYE is closed' },
  { key: 'call_unanswered_timeout', env: ['RATING_CALL_UNANSWERED_TIMEOUT'], yamlAliases: [], flag: null, description: 'seconds after which an unanswered INVITE is forgotten' },
  { key: 'database_pool_size', env: ['RATING_DATABASE_POOL_SIZE'], yamlAliases: [], flag: null, description: 'PostgreSQL connections per process' },
  { key: 'state_url', env: ['RATING_STATE_URL'], yamlAliases: [], flag: '--state-url', description: 'call state of the HEP agent: memory or redis://host:port/db' },
  { key: 'state_key_prefix', env: ['RATING_STATE_KEY_PREFIX'], yamlAliases: [], flag: null, description: 'prefix of the Redis keys of the call state' },
  { key: 'state_file', env: ['RATING_STATE_FILE'], yamlAliases: [], flag: null, description: 'with state_url=memory: open calls saved here on stop, restored on start ("" disables)' },
  { key: 'bus_url', env: ['RATING_BUS_URL'], yamlAliases: [], flag: '--bus-url', description: 'event bus between agent and engine: local or amqp://user:pass@host:port/vhost' },
  { key: 'bus_protocol', env: ['RATING_BUS_PROTOCOL'], yamlAliases: [], flag: null, description: 'native, or canyan (the original begin_transaction/end_transaction queues and JSON)' },
  { key: 'bus_queue', env: ['RATING_BUS_QUEUE'], yamlAliases: [], flag: null, description: 'queue of the native bus protocol' },
  { key: 'spool_dir', env: ['RATING_SPOOL_DIR'], yamlAliases: [], flag: null, description: 'directory of the agent\'s on-disk spool for undelivered events' },
  { key: 'spool_max_bytes', env: ['RATING_SPOOL_MAX_BYTES'], yamlAliases: [], flag: null, description: 'largest size of the spool, in bytes' },
  { key: 'engine_prefetch', env: ['RATING_ENGINE_PREFETCH'], yamlAliases: [], flag: null, description: 'events an engine process works on at once' },
];

/**
 * Keys of the original HEP agent's config.yaml whose settings are spelt differently here (one
 * URL each), accepted so that an existing file loads; the caller is told what to use instead.
 */
const OBSOLETE_YAML_KEYS: ReadonlyMap<string, string> = new Map([
  ['message_bus_uri', 'bus_url (with bus_protocol: canyan to feed a Canyan engine)'],
  ['state_manager', 'state_url'],
  ['redis_address', 'state_url'],
  ['redis_password', 'state_url'],
  ['redis_db', 'state_url'],
]);

export interface LoadConfigInput {
  /**
   * Command-line values by config key, snake_case (`api_listen`) or the camelCase commander
   * produces (`apiListen`); undefined means "not given".
   */
  flags: Readonly<Record<string, unknown>>;
  env: NodeJS.ProcessEnv;
  /** YAML file whose top-level keys are config keys. */
  configFile?: string;
  /** Told about accepted-but-ignored things (obsolete YAML keys). */
  warn?: (message: string) => void;
}

interface Sourced {
  value: unknown;
  origin: string;
}

export function loadConfig(input: LoadConfigInput): RatingConfig {
  const problems: string[] = [];
  const chosen = new Map<ConfigKey, Sourced>();
  for (const spec of CONFIG_KEYS) chosen.set(spec.key, { value: DEFAULT_CONFIG[spec.key], origin: 'default' });

  if (input.configFile !== undefined) {
    for (const [key, sourced] of readYamlLayer(input.configFile, problems, input.warn)) chosen.set(key, sourced);
  }
  for (const spec of CONFIG_KEYS) {
    const name = spec.env.find((candidate) => input.env[candidate] !== undefined);
    if (name !== undefined) chosen.set(spec.key, { value: input.env[name], origin: `environment variable ${name}` });
  }
  for (const [name, value] of Object.entries(input.flags)) {
    if (value === undefined) continue;
    const spec = CONFIG_KEYS.find((candidate) => candidate.key === name || camelCase(candidate.key) === name);
    if (spec === undefined) problems.push(`${name} (from command line): unknown configuration key`);
    else chosen.set(spec.key, { value, origin: `flag ${spec.flag ?? spec.key}` });
  }

  const merged: Record<string, unknown> = {};
  for (const [key, sourced] of chosen) merged[key] = sourced.value;
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = String(issue.path[0] ?? '');
      const origin = chosen.get(key as ConfigKey)?.origin ?? 'unknown source';
      const where = issue.path.length > 1 ? ` (item ${issue.path.slice(1).join('.')})` : '';
      problems.push(`${key} (from ${origin})${where}: ${issue.message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  if (!result.success) throw new ConfigError(['invalid configuration']); // unreachable; narrows the type
  return result.data;
}

function readYamlLayer(
  file: string,
  problems: string[],
  warn: ((message: string) => void) | undefined,
): Map<ConfigKey, Sourced> {
  const layer = new Map<ConfigKey, Sourced>();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : 'unreadable';
    problems.push(`config file ${file}: cannot be read (${code})`);
    return layer;
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    problems.push(`config file ${file}: is not valid YAML (${reason})`);
    return layer;
  }
  if (document === null || document === undefined) return layer; // an empty file sets nothing
  if (typeof document !== 'object' || Array.isArray(document)) {
    problems.push(`config file ${file}: must be a mapping of key: value`);
    return layer;
  }
  const origin = `config file ${file}`;
  const seenAs = new Map<ConfigKey, string>();
  for (const [name, value] of Object.entries(document)) {
    const spec = CONFIG_KEYS.find((candidate) => candidate.key === name || candidate.yamlAliases.includes(name));
    if (spec === undefined) {
      const replacement = OBSOLETE_YAML_KEYS.get(name);
      if (replacement !== undefined) {
        warn?.(`${origin}: key ${name} is ignored; set ${replacement} instead`);
      } else {
        problems.push(`${name} (from ${origin}): unknown configuration key`);
      }
      continue;
    }
    const earlier = seenAs.get(spec.key);
    if (earlier !== undefined) {
      problems.push(`${name} (from ${origin}): ${earlier} and ${name} are the same setting, give only one`);
      continue;
    }
    seenAs.set(spec.key, name);
    layer.set(spec.key, { value, origin });
  }
  return layer;
}

function camelCase(key: string): string {
  return key.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

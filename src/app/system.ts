// Starts any set of the system's roles in one process, and stops them again in reverse order:
// - api: the HTTP server with GraphQL (/graphql) and the REST agent endpoints (/v1/*);
// - agent: the HEP capture agent; its call events go to the engine in this process
//   (bus_url=local) or onto RabbitMQ (bus_url=amqp://...);
// - engine: consumes call events from RabbitMQ and rates them (needs bus_url=amqp://...).
// Every process serves /status on api_listen; without the API role, only the status routes.
import pino, { type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildServer, buildStatusServer, type StatsSource } from '../api/server.ts';
import { openBusOutlet, startBusConsumer, type BusConsumer } from '../bus/index.ts';
import type { IntentOutlet } from '../calls/intent-outlet.ts';
import { ConfigError, type RatingConfig } from '../config/config.ts';
import { parseListenAddress, type ListenAddress } from '../config/listen-address.ts';
import { nowMicros } from '../domain/time.ts';
import { createRatingEngine } from '../rating/engine.ts';
import type { Clock, RatingEngine } from '../rating/engine-types.ts';
import { RateIndexCache } from '../rating/rate-cache.ts';
import { openStorage } from '../storage/open.ts';
import type { Storage } from '../storage/storage.ts';
import { startHepAgent, type HepAgent } from '../transports/hep-agent.ts';

export interface SystemRoles {
  /** HTTP server: GraphQL API, REST agent endpoints, status. */
  api: boolean;
  /** HEP capture agent (UDP/TCP listeners) turning the calls it sees into call events. */
  agent: boolean;
  /** Rating of call events taken from the message bus (bus_url=amqp://...). */
  engine: boolean;
}

export interface StartOptions {
  roles: SystemRoles;
  /** Defaults to JSON lines on stdout at config.log_level. */
  logger?: Logger;
  /** The engine's clock; defaults to the machine's. */
  clock?: Clock;
}

export interface RunningSystem {
  /** Where the HTTP server listens (the real port when 0 was asked for). */
  readonly apiAddress: ListenAddress | null;
  readonly agent: HepAgent | null;
  /** Stops accepting, lets in-flight work finish, stops the agent, closes the database. Idempotent. */
  close(): Promise<void>;
}

function listenAddressOf(key: string, text: string): ListenAddress {
  const parsed = parseListenAddress(text);
  if ('error' in parsed) throw new ConfigError([`${key}: ${parsed.error}`]);
  return parsed;
}

/** Refuses role and key combinations that cannot work, naming the keys to change. */
function checkRoles(config: RatingConfig, roles: SystemRoles): void {
  const problems: string[] = [];
  const busIsLocal = config.bus_url === 'local';
  const agentHasListener = config.hep_listen_udp !== '' || config.hep_listen_tcp !== '';
  if (!roles.api && !roles.agent && !roles.engine) problems.push('no role to run');
  if (roles.engine && !roles.agent && busIsLocal) {
    problems.push(
      'bus_url: the engine role takes call events from a message bus; set bus_url=amqp://... (with bus_url=local the agent rates its calls in its own process)',
    );
  }
  if (roles.agent && !roles.api && !roles.engine && !agentHasListener) {
    problems.push('hep_listen_udp and hep_listen_tcp are both empty: the HEP agent has nothing to listen on');
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

export async function startSystem(config: RatingConfig, options: StartOptions): Promise<RunningSystem> {
  const logger = options.logger ?? pino({ level: config.log_level });
  const clock = options.clock ?? nowMicros;
  const { roles } = options;
  checkRoles(config, roles);
  const busIsLocal = config.bus_url === 'local';
  const agentHasListener = config.hep_listen_udp !== '' || config.hep_listen_tcp !== '';
  const runAgent = roles.agent && agentHasListener;
  // The agent needs the database only when it rates its calls itself.
  const needsStorage = roles.api || roles.engine || (runAgent && busIsLocal);

  // Everything opened so far, closed in reverse if a later step fails.
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    while (closers.length > 0) {
      const close = closers.pop();
      try {
        await close?.();
      } catch (error) {
        logger.error({ err: error }, 'error while stopping');
      }
    }
  };

  try {
    let storage: Storage | null = null;
    const rates = new RateIndexCache();
    let engine: RatingEngine | null = null;
    if (needsStorage) {
      const opened = await openStorage(config.database_url, { poolSize: config.database_pool_size, logger: logger.child({ component: 'storage' }) });
      storage = opened;
      closers.push(async () => {
        await opened.close();
        logger.info({ database_url: describeDatabase(config.database_url) }, 'database closed');
      });
      logger.info({ database_url: describeDatabase(config.database_url) }, 'database opened');
      engine = createRatingEngine({ storage: opened, clock, rates });
    }

    let consumer: BusConsumer | null = null;
    if (roles.engine && !busIsLocal && storage !== null) {
      // Storage failures must not be acknowledged as answers: the event is retried instead.
      const busEngine = createRatingEngine({ storage, clock, rates, rethrowUnexpectedErrors: true });
      const started = await startBusConsumer({ config, engine: busEngine, logger: logger.child({ component: 'bus-consumer' }) });
      consumer = started;
      closers.push(async () => {
        await started.close();
        logger.info('bus consumer stopped');
      });
      logger.info({ bus: describeBus(config), queue: config.bus_queue, protocol: config.bus_protocol }, 'consuming call events from the bus');
    }

    let agent: HepAgent | null = null;
    if (runAgent) {
      let outlet: IntentOutlet | undefined;
      if (!busIsLocal) {
        const opened = await openBusOutlet({ config, logger: logger.child({ component: 'bus-publisher' }) });
        outlet = opened;
        // Closed after the agent (registered first), so the agent's last events still go out.
        closers.push(async () => {
          await opened.close();
          logger.info('bus publisher closed');
        });
      }
      const started = await startHepAgent({
        settings: config,
        ...(engine === null ? {} : { engine }),
        ...(outlet === undefined ? {} : { outlet }),
        logger: logger.child({ component: 'hep-agent' }),
      });
      agent = started;
      closers.push(async () => {
        await started.close();
        logger.info('HEP agent stopped');
      });
      logger.info(
        { udp: started.udpAddress, tcp: started.tcpAddress, tenant: config.tenant, state: config.state_url === 'memory' ? 'memory' : 'redis', bus: describeBus(config) },
        `HEP agent listening on ${describeAgent(started)}`,
      );
    } else if (roles.agent) {
      logger.warn('HEP agent not started: hep_listen_udp and hep_listen_tcp are both empty');
    }

    const wanted = listenAddressOf('api_listen', config.api_listen);
    let app: FastifyInstance;
    if (roles.api && storage !== null && engine !== null) {
      app = await buildServer({ config, storage, engine, rates, clock, logger, agent, engineConsumer: consumer });
    } else {
      const names = (Object.keys(roles) as (keyof SystemRoles)[]).filter((role) => roles[role]);
      const sources: { agent: StatsSource | null; engine: StatsSource | null } = { agent, engine: consumer };
      app = await buildStatusServer({ config, logger, roles: names, sources });
    }
    // Registered before listen: a failed listen still has to release the server's resources.
    closers.push(async () => {
      await app.close();
      logger.info('HTTP server stopped');
    });
    await app.listen({ host: wanted.host, port: wanted.port });
    const bound = app.server.address();
    const apiAddress: ListenAddress = bound !== null && typeof bound === 'object' ? { host: bound.address, port: bound.port } : wanted;
    const base = `http://${formatHost(apiAddress.host)}:${apiAddress.port}`;
    if (roles.api) logger.info({ address: apiAddress }, `HTTP server listening on ${base} (GraphQL ${base}/graphql, REST ${base}/v1/*)`);
    else logger.info({ address: apiAddress }, `status server listening on ${base}/status`);

    let closing: Promise<void> | null = null;
    return {
      apiAddress,
      agent,
      close: () => {
        closing ??= closeAll();
        return closing;
      },
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** The database URL without its password, for logs. */
function describeDatabase(url: string): string {
  return redactPassword(url);
}

function describeBus(config: RatingConfig): string {
  return config.bus_url === 'local' ? 'local' : redactPassword(config.bus_url);
}

function redactPassword(text: string): string {
  try {
    const url = new URL(text);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return text;
  }
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function describeAgent(agent: HepAgent): string {
  const parts: string[] = [];
  if (agent.udpAddress !== null) parts.push(`udp ${formatHost(agent.udpAddress.host)}:${agent.udpAddress.port}`);
  if (agent.tcpAddress !== null) parts.push(`tcp ${formatHost(agent.tcpAddress.host)}:${agent.tcpAddress.port}`);
  return parts.join(', ');
}

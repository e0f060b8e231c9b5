// Starts the whole system in one process: database, rating engine, HTTP server (API role) and
// HEP agent (agent role), and stops it again in the reverse order.
import pino, { type Logger } from 'pino';
import { buildServer } from '../api/server.ts';
import { ConfigError, type RatingConfig } from '../config/config.ts';
import { parseListenAddress, type ListenAddress } from '../config/listen-address.ts';
import { nowMicros } from '../domain/time.ts';
import { createRatingEngine } from '../rating/engine.ts';
import type { Clock } from '../rating/engine-types.ts';
import { RateIndexCache } from '../rating/rate-cache.ts';
import { openStorage } from '../storage/open.ts';
import type { Storage } from '../storage/storage.ts';
import { startHepAgent, type HepAgent } from '../transports/hep-agent.ts';

export interface SystemRoles {
  /** HTTP server: GraphQL API, REST agent endpoints, status. */
  api: boolean;
  /** HEP capture agent (UDP/TCP listeners) rating the calls it sees. */
  agent: boolean;
}

export interface StartOptions {
  roles: SystemRoles;
  /** Defaults to JSON lines on stdout at config.log_level. */
  logger?: Logger;
  /** The engine's clock; defaults to the machine's. */
  clock?: Clock;
}

export interface RunningSystem {
  /** Where the HTTP server listens (the real port when 0 was asked for), or null without the API role. */
  readonly apiAddress: ListenAddress | null;
  readonly agent: HepAgent | null;
  /** Stops accepting, lets in-flight requests finish, stops the agent, closes the database. Idempotent. */
  close(): Promise<void>;
}

function listenAddressOf(key: string, text: string): ListenAddress {
  const parsed = parseListenAddress(text);
  if ('error' in parsed) throw new ConfigError([`${key}: ${parsed.error}`]);
  return parsed;
}

export async function startSystem(config: RatingConfig, options: StartOptions): Promise<RunningSystem> {
  const logger = options.logger ?? pino({ level: config.log_level });
  const clock = options.clock ?? nowMicros;
  const agentWanted = options.roles.agent;
  const agentHasListener = config.hep_listen_udp !== '' || config.hep_listen_tcp !== '';
  if (agentWanted && !options.roles.api && !agentHasListener) {
    throw new ConfigError(['hep_listen_udp and hep_listen_tcp are both empty: the HEP agent has nothing to listen on']);
  }

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
    const storage: Storage = await openStorage(config.database_url);
    closers.push(async () => {
      await storage.close();
      logger.info({ database_url: config.database_url }, 'database closed');
    });
    logger.info({ database_url: config.database_url }, 'database opened');

    const rates = new RateIndexCache();
    const engine = createRatingEngine({ storage, clock, rates });

    let agent: HepAgent | null = null;
    if (agentWanted && agentHasListener) {
      const started = await startHepAgent({ settings: config, engine, logger: logger.child({ component: 'hep-agent' }) });
      agent = started;
      closers.push(async () => {
        await started.close();
        logger.info('HEP agent stopped');
      });
      logger.info(
        { udp: started.udpAddress, tcp: started.tcpAddress, tenant: config.tenant },
        `HEP agent listening on ${describeAgent(started)}`,
      );
    } else if (agentWanted) {
      logger.warn('HEP agent not started: hep_listen_udp and hep_listen_tcp are both empty');
    }

    let apiAddress: ListenAddress | null = null;
    if (options.roles.api) {
      const wanted = listenAddressOf('api_listen', config.api_listen);
      const app = await buildServer({ config, storage, engine, rates, clock, logger, agent });
      // Registered before listen: a failed listen still has to release the server's resources.
      closers.push(async () => {
        await app.close();
        logger.info('HTTP server stopped');
      });
      await app.listen({ host: wanted.host, port: wanted.port });
      const bound = app.server.address();
      apiAddress = bound !== null && typeof bound === 'object' ? { host: bound.address, port: bound.port } : wanted;
      const base = `http://${formatHost(apiAddress.host)}:${apiAddress.port}`;
      logger.info({ address: apiAddress }, `HTTP server listening on ${base} (GraphQL ${base}/graphql, REST ${base}/v1/*)`);
    }

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

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function describeAgent(agent: HepAgent): string {
  const parts: string[] = [];
  if (agent.udpAddress !== null) parts.push(`udp ${formatHost(agent.udpAddress.host)}:${agent.udpAddress.port}`);
  if (agent.tcpAddress !== null) parts.push(`tcp ${formatHost(agent.tcpAddress.host)}:${agent.tcpAddress.port}`);
  return parts.join(', ');
}

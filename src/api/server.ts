// The HTTP server: GraphQL API (/graphql), the agent's REST endpoints (/v1/*) and status
// routes, on one Fastify instance; or, in processes without the API role (a separate agent or
// engine), the status routes alone. Every error answer is JSON without a stack trace.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { RatingConfig } from '../config/config.ts';
import type { Clock, RatingEngine } from '../rating/engine-types.ts';
import type { RateIndexCache } from '../rating/rate-cache.ts';
import type { Storage } from '../storage/storage.ts';
import { registerGraphql } from './graphql/index.ts';
import { registerRestRoutes } from './rest/routes.ts';

/** What GET /status/agent and /status/engine need of a running HEP agent or bus consumer. */
export interface StatsSource {
  stats(): Record<string, unknown>;
}

export interface StatusSources {
  /** The HEP agent running in this process, if any. */
  agent?: StatsSource | null;
  /** The message-bus consumer (engine role) running in this process, if any. */
  engine?: StatsSource | null;
}

export interface ServerDependencies {
  config: Pick<RatingConfig, 'api_body_limit'>;
  storage: Storage;
  engine: RatingEngine;
  rates: RateIndexCache;
  clock: Clock;
  logger: Logger;
  /** The HEP agent running in this process, if any. */
  agent?: StatsSource | null;
  /** The message-bus consumer running in this process, if any. */
  engineConsumer?: StatsSource | null;
}

export async function buildServer(deps: ServerDependencies): Promise<FastifyInstance> {
  const app = createHttpApp(deps.config, deps.logger);
  registerStatusRoutes(app, { agent: deps.agent ?? null, engine: deps.engineConsumer ?? null });
  await registerRestRoutes(app, { engine: deps.engine });
  await registerGraphql(app, { storage: deps.storage, rates: deps.rates, engine: deps.engine, clock: deps.clock });
  await app.ready();
  return app;
}

/**
 * The HTTP server of a process without the API role: /status, /status/agent, /status/engine.
 * Anything else answers 404 naming where the API is.
 */
export async function buildStatusServer(deps: {
  config: Pick<RatingConfig, 'api_body_limit'>;
  logger: Logger;
  roles: readonly string[];
  sources: StatusSources;
}): Promise<FastifyInstance> {
  const where = `this process runs the ${deps.roles.join(' and ')} role; GraphQL and /v1/* are served by the api role`;
  const app = createHttpApp(deps.config, deps.logger, where);
  registerStatusRoutes(app, deps.sources);
  await app.ready();
  return app;
}

/** `notFoundHint`: appended to 404 answers, e.g. where the missing routes are served instead. */
function createHttpApp(config: Pick<RatingConfig, 'api_body_limit'>, logger: Logger, notFoundHint?: string): FastifyInstance {
  const bodyLimit = config.api_body_limit;
  // Seen as Fastify's base logger type so the instance is the plain FastifyInstance plugins expect.
  const loggerInstance: FastifyBaseLogger = logger;
  const app = Fastify({
    loggerInstance,
    bodyLimit,
    // One log line per request would dominate the logs at call rates; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    // Let close() finish in-flight requests but drop idle keep-alive connections at once.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error, url: request.url }, 'request failed');
      return reply.code(status).send({ detail: 'Internal Server Error' });
    }
    if (status === 413) {
      return reply.code(413).send({ detail: `Request body is larger than the limit of ${bodyLimit} bytes` });
    }
    return reply.code(status).send({ detail: error.message });
  });
  app.setNotFoundHandler((request, reply) => {
    const hint = notFoundHint === undefined ? '' : ` (${notFoundHint})`;
    reply.code(404).send({ detail: `Not Found: ${request.method} ${request.url.split('?')[0]}${hint}` });
  });

  registerCors(app);
  return app;
}

function registerStatusRoutes(app: FastifyInstance, sources: StatusSources): void {
  app.get('/status', async (_request, reply) => reply.code(204).send());
  app.get('/status/agent', async (_request, reply) => {
    const agent = sources.agent ?? null;
    if (agent === null) {
      return reply.code(404).send({
        detail: 'No HEP agent runs in this process: it was started without the agent role, or hep_listen_udp and hep_listen_tcp are both empty',
      });
    }
    return reply.code(200).send(agent.stats());
  });
  app.get('/status/engine', async (_request, reply) => {
    const engine = sources.engine ?? null;
    if (engine === null) {
      return reply.code(404).send({
        detail: 'No message-bus consumer runs in this process: it was started without the engine role, or bus_url is local (calls are rated by the agent\'s own process)',
      });
    }
    return reply.code(200).send(engine.stats());
  });
}

/**
 * CORS open to any origin, any method and any header, credentials included, as the original
 * API and agent allow (rating.md §1.1). Kept tiny so no extra dependency is needed.
 */
function registerCors(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin === undefined) return;
    reply.header('access-control-allow-origin', origin);
    reply.header('access-control-allow-credentials', 'true');
    reply.header('vary', 'Origin');
    const preflightMethod = request.headers['access-control-request-method'];
    if (request.method === 'OPTIONS' && preflightMethod !== undefined) {
      reply.header('access-control-allow-methods', 'DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT');
      const requestedHeaders = request.headers['access-control-request-headers'];
      if (requestedHeaders !== undefined) reply.header('access-control-allow-headers', requestedHeaders);
      reply.header('access-control-max-age', '600');
      return reply.code(200).send();
    }
  });
}

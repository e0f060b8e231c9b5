// HTTP rules of Canyan's GraphQL endpoint (§3.1), layered on mercurius' routes: which content
// types are accepted, `?query=` on any POST, plain-text refusals, GraphiQL for browsers, and
// 405 for the other methods.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isArgs } from './args.ts';

export const NO_QUERY_MESSAGE = 'No GraphQL query found in the request';

/** mercurius' GraphiQL page; its assets are served by mercurius under /graphiql/. */
function loadGraphiqlPage(): string {
  const mercuriusEntry = createRequire(import.meta.url).resolve('mercurius');
  return readFileSync(join(dirname(mercuriusEntry), 'static', 'graphiql.html'), 'utf8');
}

function plainText(reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply.code(status).type('text/plain; charset=utf-8').send(text);
}

function queryParameters(request: FastifyRequest): Record<string, unknown> {
  return isArgs(request.query) ? request.query : {};
}

function parseVariables(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw ?? null;
  try {
    return JSON.parse(raw);
  } catch {
    return raw; // left for mercurius' body validation to reject
  }
}

/** Must run in the same encapsulation context as (or a parent of) mercurius' registration. */
export function installHttpRules(scope: FastifyInstance, path: string): void {
  const graphiqlPage = loadGraphiqlPage();

  // Any other content type still parses (as text) so that `?query=` can run and everything
  // else gets Canyan's 415 instead of Fastify's JSON error.
  scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  scope.addHook('preValidation', async (request, reply) => {
    if (request.routeOptions.url !== path) return;
    const params = queryParameters(request);
    if (request.method === 'GET') {
      if ((request.headers.accept ?? '').includes('text/html')) {
        return reply.code(200).type('text/html; charset=utf-8').send(graphiqlPage);
      }
      if (typeof params.query !== 'string') return plainText(reply, 400, NO_QUERY_MESSAGE);
      return;
    }
    if (request.method !== 'POST') return;
    const contentType = (request.headers['content-type'] ?? '').toLowerCase();
    if (contentType.includes('application/json')) {
      const body: unknown = request.body;
      if (!isArgs(body) || typeof body.query !== 'string') return plainText(reply, 400, NO_QUERY_MESSAGE);
      return;
    }
    if (contentType.includes('application/graphql')) return;
    if (typeof params.query === 'string') {
      request.body = {
        query: params.query,
        variables: parseVariables(params.variables),
        operationName: typeof params.operationName === 'string' ? params.operationName : null,
      };
      return;
    }
    return plainText(reply, 415, 'Unsupported Media Type');
  });

  scope.route({
    method: ['PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    url: path,
    handler: async (_request, reply) => plainText(reply.header('allow', 'GET, POST'), 405, 'Method Not Allowed'),
  });
}

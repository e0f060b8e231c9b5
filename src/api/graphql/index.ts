// The Canyan-compatible GraphQL API (rating-api schema plus the agent's operations) on a
// Fastify instance, served by mercurius at /graphql with GraphiQL for browsers.
import type { FastifyInstance, FastifyReply } from 'fastify';
import mercurius from 'mercurius';
import { accountTransactionMutations, accountTransactionQueries } from './account-transactions.ts';
import { agentMutations, agentQueries } from './agent.ts';
import type { GraphqlDeps } from './deps.ts';
import { entityMutations, entityQueries } from './entity-resolvers.ts';
import { httpStatusFor, toErrorBodies, unexpectedErrors } from './errors.ts';
import { fieldResolvers } from './field-resolvers.ts';
import { installHttpRules } from './http.ts';
import { BigIntScalar, DateScalar, DateTimeScalar } from './scalars.ts';
import { leastCostRoutingQuery } from './rates.ts';
import { schemaSdl } from './schema.ts';

export type { GraphqlDeps } from './deps.ts';

const GRAPHQL_PATH = '/graphql';

export function createResolvers(deps: GraphqlDeps) {
  return {
    BigInt: BigIntScalar,
    DateTime: DateTimeScalar,
    Date: DateScalar,
    Query: { ...agentQueries, ...entityQueries(deps), ...accountTransactionQueries(deps), ...leastCostRoutingQuery(deps) },
    Mutation: { ...entityMutations(deps), ...accountTransactionMutations(deps), ...agentMutations(deps) },
    ...fieldResolvers(deps),
  };
}

export async function registerGraphql(app: FastifyInstance, deps: GraphqlDeps): Promise<void> {
  // Own encapsulation context, so the content-type parsers and hooks touch only /graphql.
  await app.register(async (scope) => {
    installHttpRules(scope, GRAPHQL_PATH);
    await scope.register(mercurius, {
      schema: schemaSdl,
      resolvers: createResolvers(deps),
      path: GRAPHQL_PATH,
      graphiql: true,
      // Canyan answers 400 whenever the result holds any error, with message/locations/path only.
      errorFormatter: (execution, context) => {
        // The client sees the message only; the stack goes to the log.
        // (app.graphql() called directly runs without a reply.)
        const log = (context.reply as FastifyReply | undefined)?.log ?? context.app.log;
        for (const error of unexpectedErrors(execution.errors)) log.error({ err: error }, 'GraphQL resolver failed');
        return {
          statusCode: httpStatusFor(execution.errors),
          response: { data: execution.data ?? null, errors: toErrorBodies(execution.errors) },
        };
      },
    });
  });
}

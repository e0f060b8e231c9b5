// POST /v1/* — the original rating-agent's REST front door (rating.md §6.1), calling the engine
// in-process instead of over a message bus. Responses echo the request's parties merged with the
// engine's answer; unlike the original, failed_account_tag and failed_reason are kept (§8.21).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RatingEngine, RollbackTransactionRequest } from '../../rating/engine-types.ts';
import {
  readAuthorization,
  readBeginTransaction,
  readEndTransaction,
  readRecordTransaction,
  readRollbackTransaction,
  type ReadResult,
} from './requests.ts';

export interface RestDependencies {
  engine: RatingEngine;
}

function echoParties(request: RollbackTransactionRequest) {
  return {
    tenant: request.tenant,
    transaction_tag: request.transaction_tag,
    account_tag: request.account_tag,
    destination_account_tag: request.destination_account_tag,
  };
}

/**
 * One endpoint: validate (422 on failure), call the engine (500 without details on a throw,
 * logged), answer 200 with the merged response.
 */
function endpoint<T extends RollbackTransactionRequest>(
  operation: string,
  read: (body: unknown) => ReadResult<T>,
  call: (request: T) => Promise<Record<string, unknown>>,
) {
  return async (httpRequest: FastifyRequest, reply: FastifyReply) => {
    const parsed = read(httpRequest.body);
    if (!parsed.ok) return reply.code(422).send({ detail: parsed.issues });
    let answer: Record<string, unknown>;
    try {
      answer = await call(parsed.request);
    } catch (error) {
      httpRequest.log.error({ err: error, operation }, `rating engine failed on ${operation}`);
      return reply.code(500).send({ detail: `Internal Server Error: the rating engine failed on ${operation}` });
    }
    return reply.code(200).send({ ...echoParties(parsed.request), ...answer });
  };
}

export async function registerRestRoutes(app: FastifyInstance, deps: RestDependencies): Promise<void> {
  const { engine } = deps;

  app.post(
    '/v1/authorization',
    endpoint('authorization', readAuthorization, async (request) => {
      const answer = await engine.authorization(request);
      return {
        authorized: answer.authorized ?? false,
        authorized_destination: answer.authorized_destination ?? false,
        unauthorized_account_tag: answer.unauthorized_account_tag ?? null,
        unauthorized_reason: answer.unauthorized_reason ?? null,
        max_available_units: answer.max_available_units ?? 0,
        balance: answer.balance ?? 0,
        carriers: answer.carriers ?? [],
      };
    }),
  );

  const operationAnswer = (answer: { ok: boolean; failed_account_tag: string | null; failed_reason: string | null }) => ({
    ok: answer.ok ?? false,
    failed_account_tag: answer.failed_account_tag ?? null,
    failed_reason: answer.failed_reason ?? null,
  });

  app.post(
    '/v1/begin_transaction',
    endpoint('begin_transaction', readBeginTransaction, async (request) =>
      operationAnswer(await engine.beginTransaction(request)),
    ),
  );
  app.post(
    '/v1/end_transaction',
    endpoint('end_transaction', readEndTransaction, async (request) =>
      operationAnswer(await engine.endTransaction(request)),
    ),
  );
  app.post(
    '/v1/record_transaction',
    endpoint('record_transaction', readRecordTransaction, async (request) =>
      operationAnswer(await engine.recordTransaction(request)),
    ),
  );
  app.post(
    '/v1/rollback_transaction',
    endpoint('rollback_transaction', readRollbackTransaction, async (request) => {
      const answer = await engine.rollbackTransaction(request);
      return { ok: answer.ok ?? false };
    }),
  );
}

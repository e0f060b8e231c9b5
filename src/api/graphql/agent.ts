// The agent's GraphQL operations (Canyan §6.2): `version` and the five engine calls. Answers
// carry the request's tenant, transaction_tag and both account tags merged with the engine's
// fields. An engine failure becomes a GraphQL error on that field.
import { argBoolean, argNumber, argString, argStringList, type Args } from './args.ts';
import type { GraphqlDeps } from './deps.ts';
import type { RootResolver } from './entity-resolvers.ts';

const AGENT_API_VERSION = 1;

function parties(args: Args) {
  return {
    tenant: argString(args, 'tenant') ?? 'default',
    transaction_tag: argString(args, 'transaction_tag') ?? '',
    account_tag: argString(args, 'account_tag'),
    destination_account_tag: argString(args, 'destination_account_tag'),
  };
}

function callDetails(args: Args) {
  return {
    source: argString(args, 'source'),
    source_ip: argString(args, 'source_ip'),
    destination: argString(args, 'destination'),
    carrier_ip: argString(args, 'carrier_ip'),
    tags: argStringList(args, 'tags'),
  };
}

export const agentQueries: Record<string, RootResolver> = {
  version: () => AGENT_API_VERSION,
};

export function agentMutations(deps: GraphqlDeps): Record<string, RootResolver> {
  const { engine } = deps;
  return {
    authorization: async (_parent, args) => {
      const request = { ...parties(args), ...callDetails(args), timestamp_auth: argNumber(args, 'timestamp_auth') };
      return { ...parties(args), ...(await engine.authorization(request)) };
    },
    beginTransaction: async (_parent, args) => {
      const request = { ...parties(args), ...callDetails(args), timestamp_begin: argNumber(args, 'timestamp_begin') };
      return { ...parties(args), ...(await engine.beginTransaction(request)) };
    },
    endTransaction: async (_parent, args) => {
      const request = { ...parties(args), timestamp_end: argNumber(args, 'timestamp_end') };
      return { ...parties(args), ...(await engine.endTransaction(request)) };
    },
    rollbackTransaction: async (_parent, args) => ({ ...parties(args), ...(await engine.rollbackTransaction(parties(args))) }),
    recordTransaction: async (_parent, args) => {
      const request = {
        ...parties(args),
        ...callDetails(args),
        authorized: argBoolean(args, 'authorized') ?? false,
        unauthorized_reason: argString(args, 'unauthorized_reason'),
        timestamp_auth: argNumber(args, 'timestamp_auth'),
        // Canyan's agent passed timestamp_auth as both begin and end; we pass what was given.
        timestamp_begin: argNumber(args, 'timestamp_begin'),
        timestamp_end: argNumber(args, 'timestamp_end'),
      };
      return { ...parties(args), ...(await engine.recordTransaction(request)) };
    },
  };
}

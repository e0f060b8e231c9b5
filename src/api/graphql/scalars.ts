// Custom scalars of the Canyan schema. Values travel through resolvers in domain form: BigInt as
// a JS safe integer, DateTime and Date as integer microseconds since the epoch.
import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { formatIsoDate, formatIsoMicros, parseIsoDate, parseIsoMicros } from '../../domain/time.ts';

function safeIntegerFrom(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : null;
  if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) {
    const parsed = Number(value.trim());
    return Number.isSafeInteger(parsed) ? parsed : null;
  }
  return null;
}

function bigIntInput(value: unknown): number {
  const parsed = safeIntegerFrom(value);
  if (parsed === null) {
    throw new GraphQLError(
      `BigInt cannot represent ${JSON.stringify(value)}: an integer between ${Number.MIN_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER} is required`,
    );
  }
  return parsed;
}

/**
 * Canyan prints BigInt values above int32 as floats (`3000000000.0`); we always print JSON
 * integers, which every JSON parser reads back as the same number.
 */
export const BigIntScalar = new GraphQLScalarType({
  name: 'BigInt',
  description: 'An integer in the JavaScript safe range (money in minor units, quantities).',
  serialize(value: unknown): number {
    const parsed = safeIntegerFrom(value);
    if (parsed === null) throw new GraphQLError(`BigInt cannot represent ${JSON.stringify(value)}`);
    return parsed;
  },
  parseValue: bigIntInput,
  parseLiteral(ast: ValueNode): number {
    if (ast.kind === Kind.INT || ast.kind === Kind.STRING) return bigIntInput(ast.value);
    throw new GraphQLError(`BigInt cannot represent a non-integer value: ${ast.kind === Kind.FLOAT ? ast.value : ast.kind}`, {
      nodes: ast,
    });
  },
});

function dateTimeInput(value: unknown): number {
  const micros = typeof value === 'string' ? parseIsoMicros(value) : null;
  if (micros === null) {
    throw new GraphQLError(
      `DateTime cannot represent ${JSON.stringify(value)}: ISO-8601 text is required, e.g. "2019-02-05T20:00:00Z" or "20190205T200000Z"`,
    );
  }
  return micros;
}

function asMicros(value: unknown, scalar: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  throw new GraphQLError(`${scalar} cannot serialise ${JSON.stringify(value)}`);
}

/** Input: ISO-8601 basic or extended, any offset (naive means UTC). Output: naive UTC text. */
export const DateTimeScalar = new GraphQLScalarType({
  name: 'DateTime',
  description: 'ISO-8601 date and time; printed as naive UTC, e.g. 2019-02-05T20:00:00.',
  serialize: (value: unknown): string => formatIsoMicros(asMicros(value, 'DateTime')),
  parseValue: dateTimeInput,
  parseLiteral(ast: ValueNode): number {
    if (ast.kind === Kind.STRING) return dateTimeInput(ast.value);
    throw new GraphQLError('DateTime must be given as ISO-8601 text', { nodes: ast });
  },
});

function dateInput(value: unknown): number {
  const micros = typeof value === 'string' ? parseIsoDate(value) : null;
  if (micros === null) throw new GraphQLError(`Date cannot represent ${JSON.stringify(value)}: YYYY-MM-DD is required`);
  return micros;
}

/** A calendar day, `YYYY-MM-DD`; held as the micros of its midnight UTC. */
export const DateScalar = new GraphQLScalarType({
  name: 'Date',
  description: 'A calendar date, YYYY-MM-DD.',
  serialize: (value: unknown): string => formatIsoDate(asMicros(value, 'Date')),
  parseValue: dateInput,
  parseLiteral(ast: ValueNode): number {
    if (ast.kind === Kind.STRING) return dateInput(ast.value);
    throw new GraphQLError('Date must be given as YYYY-MM-DD text', { nodes: ast });
  },
});

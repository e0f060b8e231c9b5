// Errors a resolver raises on purpose, and the HTTP shape of every GraphQL error response.
import { GraphQLError } from 'graphql';
import { DuplicateKeyError } from '../../storage/storage.ts';

/** A request the API refuses (bad key, missing reference, invalid value). Its message is shown as is. */
export class UserInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserInputError';
  }
}

export interface ErrorBody {
  message: string;
  locations: readonly { line: number; column: number }[] | undefined;
  path: readonly (string | number)[] | undefined;
}

function describeDuplicate(error: DuplicateKeyError): string {
  const key = Object.entries(error.key)
    .map(([field, value]) => `${field} = ${String(value)}`)
    .join(', ');
  return `Duplicate key: another ${error.entity} already has ${key}`;
}

function messageOf(error: GraphQLError): string {
  const original = error.originalError;
  if (original instanceof DuplicateKeyError) return describeDuplicate(original);
  return error.message;
}

/** Errors nobody raised on purpose (storage failures, bugs): worth a log line with the stack. */
export function unexpectedErrors(errors: readonly GraphQLError[]): Error[] {
  return errors
    .map((error) => error.originalError)
    .filter(
      (original): original is Error =>
        original instanceof Error &&
        !(original instanceof GraphQLError) &&
        !(original instanceof UserInputError) &&
        !(original instanceof DuplicateKeyError) &&
        !Array.isArray((original as { errors?: unknown }).errors),
    );
}

/**
 * Flattens mercurius' wrapped validation errors and keeps only message, locations and path:
 * never stack traces or internal extensions.
 */
export function toErrorBodies(errors: readonly GraphQLError[]): ErrorBody[] {
  const bodies: ErrorBody[] = [];
  for (const error of errors) {
    const nested: unknown = (error.originalError as { errors?: unknown } | undefined)?.errors;
    if (Array.isArray(nested) && nested.length > 0) {
      for (const inner of nested) {
        if (inner instanceof GraphQLError) bodies.push(...toErrorBodies([inner]));
        else if (inner instanceof Error) bodies.push({ message: inner.message, locations: undefined, path: undefined });
      }
      continue;
    }
    bodies.push({ message: messageOf(error), locations: error.locations, path: error.path });
  }
  return bodies;
}

/**
 * Canyan answers 400 for any error. A body over the size limit is the exception: it keeps
 * Fastify's 413 so that clients can tell it apart.
 */
export function httpStatusFor(errors: readonly GraphQLError[]): number {
  const tooLarge = errors.some((error) => (error.originalError as { statusCode?: unknown } | undefined)?.statusCode === 413);
  return tooLarge ? 413 : 400;
}

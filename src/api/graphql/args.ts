// Readers for resolver arguments. graphql-js has already checked types against the schema, so
// these only narrow `unknown` values; absent and null both read as null ("not given").
import { UserInputError } from './errors.ts';

export type Args = Readonly<Record<string, unknown>>;

export function isArgs(value: unknown): value is Args {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function argString(args: Args, name: string): string | null {
  const value = args[name];
  return typeof value === 'string' ? value : null;
}

export function argNumber(args: Args, name: string): number | null {
  const value = args[name];
  return typeof value === 'number' ? value : null;
}

export function argBoolean(args: Args, name: string): boolean | null {
  const value = args[name];
  return typeof value === 'boolean' ? value : null;
}

export function argStringList(args: Args, name: string): string[] | null {
  const value = args[name];
  if (!Array.isArray(value)) return null;
  return value.filter((item): item is string => typeof item === 'string');
}

export function argObject(args: Args, name: string): Args | null {
  const value = args[name];
  return isArgs(value) ? value : null;
}

export function argObjectList(args: Args, name: string): Args[] | null {
  const value = args[name];
  if (!Array.isArray(value)) return null;
  return value.filter(isArgs);
}

/** Python-style truthiness, which decides whether Canyan applies a filter condition. */
export function truthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  return true;
}

/** Renders a value the way Canyan's error messages do (Python's `None` for a missing value). */
export function shown(value: string | null): string {
  return value ?? 'None';
}

export function requireNonNegative(name: string, value: number | null): void {
  if (value !== null && value < 0) throw new UserInputError(`${name} must not be negative (got ${value})`);
}

export function requirePositive(name: string, value: number | null): void {
  if (value !== null && value <= 0) throw new UserInputError(`${name} must be a positive integer (got ${value})`);
}

// Value resolution for scenarios (scenarios.md §1.4-1.5): `{store.path}` placeholders filled
// from earlier API responses, `{min, max}` ranges drawn from the seeded generator, lists spread
// over worker instances, and the `%(name)s` rendering of the sipp XML into the working folder.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pythonStr, renderPercentTemplate, TemplateError, type TemplateScalar } from './percent-format.ts';
import type { SeededRandom } from './random.ts';
import type { CountOrRange, TemplateValue } from './schema.ts';

/** Responses saved by `store_response`, plus the built-in `random` and `ipaddr` stores. */
export type StoredResponses = Map<string, unknown>;

export class PlaceholderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlaceholderError';
  }
}

// The original matched any "{text.text}" and failed on GraphQL text that happened to have that
// shape; requiring an identifier before the dot and no whitespace in the path keeps every real
// placeholder (`{tenant.id}`, `{acc.data.upsertAccount.id}`) and leaves GraphQL braces alone.
const PLACEHOLDER = /\{([A-Za-z_][\w-]*)\.([^{}\s]+)\}/;

function lookupPath(stores: StoredResponses, store: string, path: string, placeholder: string): unknown {
  if (!stores.has(store)) {
    const known = [...stores.keys()].sort().join(', ') || 'none';
    throw new PlaceholderError(`placeholder ${placeholder}: nothing stored under "${store}" (stored: ${known})`);
  }
  let current: unknown = stores.get(store);
  for (const segment of path.split('.')) {
    if (Array.isArray(current) && /^\d+$/.test(segment) && Number(segment) < current.length) {
      current = current[Number(segment)];
    } else if (typeof current === 'object' && current !== null && !Array.isArray(current) && Object.hasOwn(current, segment)) {
      current = (current as Record<string, unknown>)[segment];
    } else {
      throw new PlaceholderError(`placeholder ${placeholder}: the stored response "${store}" has no "${segment}" on the way to "${path}"`);
    }
  }
  return current;
}

/** Replaces the first `{store.path}` of `text` (only the first, as the original did). */
export function replaceFirstPlaceholder(text: string, stores: StoredResponses): string {
  const match = PLACEHOLDER.exec(text);
  if (match === null) return text;
  const [placeholder, store, path] = match as unknown as [string, string, string];
  const value = lookupPath(stores, store, path, placeholder);
  return text.slice(0, match.index) + pythonStr(value) + text.slice(match.index + placeholder.length);
}

/** Placeholders in an API entry: the `uri`, and the top-level text values of `payload` only. */
export function substitutePayload(
  payload: Readonly<Record<string, unknown>> | undefined,
  stores: StoredResponses,
): Record<string, unknown> | undefined {
  if (payload === undefined) return undefined;
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(payload)) {
    result[key] = typeof value === 'string' ? replaceFirstPlaceholder(value, stores) : value;
  }
  return result;
}

export function resolveCount(value: CountOrRange, random: SeededRandom): number {
  return typeof value === 'number' ? value : random.integer(value.min, value.max);
}

/**
 * The dictionary a worker instance's XML is rendered with: `basedir` and `target`, then each of
 * `values` (entries may override the two built-ins, as in the original).
 */
export function resolveTemplateValues(options: {
  values: Readonly<Record<string, TemplateValue>>;
  instanceIndex: number;
  basedir: string;
  target: string;
  random: SeededRandom;
  stores: StoredResponses;
}): Record<string, TemplateScalar> {
  const resolved: Record<string, TemplateScalar> = { basedir: options.basedir, target: options.target };
  for (const [name, value] of Object.entries(options.values)) {
    if (typeof value === 'string') resolved[name] = replaceFirstPlaceholder(value, options.stores);
    else if (typeof value === 'number') resolved[name] = value;
    else if (Array.isArray(value)) resolved[name] = value[options.instanceIndex % value.length] as TemplateScalar;
    else resolved[name] = options.random.integer(value.min, value.max);
  }
  return resolved;
}

/** Renders the XML template and writes it as `<workdir>/sipp-<id>.xml`; returns that path. */
export async function writeRenderedScenario(options: {
  template: string;
  values: Readonly<Record<string, TemplateScalar>>;
  workdir: string;
  workerId: string;
}): Promise<string> {
  const rendered = renderPercentTemplate(options.template, options.values);
  const path = join(options.workdir, `sipp-${options.workerId}.xml`);
  await writeFile(path, rendered, 'utf8');
  return path;
}

export async function readTemplate(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new TemplateError(`cannot read the sipp scenario ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}

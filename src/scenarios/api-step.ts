// HTTP entries of a scenario (setup / check / teardown, scenarios.md §1.4): `api` calls against
// the API base URL, and `kamailio_xhttp` JSON posts to a full URL. A failed entry throws
// StepFailure; the runner decides what that means for the rest of the run.
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { diffJson, formatJsonDiff } from './json-diff.ts';
import type { ApiStep, XhttpStep } from './schema.ts';
import { replaceFirstPlaceholder, substitutePayload, type StoredResponses } from './substitute.ts';

export class StepFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StepFailure';
  }
}

export interface ApiContext {
  /** Base URL the `uri` is appended to. An entry's `host` replaces it for that entry and every later one. */
  apiUrl: string;
  stores: StoredResponses;
  verbose: boolean;
  log: (line: string) => void;
  /** Upper bound for one HTTP exchange, so a hung API cannot hang the run. */
  requestTimeoutMs: number;
  /** Aborts in-flight requests and delays (e.g. on Ctrl-C). */
  signal?: AbortSignal;
}

const MAX_BODY_IN_REPORT = 2000;
const DIFF_LIMIT = 50;

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new StepFailure('interrupted'));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new StepFailure('interrupted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function ownAddress(): Promise<string> {
  try {
    return (await lookup(hostname(), { family: 4 })).address;
  } catch {
    return '127.0.0.1';
  }
}

/** The two stores the original refreshes before every API call: `{random.uuid4}` and `{ipaddr.ip}`. */
export async function refreshBuiltinStores(stores: StoredResponses): Promise<void> {
  stores.set('random', { uuid4: randomUUID() });
  stores.set('ipaddr', { ip: await ownAddress() });
}

function truncate(text: string): string {
  return text.length > MAX_BODY_IN_REPORT ? `${text.slice(0, MAX_BODY_IN_REPORT)}… (${text.length} characters)` : text;
}

function describeFetchError(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return 'no answer in time';
    const cause = (error as Error & { cause?: unknown }).cause;
    if (cause instanceof Error) {
      const code = (cause as NodeJS.ErrnoException).code;
      return code === undefined ? cause.message : `${code} (${cause.message})`;
    }
    return error.message;
  }
  return String(error);
}

async function exchange(
  method: string,
  url: string,
  payload: Record<string, unknown> | undefined,
  context: ApiContext,
): Promise<{ status: number; text: string }> {
  const timeout = AbortSignal.timeout(context.requestTimeoutMs);
  const signal = context.signal === undefined ? timeout : AbortSignal.any([timeout, context.signal]);
  try {
    const response = await fetch(url, {
      method,
      headers: payload === undefined ? {} : { 'content-type': 'application/json' },
      body: payload === undefined ? undefined : JSON.stringify(payload),
      signal,
    });
    return { status: response.status, text: await response.text() };
  } catch (error) {
    throw new StepFailure(`${method} ${url} failed: ${describeFetchError(error)}`);
  }
}

function parseJsonBody(text: string, url: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new StepFailure(`POST ${url} answered 200 with a body that is not JSON: ${truncate(text)}`);
  }
}

function warnAboutGraphqlErrors(body: unknown, context: ApiContext): void {
  if (typeof body !== 'object' || body === null || !('errors' in body)) return;
  const errors = (body as { errors: unknown }).errors;
  if (!Array.isArray(errors) || errors.length === 0) return;
  const first: unknown = errors[0];
  const message = typeof first === 'object' && first !== null && 'message' in first ? String(first.message) : JSON.stringify(first);
  context.log(`  warning: the response carries ${errors.length} GraphQL error(s), first: ${message}`);
}

function compareWithExpected(step: ApiStep & { expected_response: string }, body: unknown, url: string, context: ApiContext): void {
  context.log('  Comparing results...');
  const expected = JSON.parse(step.expected_response) as unknown;
  const differences = diffJson(expected, body, DIFF_LIMIT);
  if (differences.length === 0) {
    context.log('  OK: Results match!');
    return;
  }
  const count = differences.length >= DIFF_LIMIT ? `${DIFF_LIMIT} or more places` : `${differences.length} place(s)`;
  const summary = [`NO Match! POST ${url}: the response differs from expected_response in ${count}:`, ...formatJsonDiff(differences)];
  const documents = (shorten: (text: string) => string): string[] => [
    `  expected: ${shorten(JSON.stringify(expected))}`,
    `  actual:   ${shorten(JSON.stringify(body))}`,
  ];
  // The log gets both documents whole; the failure, which is repeated in the final report, keeps them short.
  for (const line of [...summary, ...documents((text) => text)]) context.log(line);
  throw new StepFailure([...summary, ...documents(truncate)].join('\n'));
}

/**
 * Runs one `api` entry. `honourDelay` is true for checks only: the original sleeps `delay`
 * seconds before a check and ignores the key elsewhere.
 */
export async function runApiStep(step: ApiStep, context: ApiContext, options: { label: string; honourDelay: boolean }): Promise<void> {
  if (options.honourDelay && step.delay > 0) {
    context.log(`${options.label} waiting ${step.delay} s`);
    await sleep(step.delay * 1000, context.signal);
  }
  if (step.host !== undefined && step.host !== context.apiUrl) {
    context.log(`${options.label} API base URL is now ${step.host} (host override; later entries keep it)`);
    context.apiUrl = step.host;
  }
  if (step.method !== 'POST' && step.method !== 'DELETE') {
    context.log(`${options.label} warning: method ${step.method} is not supported (only POST and DELETE); entry skipped`);
    return;
  }
  await refreshBuiltinStores(context.stores);
  const url = context.apiUrl + replaceFirstPlaceholder(step.uri, context.stores);
  const payload = substitutePayload(step.payload, context.stores);
  context.log(`${options.label} ${step.method} ${url}`);
  if (context.verbose && payload !== undefined) context.log(`  payload: ${JSON.stringify(payload, null, 2)}`);

  const { status, text } = await exchange(step.method, url, payload, context);
  if (context.verbose) context.log(`  response ${status}: ${truncate(text)}`);
  if (status !== 200) {
    throw new StepFailure(`${step.method} ${url} answered HTTP ${status} (expected 200): ${truncate(text)}`);
  }
  if (step.method === 'DELETE') return;

  const body = parseJsonBody(text, url);
  warnAboutGraphqlErrors(body, context);
  if (step.expected_response !== undefined) compareWithExpected({ ...step, expected_response: step.expected_response }, body, url, context);
  if (step.store_response !== undefined) {
    const isObject = typeof body === 'object' && body !== null && !Array.isArray(body);
    // As in the original: a matched response is kept whatever its shape, otherwise only an object.
    context.stores.set(step.store_response, step.expected_response !== undefined || isObject ? body : null);
  }
}

/** Runs one `kamailio_xhttp` entry: sleeps `delay` seconds, POSTs the JSON payload, requires 200. */
export async function runXhttpStep(step: XhttpStep, context: ApiContext, options: { label: string }): Promise<void> {
  if (step.method !== 'POST') {
    context.log(`${options.label} warning: kamailio_xhttp method ${step.method} is not supported (only POST); entry skipped`);
    return;
  }
  if (step.delay > 0) await sleep(step.delay * 1000, context.signal);
  context.log(`${options.label} POST ${step.uri}`);
  if (context.verbose) context.log(`  payload: ${JSON.stringify(step.payload)}`);
  const { status, text } = await exchange('POST', step.uri, step.payload, context);
  if (context.verbose) context.log(`  response ${status}: ${truncate(text)}`);
  if (status !== 200) throw new StepFailure(`POST ${step.uri} answered HTTP ${status} (expected 200): ${truncate(text)}`);
}

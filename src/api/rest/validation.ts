// Reads a JSON request body field by field with the leniency of the original agent (pydantic 1
// behind FastAPI): unknown keys are ignored, numbers are accepted as text, "yes"/"1" as true,
// ISO-8601 text or epoch seconds as timestamps. Every problem is collected, not just the first,
// and reported in FastAPI's `{"detail": [{loc, msg, type}]}` shape.
import type { Micros } from '../../domain/types.ts';
import { MICROS_PER_SECOND, parseIsoMicros } from '../../domain/time.ts';

export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

const MISSING: ValidationIssue = { loc: [], msg: 'field required', type: 'value_error.missing' };
const NONE_NOT_ALLOWED = { msg: 'none is not an allowed value', type: 'type_error.none.not_allowed' };
const NOT_TEXT = { msg: 'str type expected', type: 'type_error.str' };

// pydantic 1 reads epoch numbers above this as milliseconds.
const MILLISECONDS_WATERSHED = 2e10;

const TRUE_WORDS = new Set(['1', 'on', 't', 'true', 'y', 'yes']);
const FALSE_WORDS = new Set(['0', 'off', 'f', 'false', 'n', 'no']);

export class BodyReader {
  readonly issues: ValidationIssue[] = [];
  private readonly fields: Readonly<Record<string, unknown>>;
  /** Without an object there are no fields to complain about: the body itself is the issue. */
  private readonly bodyRejected: boolean = true;

  constructor(body: unknown) {
    if (body === undefined || body === null) {
      this.issues.push({ ...MISSING, loc: ['body'] });
      this.fields = {};
    } else if (typeof body !== 'object' || Array.isArray(body)) {
      this.issues.push({ loc: ['body'], msg: 'value is not a valid dict', type: 'type_error.dict' });
      this.fields = {};
    } else {
      this.bodyRejected = false;
      this.fields = body as Record<string, unknown>;
    }
  }

  get valid(): boolean {
    return this.issues.length === 0;
  }

  requiredText(name: string): string {
    const value = this.fields[name];
    if (value === undefined) {
      if (!this.bodyRejected) this.issues.push({ ...MISSING, loc: ['body', name] });
      return '';
    }
    if (value === null) {
      this.issues.push({ ...NONE_NOT_ALLOWED, loc: ['body', name] });
      return '';
    }
    return this.textOf(value, ['body', name]) ?? '';
  }

  /** Absent or null gives `fallback`. */
  optionalText(name: string, fallback: string | null = null): string | null {
    const value = this.fields[name];
    if (value === undefined || value === null) return fallback;
    return this.textOf(value, ['body', name]);
  }

  optionalTextList(name: string): string[] | null {
    const value = this.fields[name];
    if (value === undefined || value === null) return null;
    if (!Array.isArray(value)) {
      this.issues.push({ loc: ['body', name], msg: 'value is not a valid list', type: 'type_error.list' });
      return null;
    }
    const items: string[] = [];
    value.forEach((item: unknown, index) => {
      if (item === null) this.issues.push({ ...NONE_NOT_ALLOWED, loc: ['body', name, index] });
      else items.push(this.textOf(item, ['body', name, index]) ?? '');
    });
    return items;
  }

  optionalTimestamp(name: string): Micros | null {
    const value = this.fields[name];
    if (value === undefined || value === null) return null;
    const micros = timestampOf(value);
    if (micros === null) {
      this.issues.push({ loc: ['body', name], msg: 'invalid datetime format', type: 'value_error.datetime' });
    }
    return micros;
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.fields[name];
    if (value === undefined || value === null) return fallback;
    if (typeof value === 'boolean') return value;
    if (value === 0 || value === 1) return value === 1;
    if (typeof value === 'string') {
      const word = value.trim().toLowerCase();
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
    }
    this.issues.push({ loc: ['body', name], msg: 'value could not be parsed to a boolean', type: 'type_error.bool' });
    return fallback;
  }

  optionalInteger(name: string): number | null {
    const value = this.fields[name];
    if (value === undefined || value === null) return null;
    const number = typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
    if (typeof number === 'number' && Number.isSafeInteger(number)) return number;
    this.issues.push({ loc: ['body', name], msg: 'value is not a valid integer', type: 'type_error.integer' });
    return null;
  }

  private textOf(value: unknown, loc: (string | number)[]): string | null {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    this.issues.push({ ...NOT_TEXT, loc });
    return null;
  }
}

function timestampOf(value: unknown): Micros | null {
  let seconds: number | null = null;
  if (typeof value === 'number' && Number.isFinite(value)) seconds = value;
  else if (typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) seconds = Number(value);
  else if (typeof value === 'string') return parseIsoMicros(value);
  if (seconds === null) return null;
  if (Math.abs(seconds) > MILLISECONDS_WATERSHED) seconds /= 1000;
  const micros = Math.round(seconds * MICROS_PER_SECOND);
  return Number.isSafeInteger(micros) ? micros : null;
}

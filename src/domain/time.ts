// Timestamps as integer microseconds since the epoch, and their ISO-8601 text forms.
// Canyan accepts basic and extended ISO-8601 (with or without offset; naive means UTC) and
// prints naive UTC text (`2019-02-05T20:00:00`, `.ffffff` only when there is a fraction).
import type { Micros } from './types.ts';

export const MICROS_PER_SECOND = 1_000_000;
export const MICROS_PER_DAY = 86_400 * MICROS_PER_SECOND;

export function nowMicros(): Micros {
  // Millisecond resolution is enough for the engine's own clock; captured calls carry their
  // own microsecond timestamps from HEP.
  return Date.now() * 1000;
}

export function microsFromDate(date: Date): Micros {
  return date.getTime() * 1000;
}

// Extended: 2019-02-05T20:00:00(.ffffff)(Z|+01:00|+0100)   Basic: 20190205T200000(.ffffff)(Z|+0100)
// Also a date alone (midnight UTC) and a space instead of "T".
const EXTENDED = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
const BASIC = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(?:(\d{2})(?:[.,](\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Parses ISO-8601 text to microseconds, or returns null when the text is not a valid timestamp. */
export function parseIsoMicros(text: string): Micros | null {
  const trimmed = text.trim();
  const m = EXTENDED.exec(trimmed) ?? BASIC.exec(trimmed);
  if (m === null) return null;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const millis = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(millis);
  if (check.getUTCDate() !== day || check.getUTCMonth() !== month - 1) return null; // e.g. Feb 30
  const micros = Number((frac + '000000').slice(0, 6));
  let offsetMinutes = 0;
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    if (oh > 23 || om > 59) return null;
    offsetMinutes = sign * (oh * 60 + om);
  }
  return (millis - offsetMinutes * 60_000) * 1000 + micros;
}

/** Accepts ISO text or an epoch number in seconds (fractions allowed), as Canyan's engine does. */
export function parseTimestamp(value: unknown): Micros | null {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return null;
    return Math.round(value * MICROS_PER_SECOND);
  }
  if (typeof value === 'string') return parseIsoMicros(value);
  return null;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** Naive UTC ISO text: `2019-02-05T20:00:00`, or `2019-02-05T20:00:00.250000` with a fraction. */
export function formatIsoMicros(micros: Micros): string {
  const millis = Math.floor(micros / 1000);
  const date = new Date(millis);
  const base =
    `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}` +
    `T${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
  const fraction = ((micros % MICROS_PER_SECOND) + MICROS_PER_SECOND) % MICROS_PER_SECOND;
  return fraction === 0 ? base : `${base}.${pad(fraction, 6)}`;
}

/** `YYYY-MM-DD` of a timestamp (UTC). */
export function formatIsoDate(micros: Micros): string {
  return formatIsoMicros(micros).slice(0, 10);
}

/** Parses `YYYY-MM-DD` to the micros of its midnight UTC, or null. */
export function parseIsoDate(text: string): Micros | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text.trim())) return null;
  return parseIsoMicros(text.trim());
}

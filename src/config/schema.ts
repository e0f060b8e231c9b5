// What each configuration key accepts. Values arrive typed from YAML but as text from the
// environment and the command line, so every schema takes both and normalises.
import { z } from 'zod';
import { parseDatabaseUrl } from '../storage/open.ts';
import { formatListenAddress, parseListenAddress } from './listen-address.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Scalars YAML may hand us for a text setting (`product_tag: 123` is meant as text). */
const text = z.union([z.string(), z.number(), z.bigint()], {
  errorMap: () => ({ message: 'must be text' }),
}).transform((value) => String(value).trim());

const nonEmptyText = text.pipe(z.string().min(1, 'must not be empty'));

function wholeNumber(min: number): z.ZodType<number, z.ZodTypeDef, unknown> {
  return z
    .union([z.number(), z.string().trim().regex(/^-?\d+$/, 'must be a whole number')], {
      errorMap: (issue, ctx) => ({ message: issue.code === 'invalid_union' ? 'must be a whole number' : ctx.defaultError }),
    })
    .transform(Number)
    .pipe(
      z
        .number()
        .int('must be a whole number')
        .min(min, `must be at least ${min}`)
        .max(Number.MAX_SAFE_INTEGER, 'is too large'),
    );
}

/** A list from YAML, or one string split on commas and/or whitespace (the original split env lists on whitespace). */
const textList = z
  .union([z.array(text), text, z.null()], { errorMap: () => ({ message: 'must be a list of text values' }) })
  .transform((value): string[] => {
    if (value === null) return [];
    const items = Array.isArray(value) ? value : value.split(/[\s,]+/);
    return items.map((item) => item.trim()).filter((item) => item !== '');
  });

function listenAddress(options: { allowDisabled: boolean }): z.ZodType<string, z.ZodTypeDef, unknown> {
  return text.transform((value, ctx) => {
    if (value === '' && options.allowDisabled) return '';
    const parsed = parseListenAddress(value);
    if ('error' in parsed) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: parsed.error });
      return z.NEVER;
    }
    return formatListenAddress(parsed);
  });
}

// RFC 3261 token characters: what a SIP header name may contain.
const headerName = text.refine((value) => /^[A-Za-z0-9!#$%&'*+.^_`|~-]*$/.test(value), {
  message: 'must be a SIP header name (letters, digits and -, or empty)',
});

const regexpSource = text.superRefine((value, ctx) => {
  if (value === '') return;
  try {
    new RegExp(value);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `is not a valid regular expression (${reason})` });
  }
});

// Checked by the storage's own parser, so configuration accepts exactly what can be opened.
const databaseUrl = nonEmptyText.superRefine((value, ctx) => {
  try {
    parseDatabaseUrl(value);
  } catch (error) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: error instanceof Error ? error.message : String(error) });
  }
});

/** A URL with one of `schemes`, or exactly one of `keywords`. */
function urlOrKeyword(keywords: readonly string[], schemes: readonly string[]): z.ZodType<string, z.ZodTypeDef, unknown> {
  const expected = [...keywords, ...schemes.map((scheme) => `${scheme}//...`)].join(' or ');
  return nonEmptyText.superRefine((value, ctx) => {
    if (keywords.includes(value)) return;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be ${expected}` });
      return;
    }
    if (!schemes.includes(url.protocol)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be ${expected}` });
  });
}

export const BUS_PROTOCOLS = ['native', 'canyan'] as const;
export type BusProtocol = (typeof BUS_PROTOCOLS)[number];

const busProtocol = text.transform((value) => value.toLowerCase()).pipe(
  z.enum(BUS_PROTOCOLS, { errorMap: () => ({ message: `must be one of ${BUS_PROTOCOLS.join(', ')}` }) }),
);

// AMQP queue names: up to 255 bytes; "amq." is reserved by the broker.
const queueName = nonEmptyText.refine((value) => Buffer.byteLength(value) <= 200 && !value.startsWith('amq.'), {
  message: 'must be a queue name of at most 200 bytes, not starting with "amq."',
});

const logLevel = text.transform((value) => value.toLowerCase()).pipe(
  z.enum(LOG_LEVELS, { errorMap: () => ({ message: `must be one of ${LOG_LEVELS.join(', ')}` }) }),
);

export const configSchema = z
  .object({
    api_listen: listenAddress({ allowDisabled: false }),
    database_url: databaseUrl,
    tenant: nonEmptyText,
    log_level: logLevel,
    api_body_limit: wholeNumber(1),
    hep_listen_udp: listenAddress({ allowDisabled: true }),
    hep_listen_tcp: listenAddress({ allowDisabled: true }),
    sip_local_domains: textList,
    sip_header_caller: headerName,
    sip_header_callee: headerName,
    sip_header_history_info: headerName,
    sip_header_history_info_index: wholeNumber(0),
    account_tag_match_regexp: regexpSource,
    product_tag: text,
    transaction_tags: textList,
    call_max_duration: wholeNumber(1),
    call_unanswered_timeout: wholeNumber(1),
    database_pool_size: wholeNumber(1),
    state_url: urlOrKeyword(['memory'], ['redis:', 'rediss:']),
    state_key_prefix: text,
    state_file: text,
    bus_url: urlOrKeyword(['local'], ['amqp:', 'amqps:']),
    bus_protocol: busProtocol,
    bus_queue: queueName,
    spool_dir: nonEmptyText,
    spool_max_bytes: wholeNumber(4096),
    engine_prefetch: wholeNumber(1),
  })
  .strict();

// The scenario YAML format of canyan-tester (scenarios.md §1.4). Unknown keys are rejected:
// the original silently ignored them, which turned a typo such as `repeats:` into a scenario that
// "passes" while testing something else.
import { z } from 'zod';

/** `{min, max}`: drawn uniformly, both ends included, from the seeded generator. */
export const rangeSchema = z
  .object({ min: z.number().int(), max: z.number().int() })
  .strict()
  .refine((range) => range.min <= range.max, { message: 'min must not be greater than max' });
export type IntegerRange = z.infer<typeof rangeSchema>;

/** A number, or a `{min, max}` range resolved per worker instance. */
const countOrRange = z.union([z.number().int().min(0), rangeSchema], {
  errorMap: () => ({ message: 'must be a whole number or {min, max}' }),
});
export type CountOrRange = z.infer<typeof countOrRange>;

// sipp receives these verbatim on its command line, so text such as "10" is as good as a number.
const sippNumber = z.union([z.number(), z.string().regex(/^\d+(\.\d+)?$/)], {
  errorMap: () => ({ message: 'must be a number' }),
});

const templateScalar = z.union([z.string(), z.number()]);

/** One entry of a worker's `values`: text, a number, a list spread over instances, or a range. */
export const templateValueSchema = z.union([templateScalar, z.array(templateScalar).min(1), rangeSchema], {
  errorMap: () => ({ message: 'must be text, a number, a non-empty list or {min, max}' }),
});
export type TemplateValue = z.infer<typeof templateValueSchema>;

const seconds = z.number({ invalid_type_error: 'must be a number of seconds' }).min(0);

const jsonText = z.string().superRefine((text, ctx) => {
  try {
    JSON.parse(text);
  } catch (error) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be JSON text (${(error as Error).message})` });
  }
});

export const apiStepSchema = z
  .object({
    type: z.literal('api').default('api'),
    uri: z.string().default('/'),
    // The original implements only POST and DELETE and silently does nothing for other methods;
    // they are accepted here and reported as skipped when run.
    method: z.string().transform((method) => method.toUpperCase()).default('POST'),
    payload: z.record(z.unknown()).optional(),
    expected_response: jsonText.optional(),
    store_response: z.string().min(1).optional(),
    host: z.string().min(1).optional(),
    delay: seconds.default(0),
  })
  .strict();
export type ApiStep = z.infer<typeof apiStepSchema>;

export const xhttpStepSchema = z
  .object({
    type: z.literal('kamailio_xhttp'),
    uri: z.string().min(1),
    method: z.string().transform((method) => method.toUpperCase()).default('POST'),
    payload: z.record(z.unknown()).default({}),
    delay: seconds.default(0),
  })
  .strict();
export type XhttpStep = z.infer<typeof xhttpStepSchema>;

export const sippWorkerSchema = z
  .object({
    type: z.literal('sipp').default('sipp'),
    scenario: z.string().min(1).optional(),
    number: countOrRange.default(1),
    repeat: countOrRange.default(1),
    timeout: z.number({ invalid_type_error: 'must be a number of seconds' }).positive().nullable().default(null),
    delay: countOrRange.default(0),
    call_limit: sippNumber.default(1),
    call_rate: sippNumber.default(1),
    call_rate_period: sippNumber.default(1000),
    call_number: sippNumber.default(1),
    extra_args: z.union([z.array(templateScalar), z.string()]).optional(),
    max_errors: z.number().int().min(0).default(0),
    values: z.record(templateValueSchema).default({}),
  })
  .strict();
export type SippWorker = z.infer<typeof sippWorkerSchema>;

export interface IgnoredEntry {
  type: 'ignored';
  declaredType: string;
}

/** Any `type` this tool does not know is kept (and skipped with a warning), as the original did. */
function ignoredEntrySchema(known: readonly string[]): z.ZodType<IgnoredEntry, z.ZodTypeDef, unknown> {
  return z
    .object({ type: z.string() })
    .passthrough()
    .refine((entry) => !known.includes(entry.type))
    .transform((entry): IgnoredEntry => ({ type: 'ignored', declaredType: entry.type }));
}

type Entry<T> = z.ZodType<T, z.ZodTypeDef, unknown>;

/** Picks the entry schema from `type`, so errors talk about the keys of that kind of entry. */
function byType<T>(defaultType: string, schemas: Record<string, Entry<T>>): Entry<T | IgnoredEntry> {
  const ignored = ignoredEntrySchema(Object.keys(schemas));
  return z.unknown().transform((raw, ctx): T | IgnoredEntry => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be a mapping' });
      return z.NEVER;
    }
    const declared = (raw as Record<string, unknown>)['type'] ?? defaultType;
    if (typeof declared !== 'string') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'type must be text', path: ['type'] });
      return z.NEVER;
    }
    const schema = schemas[declared] ?? ignored;
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) ctx.addIssue(issue);
      return z.NEVER;
    }
    return parsed.data;
  });
}

export type StepEntry = ApiStep | XhttpStep | IgnoredEntry;
export type WorkerEntry = SippWorker | XhttpStep | IgnoredEntry;

const stepEntry = byType<ApiStep | XhttpStep>('api', { api: apiStepSchema, kamailio_xhttp: xhttpStepSchema });
const workerEntry = byType<SippWorker | XhttpStep>('sipp', { sipp: sippWorkerSchema, kamailio_xhttp: xhttpStepSchema });
// YAML turns an empty section (`check:` with nothing under it) into null.
const stepList = z.array(stepEntry).nullable().transform((list) => list ?? []).default([]);

export const scenarioSchema = z
  .object({
    basedir: z.string().min(1).optional(),
    setup: stepList,
    // Optional on purpose: the original reports a missing worker list only after setup has run.
    workers: z.array(workerEntry).nullable().transform((list) => list ?? []).default([]),
    check: stepList,
    teardown: stepList,
  })
  .strict();

export type ScenarioDocument = z.infer<typeof scenarioSchema>;

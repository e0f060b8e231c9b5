// Reads a scenario YAML and validates it, so that mistakes surface before any call is placed,
// with messages naming the file and the offending key (e.g. `workers[0].repeat`).
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { ZodIssue } from 'zod';
import { scenarioSchema, type ScenarioDocument } from './schema.ts';

export class ScenarioError extends Error {
  readonly file: string;
  readonly problems: readonly string[];

  constructor(file: string, problems: readonly string[]) {
    super(`invalid scenario ${file}: ${problems.join('; ')}`);
    this.name = 'ScenarioError';
    this.file = file;
    this.problems = problems;
  }
}

export interface LoadedScenario extends ScenarioDocument {
  /** Absolute path of the YAML file. */
  file: string;
  /** Absolute folder the sipp XML paths are relative to: `basedir` from the YAML, else the YAML's folder. */
  basedir: string;
}

/** `workers[0].values.to_port` from zod's path segments. */
export function formatKeyPath(path: readonly (string | number)[]): string {
  let text = '';
  for (const segment of path) {
    text += typeof segment === 'number' ? `[${segment}]` : text === '' ? segment : `.${segment}`;
  }
  return text === '' ? '(document root)' : text;
}

function describeIssue(issue: ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const where = issue.path.length === 0 ? '' : ` in ${formatKeyPath(issue.path)}`;
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `"${key}"`).join(', ')}${where}`;
  }
  return `${formatKeyPath(issue.path)}: ${issue.message}`;
}

/** Validates already-parsed YAML; `file` is only used for messages and to default `basedir`. */
export function parseScenario(raw: unknown, file: string): LoadedScenario {
  const absoluteFile = resolve(file);
  const parsed = scenarioSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new ScenarioError(absoluteFile, parsed.error.issues.map(describeIssue));
  const yamlFolder = dirname(absoluteFile);
  return {
    ...parsed.data,
    file: absoluteFile,
    basedir: parsed.data.basedir === undefined ? yamlFolder : resolve(yamlFolder, parsed.data.basedir),
  };
}

export function loadScenarioFile(file: string): LoadedScenario {
  const absoluteFile = resolve(file);
  let text: string;
  try {
    text = readFileSync(absoluteFile, 'utf8');
  } catch (error) {
    throw new ScenarioError(absoluteFile, [`cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`]);
  }
  const document = parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) {
    throw new ScenarioError(absoluteFile, document.errors.map((error) => `YAML syntax: ${error.message}`));
  }
  return parseScenario(document.toJS(), absoluteFile);
}

// Exact comparison of `expected_response` with the API's answer, and a structural diff for the
// report. Equality follows the original's Python `!=` on parsed JSON: whole-document, key order
// ignored, list order significant, and numbers equal to booleans the way Python's are (True == 1).

export interface JsonDifference {
  /** Where the documents differ, e.g. `data.allTransactions[0].inbound`; `(root)` for the whole. */
  path: string;
  /** `undefined` when the key is absent on that side. */
  expected: unknown;
  actual: unknown;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asPythonNumber(value: unknown): number | null {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return null;
}

function sameScalar(expected: unknown, actual: unknown): boolean {
  const left = asPythonNumber(expected);
  const right = asPythonNumber(actual);
  if (left !== null && right !== null) return left === right;
  return expected === actual;
}

export function pythonJsonEqual(expected: unknown, actual: unknown): boolean {
  return diffJson(expected, actual, 1).length === 0;
}

function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  const segment = /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key);
  if (parent === '') return /^[A-Za-z_$]/.test(segment) ? segment : `[${segment}]`;
  return /^[A-Za-z_$]/.test(segment) ? `${parent}.${segment}` : `${parent}[${segment}]`;
}

/** Every difference between the two documents, at most `limit` of them, outermost first. */
export function diffJson(expected: unknown, actual: unknown, limit = 50): JsonDifference[] {
  const differences: JsonDifference[] = [];
  const visit = (left: unknown, right: unknown, path: string): void => {
    if (differences.length >= limit) return;
    if (Array.isArray(left) && Array.isArray(right)) {
      const common = Math.min(left.length, right.length);
      for (let i = 0; i < common; i += 1) visit(left[i], right[i], childPath(path, i));
      for (let i = common; i < Math.max(left.length, right.length) && differences.length < limit; i += 1) {
        differences.push({ path: childPath(path, i), expected: left[i], actual: right[i] });
      }
      return;
    }
    if (isPlainObject(left) && isPlainObject(right)) {
      for (const key of Object.keys(left)) {
        visit(left[key], Object.hasOwn(right, key) ? right[key] : undefined, childPath(path, key));
      }
      for (const key of Object.keys(right)) {
        if (!Object.hasOwn(left, key) && differences.length < limit) {
          differences.push({ path: childPath(path, key), expected: undefined, actual: right[key] });
        }
      }
      return;
    }
    if (!sameScalar(left, right)) differences.push({ path: path === '' ? '(root)' : path, expected: left, actual: right });
  };
  visit(expected, actual, '');
  return differences;
}

function show(value: unknown, maxLength: number): string {
  if (value === undefined) return '(absent)';
  const text = JSON.stringify(value);
  return text.length > maxLength ? `${text.slice(0, maxLength - 1)}…` : text;
}

/** One line per difference: `  data.x[0].inbound: expected false, actual true`. */
export function formatJsonDiff(differences: readonly JsonDifference[], maxValueLength = 200): string[] {
  return differences.map(
    (difference) => `  ${difference.path}: expected ${show(difference.expected, maxValueLength)}, actual ${show(difference.actual, maxValueLength)}`,
  );
}

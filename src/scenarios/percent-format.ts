// Python's `template % mapping` for sipp XML templates (scenarios.md §1.5): placeholders are
// `%(name)s` / `%(name)d`, and a literal `%` must be written `%%`. Only the mapping form exists in
// scenario files, so a specifier without `(name)` is an error rather than Python's positional form.

export type TemplateScalar = string | number;

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

// %(name) flags width .precision [length modifier, ignored as in Python] conversion
const SPECIFIER = /%(?:\(([^)]*)\))?([-#0 +]*)(\d+)?(?:\.(\d+))?[hlL]?(.?)/y;

function lineAt(template: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i += 1) if (template.charCodeAt(i) === 10) line += 1;
  return line;
}

/** Python's str() of a value from YAML. */
export function pythonStr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return JSON.stringify(value);
}

function pythonRepr(value: TemplateScalar): string {
  if (typeof value === 'number') return String(value);
  const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
  const escaped = value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
  return quote + (quote === "'" ? escaped.replace(/'/g, "\\'") : escaped) + quote;
}

interface Specifier {
  flags: string;
  width: number;
  precision: number | null;
  conversion: string;
}

function pad(text: string, spec: Specifier, numeric: boolean): string {
  if (text.length >= spec.width) return text;
  if (spec.flags.includes('-')) return text.padEnd(spec.width, ' ');
  if (numeric && spec.flags.includes('0')) {
    const sign = /^[-+ ]/.test(text) ? text[0] : '';
    return sign + text.slice(sign.length).padStart(spec.width - sign.length, '0');
  }
  return text.padStart(spec.width, ' ');
}

function signed(text: string, negative: boolean, flags: string): string {
  if (negative) return `-${text}`;
  if (flags.includes('+')) return `+${text}`;
  if (flags.includes(' ')) return ` ${text}`;
  return text;
}

function formatNumber(value: number, spec: Specifier): string {
  const magnitude = Math.abs(value);
  switch (spec.conversion) {
    case 'd':
    case 'i':
    case 'u':
      return signed(String(Math.trunc(magnitude)), value < 0 && Math.trunc(magnitude) !== 0, spec.flags);
    case 'x':
    case 'X': {
      const digits = Math.trunc(magnitude).toString(16);
      const prefixed = (spec.flags.includes('#') ? '0x' : '') + digits;
      const text = spec.conversion === 'X' ? prefixed.toUpperCase() : prefixed;
      return signed(text, value < 0, spec.flags);
    }
    case 'o':
      return signed((spec.flags.includes('#') ? '0o' : '') + Math.trunc(magnitude).toString(8), value < 0, spec.flags);
    case 'e':
    case 'E': {
      const text = magnitude.toExponential(spec.precision ?? 6).replace(/e([+-])(\d)$/, 'e$10$2');
      return signed(spec.conversion === 'E' ? text.toUpperCase() : text, value < 0, spec.flags);
    }
    case 'g':
    case 'G': {
      const text = String(Number(magnitude.toPrecision(spec.precision === 0 ? 1 : (spec.precision ?? 6))));
      return signed(spec.conversion === 'G' ? text.toUpperCase() : text, value < 0, spec.flags);
    }
    default:
      return signed(magnitude.toFixed(spec.precision ?? 6), value < 0, spec.flags);
  }
}

function formatOne(name: string, value: TemplateScalar, spec: Specifier): string {
  switch (spec.conversion) {
    case 's':
    case 'r':
    case 'a': {
      const text = spec.conversion === 's' ? pythonStr(value) : pythonRepr(value);
      return pad(spec.precision === null ? text : text.slice(0, spec.precision), spec, false);
    }
    default:
      if (typeof value !== 'number') {
        throw new TemplateError(`%(${name})${spec.conversion} needs a number, but "${name}" is the text ${pythonRepr(value)}`);
      }
      return pad(formatNumber(value, spec), spec, true);
  }
}

const CONVERSIONS = new Set(['s', 'r', 'a', 'd', 'i', 'u', 'x', 'X', 'o', 'e', 'E', 'f', 'F', 'g', 'G']);

/**
 * Renders `template` against `values` with Python %-formatting rules. Throws TemplateError naming
 * the line for an unknown key (Python's KeyError), a lone `%`, or an unsupported conversion.
 */
export function renderPercentTemplate(template: string, values: Readonly<Record<string, TemplateScalar>>): string {
  let output = '';
  let cursor = 0;
  for (;;) {
    const percent = template.indexOf('%', cursor);
    if (percent === -1) return output + template.slice(cursor);
    output += template.slice(cursor, percent);
    if (template[percent + 1] === '%') {
      output += '%';
      cursor = percent + 2;
      continue;
    }
    SPECIFIER.lastIndex = percent;
    const match = SPECIFIER.exec(template);
    const where = `line ${lineAt(template, percent)}`;
    if (match === null) throw new TemplateError(`malformed % placeholder at ${where}`);
    const [whole, name, flags = '', width, precision, conversion = ''] = match;
    if (name === undefined) {
      throw new TemplateError(`"%" without a (name) at ${where}; write %% for a literal percent sign`);
    }
    if (conversion === '') throw new TemplateError(`incomplete placeholder %(${name}) at ${where}`);
    if (!CONVERSIONS.has(conversion)) {
      throw new TemplateError(`unsupported conversion %(${name})${conversion} at ${where}; write %% for a literal percent sign`);
    }
    if (!Object.hasOwn(values, name)) {
      const known = Object.keys(values).sort().join(', ');
      throw new TemplateError(`the template uses %(${name})${conversion} at ${where}, but no value "${name}" is defined (values: ${known})`);
    }
    output += formatOne(name, values[name] as TemplateScalar, {
      flags,
      width: width === undefined ? 0 : Number(width),
      precision: precision === undefined ? null : Number(precision),
      conversion,
    });
    cursor = percent + whole.length;
  }
}

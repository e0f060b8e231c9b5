// Small helpers for the generic parts of SIP header values: comma-separated elements and
// ";name=value" parameters, both of which must ignore separators inside quotes and <...>.

/** The first comma-separated element of a header value (commas in quotes or <> don't count). */
export function firstElement(value: string): string {
  let inQuotes = false;
  let inBrackets = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (inQuotes) {
      if (c === '\\') i++;
      else if (c === '"') inQuotes = false;
    } else if (c === '"') {
      inQuotes = true;
    } else if (c === '<') {
      inBrackets = true;
    } else if (c === '>') {
      inBrackets = false;
    } else if (c === ',' && !inBrackets) {
      return value.slice(0, i).trim();
    }
  }
  return value.trim();
}

/**
 * The value of parameter `name` (case-insensitive) in text like ";a=1;tag=xyz". A parameter given
 * without "=value" yields "". Returns null when the parameter is absent.
 */
export function findParameter(params: string, name: string): string | null {
  const wanted = name.toLowerCase();
  let start = 0;
  while (start <= params.length) {
    let end = start;
    let inQuotes = false;
    while (end < params.length) {
      const c = params[end];
      if (inQuotes) {
        if (c === '\\') end++;
        else if (c === '"') inQuotes = false;
      } else if (c === '"') {
        inQuotes = true;
      } else if (c === ';') {
        break;
      }
      end++;
    }
    const part = params.slice(start, Math.min(end, params.length));
    const eq = part.indexOf('=');
    const key = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (key === wanted) return eq === -1 ? '' : part.slice(eq + 1).trim();
    start = end + 1;
  }
  return null;
}

/** Removes surrounding double quotes and backslash escapes from a quoted-string. */
export function unquote(text: string): string {
  if (text.length < 2 || text[0] !== '"' || text[text.length - 1] !== '"') return text;
  let out = '';
  for (let i = 1; i < text.length - 1; i++) {
    if (text[i] === '\\' && i + 1 < text.length - 1) i++;
    out += text[i];
  }
  return out;
}

// The first line of a SIP message: "METHOD Request-URI SIP/2.0" or "SIP/2.0 Status-Code Reason".

export type StartLine =
  | { kind: 'request'; method: string; requestUri: string }
  | { kind: 'response'; statusCode: number };

export type StartLineResult = { ok: true; line: StartLine } | { ok: false; reason: string };

const TOKEN_PUNCTUATION = "-.!%*_+`'~";

function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const alnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    if (!alnum && !TOKEN_PUNCTUATION.includes(text[i])) return false;
  }
  return true;
}

/** "SIP/" DIGITS "." DIGITS, case-insensitive as RFC 3261 §7.1 allows. */
function isSipVersion(text: string): boolean {
  if (text.length < 7 || text.slice(0, 4).toUpperCase() !== 'SIP/') return false;
  const dot = text.indexOf('.', 4);
  if (dot <= 4 || dot === text.length - 1) return false;
  for (let i = 4; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (i !== dot && (c < 0x30 || c > 0x39)) return false;
  }
  return true;
}

function hasControlCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

/** Splits on runs of spaces/tabs; senders are not always strict about single spaces. */
function splitWords(text: string, maxWords: number): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length && words.length < maxWords) {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i++;
    if (i >= text.length) break;
    let end = i;
    if (words.length === maxWords - 1) {
      end = text.length; // the last word keeps the rest (e.g. a reason phrase with spaces)
    } else {
      while (end < text.length && text[end] !== ' ' && text[end] !== '\t') end++;
    }
    words.push(text.slice(i, end));
    i = end;
  }
  return words;
}

export function parseStartLine(text: string): StartLineResult {
  if (text.length === 0) return { ok: false, reason: 'empty start line' };
  if (hasControlCharacters(text)) return { ok: false, reason: 'control characters in start line' };
  if (text.slice(0, 4).toUpperCase() === 'SIP/') {
    const [version = '', code = ''] = splitWords(text, 3);
    if (!isSipVersion(version)) return { ok: false, reason: `bad SIP version in status line: ${version}` };
    if (!/^[1-6][0-9][0-9]$/.test(code)) return { ok: false, reason: `bad status code: ${code}` };
    return { ok: true, line: { kind: 'response', statusCode: Number(code) } };
  }
  const words = splitWords(text, 4);
  if (words.length !== 3) return { ok: false, reason: 'request line is not "METHOD URI SIP/2.0"' };
  const [method, requestUri, version] = words;
  if (!isToken(method)) return { ok: false, reason: `bad method: ${method}` };
  if (!requestUri.includes(':')) return { ok: false, reason: `bad request URI: ${requestUri}` };
  if (!isSipVersion(version)) return { ok: false, reason: `bad SIP version in request line: ${version}` };
  return { ok: true, line: { kind: 'request', method, requestUri } };
}

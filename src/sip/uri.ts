// SIP/SIPS/TEL URI parsing, just deep enough for identification: scheme, user, host and port.
import type { SipUri } from './types.ts';

function isSchemeText(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i) | 0x20; // folds ASCII letters to lower case
    const letter = c >= 0x61 && c <= 0x7a;
    const other = i > 0 && ((c >= 0x30 && c <= 0x39) || text[i] === '+' || text[i] === '-' || text[i] === '.');
    if (!letter && !other) return false;
  }
  return true;
}

/** The index of the first `;` or `?` at or after `from`, or the text length. */
function endOfHostPart(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === ';' || c === '?') return i;
  }
  return text.length;
}

function parsePort(text: string): number | null {
  if (text.length === 0 || text.length > 5) return null;
  let port = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return null;
    port = port * 10 + (c - 0x30);
  }
  return port <= 65535 ? port : null;
}

/** host[:port], where host may be an IPv6 reference in brackets (kept with its brackets). */
function parseHostPort(text: string): { host: string; port: number | null } | null {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 2) return null;
    const after = text.slice(close + 1);
    if (after.length > 0 && !after.startsWith(':')) return null;
    return { host: text.slice(0, close + 1), port: after.length > 0 ? parsePort(after.slice(1)) : null };
  }
  const colon = text.indexOf(':');
  const host = colon === -1 ? text : text.slice(0, colon);
  if (host.length === 0 || host.includes(' ') || host.includes('\t')) return null;
  return { host, port: colon === -1 ? null : parsePort(text.slice(colon + 1)) };
}

/** Parses "scheme:..." text; returns null for text that is not a URI we can read. */
export function parseUri(input: string): SipUri | null {
  const text = input.trim();
  const colon = text.indexOf(':');
  if (colon <= 0) return null;
  const schemeText = text.slice(0, colon);
  if (!isSchemeText(schemeText)) return null;
  const scheme = schemeText.toLowerCase();
  const rest = text.slice(colon + 1);
  if (scheme === 'tel') {
    // A telephone number is the "user"; there is no host.
    const number = rest.slice(0, endOfHostPart(rest, 0));
    return number.length > 0 ? { scheme, user: number, host: '', port: null } : null;
  }
  if (scheme !== 'sip' && scheme !== 'sips') {
    const opaque = rest.slice(0, endOfHostPart(rest, 0));
    return opaque.length > 0 ? { scheme, user: null, host: opaque, port: null } : null;
  }
  // The user part may itself contain ';' and '?' (e.g. "+39123;npdi@host"), so find the '@' first.
  const at = rest.indexOf('@');
  let user: string | null = null;
  let hostStart = 0;
  if (at !== -1) {
    const userinfo = rest.slice(0, at);
    const passwordColon = userinfo.indexOf(':');
    user = passwordColon === -1 ? userinfo : userinfo.slice(0, passwordColon);
    hostStart = at + 1;
  }
  const hostPort = parseHostPort(rest.slice(hostStart, endOfHostPart(rest, hostStart)));
  if (hostPort === null) return null;
  return { scheme, user, host: hostPort.host, port: hostPort.port };
}

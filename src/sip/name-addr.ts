// From, To, Contact, P-Asserted-Identity: `"Display" <uri>;params` or a bare `uri;params`.
import type { SipNameAddr } from './types.ts';
import { parseUri } from './uri.ts';
import { findParameter, firstElement, unquote } from './value-syntax.ts';

/** Index of the first '<' outside a quoted display name, or -1. */
function openingBracket(element: string): number {
  let inQuotes = false;
  for (let i = 0; i < element.length; i++) {
    const c = element[i];
    if (inQuotes) {
      if (c === '\\') i++;
      else if (c === '"') inQuotes = false;
    } else if (c === '"') {
      inQuotes = true;
    } else if (c === '<') {
      return i;
    }
  }
  return -1;
}

/** Parses the first name-addr of a header value; `raw` is the value as given (already unfolded). */
export function parseNameAddr(raw: string): SipNameAddr {
  const element = firstElement(raw);
  const lt = openingBracket(element);
  if (lt === -1) {
    // Without <>, everything after the first ';' is a header parameter (RFC 3261 §20.10).
    const semi = element.indexOf(';');
    const uriText = semi === -1 ? element : element.slice(0, semi);
    const params = semi === -1 ? '' : element.slice(semi);
    return { raw, displayName: null, uri: parseUri(uriText), tag: findParameter(params, 'tag') };
  }
  const display = unquote(element.slice(0, lt).trim());
  const gt = element.indexOf('>', lt + 1);
  const uriText = gt === -1 ? element.slice(lt + 1) : element.slice(lt + 1, gt);
  const params = gt === -1 ? '' : element.slice(gt + 1);
  return {
    raw,
    displayName: display.length > 0 ? display : null,
    uri: parseUri(uriText),
    tag: findParameter(params, 'tag'),
  };
}

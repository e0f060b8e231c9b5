// Who is calling whom: the account tags and SIP addresses of a call, derived from its INVITE with
// the original Canyan HEP agent's rules (scenarios.md §5.2), in their exact priority order.
import type { SipMessage, SipNameAddr } from './types.ts';
import { HistoryInfoScanner } from './history-info.ts';

export interface AccountIdentificationSettings {
  /** Empty means "unset": domain-based detection is then disabled, as in the original. */
  sip_local_domains: readonly string[];
  sip_header_caller: string;
  sip_header_callee: string;
  sip_header_history_info: string;
  sip_header_history_info_index: number;
  account_tag_match_regexp: string;
}

/** Each field is "" when unknown. */
export interface CallParties {
  accountTag: string;
  destinationAccountTag: string;
  source: string;
  destination: string;
}

/**
 * Compiles the tag regexp once. Like the original (which skipped an uncompilable expression),
 * an invalid expression leaves the tags unchanged. The Unicode flag is tried first because Go
 * regexps work on code points; patterns only valid without it are accepted too.
 */
function compileTagRegexp(source: string): RegExp | null {
  if (source === '') return null;
  for (const flags of ['u', '']) {
    try {
      return new RegExp(source, flags);
    } catch {
      // try the next flag set
    }
  }
  return null;
}

/**
 * On a match the tag becomes capture group 1; a group that did not take part yields "" (Go's
 * behaviour). The original panicked on a matching pattern without any group; here the tag is kept.
 */
function applyTagRegexp(tag: string, regexp: RegExp | null): string {
  if (regexp === null || tag === '') return tag;
  const match = regexp.exec(tag);
  if (match === null || match.length < 2) return tag;
  return match[1] ?? '';
}

/** "sip:user@host" without port or parameters, whatever the URI's scheme; "" without a URI. */
function partyAddress(nameAddr: SipNameAddr | null): string {
  const uri = nameAddr?.uri ?? null;
  if (uri === null) return '';
  return `sip:${uri.user ?? ''}@${uri.host}`;
}

/** The value of the last occurrence of a custom header, as the original's header map kept it. */
function customHeader(message: SipMessage, name: string): string {
  if (name === '') return '';
  const values = message.headers(name);
  return values.length === 0 ? '' : values[values.length - 1];
}

export function createAccountIdentifier(settings: AccountIdentificationSettings): (message: SipMessage) => CallParties {
  const localDomains: ReadonlySet<string> | null =
    settings.sip_local_domains.length > 0 ? new Set(settings.sip_local_domains) : null;
  const isLocal = (host: string | null | undefined): boolean =>
    localDomains !== null && host !== null && host !== undefined && localDomains.has(host);
  const historyInfoName = settings.sip_header_history_info;
  const historyInfo = historyInfoName === '' ? null : new HistoryInfoScanner(historyInfoName);
  const historyInfoIndex = settings.sip_header_history_info_index;
  const tagRegexp = compileTagRegexp(settings.account_tag_match_regexp);

  function historyInfoUser(message: SipMessage): string {
    if (historyInfo === null || historyInfoIndex < 0) return '';
    // Hand-made messages may lack the raw payload: rebuild the History-Info lines from headers.
    const payload =
      message.payload ??
      Buffer.from(message.headers(historyInfoName).map((value) => `${historyInfoName}: ${value}\r\n`).join(''), 'utf8');
    const users = historyInfo.users(payload);
    // Counted from the end: index 0 is the last entry, index 1 the one before it.
    return users.length > historyInfoIndex ? users[users.length - 1 - historyInfoIndex] : '';
  }

  function accountTag(message: SipMessage): string {
    const fromHistory = historyInfoUser(message);
    if (fromHistory !== '') return fromHistory;
    const fromCallerHeader = customHeader(message, settings.sip_header_caller);
    if (fromCallerHeader !== '') return fromCallerHeader;
    const pai = message.pAssertedIdentity;
    if (pai !== null) {
      // An unreadable PAI counted with its raw text as the user and no host in the original.
      const paiUser = pai.uri === null ? pai.raw : (pai.uri.user ?? '');
      const paiHost = pai.uri === null ? '' : pai.uri.host;
      // Once a PAI qualifies, its user is final even when empty: From is not consulted.
      if (localDomains === null || isLocal(paiHost)) return paiUser;
    }
    const from = message.from;
    if (localDomains !== null && isLocal(from?.uri?.host)) return from?.uri?.user ?? '';
    return '';
  }

  function destinationAccountTag(message: SipMessage): string {
    const fromCalleeHeader = customHeader(message, settings.sip_header_callee);
    if (fromCalleeHeader !== '') return fromCalleeHeader;
    const to = message.to;
    if (isLocal(to?.uri?.host)) return to?.uri?.user ?? '';
    return '';
  }

  return (message) => ({
    accountTag: applyTagRegexp(accountTag(message), tagRegexp),
    destinationAccountTag: applyTagRegexp(destinationAccountTag(message), tagRegexp),
    source: partyAddress(message.from),
    destination: partyAddress(message.to),
  });
}

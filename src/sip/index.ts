// Public surface of the SIP parser (see .tmp/interfaces.md, section 5).
export type { SipUri, SipNameAddr, SipMessage, SipParseResult } from './types.ts';
export { parseSip } from './parse.ts';

// Shapes of a parsed SIP message, shared by the parser, account identification and the HEP agent.

export interface SipUri {
  scheme: string;
  /** The userinfo part without any password; null when the URI has no "user@". */
  user: string | null;
  /** Host as written (IPv6 references keep their brackets), never with the port. */
  host: string;
  port: number | null;
}

export interface SipNameAddr {
  /** The whole header value, unfolded and trimmed. */
  raw: string;
  displayName: string | null;
  /** null when the value holds no URI we can read (e.g. `Contact: *`). */
  uri: SipUri | null;
  tag: string | null;
}

export interface SipMessage {
  readonly isRequest: boolean;
  readonly method: string | null;
  readonly statusCode: number | null;
  readonly requestUri: string | null;
  readonly callId: string | null;
  /**
   * Where the Call-ID value that `callId` reads lies in the parsed buffer, [callIdStart,
   * callIdEnd), when it is one line; -1 (or absent, in hand-made messages) otherwise.
   */
  readonly callIdStart?: number;
  readonly callIdEnd?: number;
  readonly cseqNumber: number | null;
  readonly cseqMethod: string | null;
  readonly from: SipNameAddr | null;
  readonly to: SipNameAddr | null;
  /** from?.tag, read without building the name-addr when that is all a caller needs. */
  readonly fromTag: string | null;
  /** to?.tag, read without building the name-addr. */
  readonly toTag: string | null;
  /** Branch of the top-most Via. */
  readonly viaBranch: string | null;
  readonly pAssertedIdentity: SipNameAddr | null;
  /** First value; the name is case-insensitive and long and compact forms are interchangeable. */
  header(name: string): string | null;
  /** Every occurrence in order, folded lines unfolded. */
  headers(name: string): string[];
  /**
   * The captured bytes themselves (not a copy). Optional so that hand-made messages in tests
   * stay valid; account identification needs it because the original agent matched
   * History-Info against the whole raw payload, not against parsed headers.
   */
  readonly payload?: Buffer;
}

export type SipParseResult = { ok: true; message: SipMessage } | { ok: false; reason: string };

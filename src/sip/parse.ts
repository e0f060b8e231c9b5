// Entry point of the SIP parser: locates the start line and the known headers, validates the
// start line, and hands back a lazily decoded message. Malformed input is reported, never thrown.
import type { SipParseResult } from './types.ts';
import { knownHeadersAfter, scanKnownHeaders, startLineStartOf } from './known-headers.ts';
import { parseStartLine, scanStartLineAt, scannedStartLine } from './start-line.ts';
import { methodText } from './methods.ts';
import { CapturedSipMessage } from './message.ts';

export function parseSip(payload: Buffer): SipParseResult {
  try {
    if (payload.length === 0) return { ok: false, reason: 'empty payload' };
    const start = startLineStartOf(payload);
    // The byte scan finds the end of the start line as it reads it.
    if (scanStartLineAt(payload, start, payload.length)) {
      const spans = scannedStartLine;
      const known = knownHeadersAfter(payload, start, spans.lineEnd, spans.lineFeed);
      const message = spans.isRequest
        ? new CapturedSipMessage(payload, known, true, methodText(payload, spans.methodStart, spans.methodEnd), null, spans.uriStart, spans.uriEnd, undefined)
        : new CapturedSipMessage(payload, known, false, null, spans.statusCode, -1, -1, null);
      return { ok: true, message };
    }
    const known = scanKnownHeaders(payload);
    const end = known.startLineEnd;
    if (end <= start) return { ok: false, reason: 'no start line' };
    // Unusual start lines (extra spaces, bad syntax) go through the text-level parser, which
    // also words the rejection reason.
    const parsed = parseStartLine(payload.toString('utf8', start, end));
    if (!parsed.ok) return { ok: false, reason: parsed.reason };
    const line = parsed.line;
    const message =
      line.kind === 'request'
        ? new CapturedSipMessage(payload, known, true, line.method, null, -1, -1, line.requestUri)
        : new CapturedSipMessage(payload, known, false, null, line.statusCode, -1, -1, null);
    return { ok: true, message };
  } catch (error) {
    // Defensive only: the scan uses bounds-checked Buffer reads, so this is not expected to happen.
    return { ok: false, reason: `unparseable payload: ${error instanceof Error ? error.message : String(error)}` };
  }
}

// Entry point of the SIP parser: locates the start line and the known headers, validates the
// start line, and hands back a lazily decoded message. Malformed input is reported, never thrown.
import type { SipParseResult } from './types.ts';
import { scanKnownHeaders } from './known-headers.ts';
import { parseStartLine, scanStartLineInto, scannedStartLine } from './start-line.ts';
import { methodText } from './methods.ts';
import { CapturedSipMessage } from './message.ts';

export function parseSip(payload: Buffer): SipParseResult {
  try {
    if (payload.length === 0) return { ok: false, reason: 'empty payload' };
    const known = scanKnownHeaders(payload);
    const start = known.startLineStart;
    const end = known.startLineEnd;
    if (end <= start) return { ok: false, reason: 'no start line' };
    if (scanStartLineInto(payload, start, end)) {
      const spans = scannedStartLine;
      const message = spans.isRequest
        ? new CapturedSipMessage(payload, known, true, methodText(payload, spans.methodStart, spans.methodEnd), null, spans.uriStart, spans.uriEnd, undefined)
        : new CapturedSipMessage(payload, known, false, null, spans.statusCode, -1, -1, null);
      return { ok: true, message };
    }
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

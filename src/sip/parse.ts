// Entry point of the SIP parser: locates the start line and the known headers, validates the
// start line, and hands back a lazily decoded message. Malformed input is reported, never thrown.
import type { SipParseResult } from './types.ts';
import { scanKnownHeaders, scanStartLineAndHeaders, startLineStartOf } from './known-headers.ts';
import { parseStartLine, scannedStartLine } from './start-line.ts';
import { COMMON_METHODS, methodText } from './methods.ts';
import { CapturedSipMessage } from './message.ts';

/**
 * Parses the SIP message in payload[from, limit), by default the whole buffer. The span form lets
 * the HEP agent parse the payload where it lies in the captured packet, without creating a Buffer
 * view of it (which costs more than reading the start line). The message's offsets are the buffer's.
 */
export function parseSip(payload: Buffer, from = 0, limit: number = payload.length): SipParseResult {
  try {
    if (!(from >= 0 && from <= limit && limit <= payload.length)) {
      return { ok: false, reason: `payload span [${from}, ${limit}) is not inside the ${payload.length}-byte buffer` };
    }
    if (from === limit) return { ok: false, reason: 'empty payload' };
    const start = startLineStartOf(payload, from, limit);
    // The usual start lines are read by the scan kernel, with the header lines, in one call.
    const scanned = scanStartLineAndHeaders(payload, from, limit, start);
    if (scanned !== null) {
      const spans = scannedStartLine;
      if (!spans.isRequest) return { ok: true, message: new CapturedSipMessage(payload, scanned, false, null, spans.statusCode, -1, -1, null) };
      const method = spans.methodIndex !== -1 ? COMMON_METHODS[spans.methodIndex] : methodText(payload, spans.methodStart, spans.methodEnd);
      return { ok: true, message: new CapturedSipMessage(payload, scanned, true, method, null, spans.uriStart, spans.uriEnd, undefined) };
    }
    const known = scanKnownHeaders(payload, from, limit);
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

// Entry point of the SIP parser: validates the start line, indexes the headers, and hands back a
// lazily decoded message. Malformed input is reported, never thrown.
import type { SipParseResult } from './types.ts';
import { scanLayout } from './header-table.ts';
import { parseStartLine } from './start-line.ts';
import { CapturedSipMessage } from './message.ts';

export function parseSip(payload: Buffer): SipParseResult {
  try {
    if (payload.length === 0) return { ok: false, reason: 'empty payload' };
    const layout = scanLayout(payload);
    if (layout.startLineEnd <= layout.startLineStart) return { ok: false, reason: 'no start line' };
    const startLine = parseStartLine(payload.toString('utf8', layout.startLineStart, layout.startLineEnd));
    if (!startLine.ok) return { ok: false, reason: startLine.reason };
    return { ok: true, message: new CapturedSipMessage(payload, layout, startLine.line) };
  } catch (error) {
    // Defensive only: the scan uses bounds-checked Buffer reads, so this is not expected to happen.
    return { ok: false, reason: `unparseable payload: ${error instanceof Error ? error.message : String(error)}` };
  }
}

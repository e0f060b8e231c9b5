// History-Info users, found the way the original agent found them: it did not parse the header
// but ran the pattern `<name>:\s*<sip:(.+)@` over the whole raw payload (Go regexp semantics).
// The scan below reproduces that pattern byte for byte without a regular expression:
//   - the header name is matched literally and case-sensitively, anywhere in the payload;
//   - `\s*` is Go's \s, i.e. [\t\n\f\r ], so the "<sip:" may even start on the next line;
//   - `(.+)@` is greedy and `.` excludes only "\n": the user runs to the LAST '@' of the line;
//   - matches do not overlap: the search resumes right after each match.

const LF = 0x0a;
const AT = 0x40;
const SIP_PREFIX = Buffer.from('<sip:', 'latin1');

function isGoSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0c || byte === 0x0d;
}

function startsWithAt(payload: Buffer, offset: number, prefix: Buffer): boolean {
  if (offset + prefix.length > payload.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    if (payload[offset + i] !== prefix[i]) return false;
  }
  return true;
}

export class HistoryInfoScanner {
  private readonly needle: Buffer;

  constructor(headerName: string) {
    this.needle = Buffer.from(`${headerName}:`, 'utf8');
  }

  /** Every captured user, in payload order. */
  users(payload: Buffer): string[] {
    const users: string[] = [];
    let from = 0;
    while (from < payload.length) {
      const hit = payload.indexOf(this.needle, from);
      if (hit === -1) break;
      let cursor = hit + this.needle.length;
      while (cursor < payload.length && isGoSpace(payload[cursor])) cursor++;
      if (startsWithAt(payload, cursor, SIP_PREFIX)) {
        const userStart = cursor + SIP_PREFIX.length;
        const lf = payload.indexOf(LF, userStart);
        const lineEnd = lf === -1 ? payload.length : lf;
        // `.+` needs at least one character before the '@'.
        const at = lineEnd - 1 > userStart ? payload.lastIndexOf(AT, lineEnd - 1) : -1;
        if (at > userStart) {
          users.push(payload.toString('utf8', userStart, at));
          from = at + 1;
          continue;
        }
      }
      from = hit + 1;
    }
    return users;
  }
}

// Method names seen on every packet (start line, CSeq) are returned as shared constants, so the
// common case allocates no string at all.
import { asciiText, equalsExactly } from './bytes.ts';

const COMMON_METHODS: readonly string[] = [
  'INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PRACK', 'UPDATE', 'INFO',
  'SUBSCRIBE', 'NOTIFY', 'REFER', 'MESSAGE', 'PUBLISH',
];

/** The method token at payload[start, end) (ASCII, already validated), shared when common. */
export function methodText(payload: Buffer, start: number, end: number): string {
  for (let i = 0; i < COMMON_METHODS.length; i++) {
    const method = COMMON_METHODS[i];
    if (method.length === end - start && method.charCodeAt(0) === payload[start] && equalsExactly(payload, start, end, method)) {
      return method;
    }
  }
  return asciiText(payload, start, end);
}

// CSeq: "<sequence number> <method>".

export interface CSeq {
  number: number | null;
  method: string | null;
}

export function parseCSeq(value: string): CSeq {
  const text = value.trim();
  let i = 0;
  let number = 0;
  while (i < text.length && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) {
    number = number * 10 + (text.charCodeAt(i) - 0x30);
    i++;
  }
  // RFC 3261 caps the number at 2^31-1; anything beyond is not a CSeq we can compare safely.
  const validNumber = i > 0 && i <= 10 && number <= 0x7fffffff;
  const digitsEnd = i;
  while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i++;
  let methodEnd = i;
  while (methodEnd < text.length && text[methodEnd] !== ' ' && text[methodEnd] !== '\t') methodEnd++;
  const method = digitsEnd > 0 && i > digitsEnd && methodEnd > i ? text.slice(i, methodEnd) : null;
  return { number: validNumber ? number : null, method };
}

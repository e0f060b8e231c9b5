// Text forms of raw IP addresses, built straight from the packet bytes (no allocation of
// intermediate arrays, no node:net round trip) because every HEP message carries two of them.

export function formatIpv4(bytes: Buffer, offset: number): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/** RFC 5952 text: lower-case hex, longest run (>= 2 groups) of zero groups as "::", IPv4-mapped as ::ffff:a.b.c.d. */
export function formatIpv6(bytes: Buffer, offset: number): string {
  const groups: number[] = new Array<number>(8);
  for (let i = 0; i < 8; i++) groups[i] = (bytes[offset + 2 * i] << 8) | bytes[offset + 2 * i + 1];

  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `::ffff:${formatIpv4(bytes, offset + 12)}`;
  }

  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && groups[end] === 0) end++;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  if (bestLength < 2) bestStart = -1;

  let text = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += '::';
      i += bestLength - 1;
      continue;
    }
    if (text.length > 0 && !text.endsWith(':')) text += ':';
    text += groups[i].toString(16);
  }
  return text;
}

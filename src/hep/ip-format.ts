// Text forms of raw IP addresses, built straight from the packet bytes (no allocation of
// intermediate arrays, no node:net round trip) because every HEP message carries two of them.

// Recently formatted IPv4 addresses, direct-mapped on the low bits of the address. A HEP feed
// comes from a few proxies talking to a bounded set of peers, so addresses repeat from packet to
// packet, and a hit skips four number conversions and three joins. A miss (or a collision) just
// formats the address and takes the slot; the size stays fixed whatever the traffic.
const IPV4_SLOTS = 1024;
const ipv4Keys = new Float64Array(IPV4_SLOTS).fill(-1);
const ipv4Texts: string[] = new Array<string>(IPV4_SLOTS).fill('');

export function formatIpv4(bytes: Buffer, offset: number): string {
  const a = bytes[offset];
  const b = bytes[offset + 1];
  const c = bytes[offset + 2];
  const d = bytes[offset + 3];
  const key = a * 0x1000000 + ((b << 16) | (c << 8) | d);
  const slot = ((c << 8) | d) & (IPV4_SLOTS - 1);
  if (ipv4Keys[slot] === key) return ipv4Texts[slot];
  const text = `${a}.${b}.${c}.${d}`;
  ipv4Keys[slot] = key;
  ipv4Texts[slot] = text;
  return text;
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

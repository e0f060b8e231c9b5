import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatIpv4, formatIpv6 } from '../../src/hep/ip-format.ts';

const v6 = (hex: string): string => formatIpv6(Buffer.from(hex, 'hex'), 0);

test('IPv4 dotted quad at an offset', () => {
  assert.equal(formatIpv4(Buffer.from([9, 127, 0, 0, 1, 9]), 1), '127.0.0.1');
  assert.equal(formatIpv4(Buffer.from([255, 255, 255, 255]), 0), '255.255.255.255');
});

test('IPv4 text stays right when remembered addresses share a cache slot', () => {
  // Same low 10 bits, so the same slot of the cache of recent addresses: each must evict the other.
  const addresses = [[10, 0, 0, 1], [10, 0, 4, 1], [192, 168, 0, 1], [10, 0, 0, 1], [172, 16, 252, 1], [10, 0, 4, 1]];
  for (let round = 0; round < 2; round++) {
    for (const bytes of addresses) assert.equal(formatIpv4(Buffer.from(bytes), 0), bytes.join('.'));
  }
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(255), fc.nat(255), fc.nat(3), fc.nat(1)), { maxLength: 40 }), (quads) => {
      for (const quad of quads) assert.equal(formatIpv4(Buffer.from(quad), 0), quad.join('.'));
    }),
    { numRuns: 300, seed: 20261202 },
  );
});

test('IPv6 text per RFC 5952', () => {
  assert.equal(v6('00000000000000000000000000000000'), '::');
  assert.equal(v6('00000000000000000000000000000001'), '::1');
  assert.equal(v6('20010db8000000000000000000000001'), '2001:db8::1');
  assert.equal(v6('20010db8000000000001000000000001'), '2001:db8::1:0:0:1'); // first of two equal runs
  assert.equal(v6('20010db8000100010001000100010000'), '2001:db8:1:1:1:1:1:0'); // a single zero group stays
  assert.equal(v6('00010000000100000001000000010000'), '1:0:1:0:1:0:1:0');
  assert.equal(v6('fe800000000000000202b3fffe1e8329'), 'fe80::202:b3ff:fe1e:8329');
  assert.equal(v6('20010db8000000000000000000000000'), '2001:db8::');
  assert.equal(v6('00000000000000000000ffffc0a80001'), '::ffff:192.168.0.1');
});

test('IPv6 text agrees with the WHATWG URL serializer (non-mapped addresses)', () => {
  const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
  fc.assert(
    fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
      const bytes = Buffer.alloc(16);
      groups.forEach((value, i) => bytes.writeUInt16BE(value, 2 * i));
      fc.pre(!(groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff));
      const expected = new URL(`http://[${groups.map((g) => g.toString(16)).join(':')}]/`).hostname.slice(1, -1);
      assert.equal(formatIpv6(bytes, 0), expected);
    }),
    { numRuns: 1000, seed: 7 },
  );
});

// Hand-built HEP packets for what the captures do not show: the spec's worked example, IPv6,
// vendor and unknown chunks, compression, the OpenSIPS JSON wrapper, and every error reason.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { decodeHep, type HepDecodeResult, type HepErrorReason, type HepMessage } from '../../src/hep/index.ts';
import { MAX_INFLATED_PAYLOAD_BYTES } from '../../src/hep/payload.ts';
import { hepFields } from './message-fields.ts';
import { SAMPLE_SIP, buildHep12, buildHep3, chunk, ipv4, typicalChunks, u16, u32, u8 } from './builder.ts';

function ok(result: HepDecodeResult): HepMessage {
  if (!result.ok) assert.fail(`expected a message, got ${result.error.reason}: ${result.error.detail}`);
  return result.message;
}

function failsWith(packet: Buffer, reason: HepErrorReason): void {
  const result = decodeHep(packet);
  assert.equal(result.ok, false, `expected ${reason}`);
  if (!result.ok) {
    assert.equal(result.error.reason, reason, result.error.detail);
    assert.ok(result.error.detail.length > 0);
  }
}

const IPV6_SRC = Buffer.from('20010db8000000000000000000000001', 'hex');
const IPV6_DST = Buffer.from('fe800000000000000202b3fffe1e8329', 'hex');

describe('HEPv3', () => {
  test('the worked example of the spec (rev 37, 113 bytes)', () => {
    const packet = Buffer.from(
      '48455033' + '0071' +
        '00000001' + '0007' + '02' +
        '00000002' + '0007' + '11' +
        '00000003' + '000a' + 'd4ca0001' +
        '00000004' + '000a' + '527400d3' +
        '00000007' + '0008' + '2eea' +
        '00000008' + '0008' + '13c4' +
        '00000009' + '000a' + '4e4982cb' +
        '0000000a' + '000a' + '0001d4c0' +
        '0000000b' + '0007' + '01' +
        '0000000c' + '000a' + '000000e4' +
        '0000000f' + '0014' + Buffer.from('INVITE sip:bob').toString('hex'),
      'hex',
    );
    assert.equal(packet.length, 113);
    const message = ok(decodeHep(packet));
    assert.deepEqual({ ...hepFields(message), payload: message.payload.toString() }, {
      version: 3, ipFamily: 4, ipProtocol: 17, srcIp: '212.202.0.1', dstIp: '82.116.0.211', srcPort: 12010, dstPort: 5060,
      timestampMicros: 1313440459_120000, payloadType: 1, captureId: 228, authKey: null, correlationId: null, nodeName: null,
      payload: 'INVITE sip:bob',
    });
  });

  test('any chunk order gives the same message', () => {
    const chunks = typicalChunks(SAMPLE_SIP, [chunk(0x0011, Buffer.from('abc@host')), chunk(0x000e, Buffer.from('secret'))]);
    const reference = hepFields(ok(decodeHep(buildHep3(chunks))));
    fc.assert(
      fc.property(fc.shuffledSubarray(chunks, { minLength: chunks.length, maxLength: chunks.length }), (shuffled) => {
        assert.deepEqual(hepFields(ok(decodeHep(buildHep3(shuffled)))), reference);
      }),
      { numRuns: 200, seed: 42 },
    );
  });

  test('IPv6 addresses (0x0005/0x0006) decide the family, whatever 0x0001 says', () => {
    for (const familyValue of [10, 28, 30]) {
      const packet = buildHep3([
        chunk(0x0001, u8(familyValue)),
        chunk(0x0005, IPV6_SRC),
        chunk(0x0006, IPV6_DST),
        chunk(0x0007, u16(5060)),
        chunk(0x0008, u16(5060)),
        chunk(0x000f, SAMPLE_SIP),
      ]);
      const message = ok(decodeHep(packet));
      assert.equal(message.ipFamily, 6);
      assert.equal(message.srcIp, '2001:db8::1');
      assert.equal(message.dstIp, 'fe80::202:b3ff:fe1e:8329');
    }
    // Without addresses, the family value alone is used.
    assert.equal(ok(decodeHep(buildHep3([chunk(0x0001, u8(30)), chunk(0x000f, SAMPLE_SIP)]))).ipFamily, 6);
    assert.equal(ok(decodeHep(buildHep3([chunk(0x0001, u8(2)), chunk(0x000f, SAMPLE_SIP)]))).ipFamily, 4);
    assert.equal(ok(decodeHep(buildHep3([chunk(0x0001, u8(99)), chunk(0x000f, SAMPLE_SIP)]))).ipFamily, null);
  });

  test('a minimal message: payload only, everything else null', () => {
    const message = ok(decodeHep(buildHep3([chunk(0x000f, SAMPLE_SIP)])));
    assert.deepEqual({ ...hepFields(message), payload: message.payload.length }, {
      version: 3, ipFamily: null, ipProtocol: null, srcIp: null, dstIp: null, srcPort: null, dstPort: null,
      timestampMicros: null, payloadType: null, captureId: null, authKey: null, correlationId: null, nodeName: null,
      payload: SAMPLE_SIP.length,
    });
  });

  test('vendor chunks and unknown generic chunks are skipped by length', () => {
    const packet = buildHep3(typicalChunks(SAMPLE_SIP, [
      chunk(0x000f, Buffer.from('not the payload'), 3), // OpenSIPS vendor id: never interpreted
      chunk(0x0011, Buffer.from('vendor-corr'), 2),
      chunk(0x0012, u16(100)), // VLAN
      chunk(0x0065, Buffer.from('{"net":"1"}')), // OpenSIPS extra correlation
      chunk(0x00ff, Buffer.from([1, 2, 3])), // odd size, unknown
      chunk(0x0024, Buffer.from('call')),
    ]));
    const message = ok(decodeHep(packet));
    assert.deepEqual(message.payload, SAMPLE_SIP);
    assert.equal(message.correlationId, null);
    assert.equal(message.srcIp, '10.0.0.1');
  });

  test('correlation id, auth key, node name and a 16-bit capture id', () => {
    const packet = buildHep3([
      chunk(0x0011, Buffer.from('1-20739@127.0.0.1')),
      chunk(0x000e, Buffer.from('lab-secret')),
      chunk(0x0013, Buffer.from('edge-proxy-1')),
      chunk(0x000c, u16(512)),
      chunk(0x000f, SAMPLE_SIP),
    ]);
    const message = ok(decodeHep(packet));
    assert.equal(message.correlationId, '1-20739@127.0.0.1');
    assert.equal(message.authKey, 'lab-secret');
    assert.equal(message.nodeName, 'edge-proxy-1');
    assert.equal(message.captureId, 512);
  });

  test('capture time: seconds + microseconds; zero time is unknown; microseconds >= 1e6 are clamped', () => {
    const at = (seconds: number, micros: number | null): number | null => {
      const chunks = [chunk(0x0009, u32(seconds)), ...(micros === null ? [] : [chunk(0x000a, u32(micros))]), chunk(0x000f, SAMPLE_SIP)];
      return ok(decodeHep(buildHep3(chunks))).timestampMicros;
    };
    assert.equal(at(1795421493, 359767), 1795421493_359767);
    assert.equal(at(1795421493, null), 1795421493_000000);
    assert.equal(at(0, 0), null);
    assert.equal(at(1795421493, 5_000_000), 1795421493_999999);
    assert.equal(at(0xffffffff, 999_999), 4294967295_999999); // still a safe integer
    assert.ok(Number.isSafeInteger(at(0xffffffff, 999_999)));
  });

  test('a datagram longer than the HEP3 length: the tail is ignored', () => {
    const packet = buildHep3(typicalChunks(SAMPLE_SIP));
    const message = ok(decodeHep(Buffer.concat([packet, Buffer.from('trailing junk')])));
    assert.deepEqual(message.payload, SAMPLE_SIP);
  });

  test('the payload is a view of the packet, not a copy', () => {
    const packet = buildHep3(typicalChunks(SAMPLE_SIP));
    const message = ok(decodeHep(packet));
    assert.equal(message.payload.buffer, packet.buffer);
    assert.equal(message.payload.byteOffset + message.payload.length, packet.byteOffset + packet.length);
  });
});

describe('HEPv3 compressed payload (0x0010)', () => {
  for (const [name, compress] of [['gzip', gzipSync], ['zlib', deflateSync], ['raw deflate', deflateRawSync]] as const) {
    test(`${name} is detected and inflated`, () => {
      const message = ok(decodeHep(buildHep3(typicalChunks(Buffer.alloc(0)).slice(0, -1).concat(chunk(0x0010, compress(SAMPLE_SIP))))));
      assert.deepEqual(message.payload, SAMPLE_SIP);
    });
  }

  test('a plain payload wins over a compressed one when both are present', () => {
    const packet = buildHep3([chunk(0x0010, gzipSync(Buffer.from('compressed'))), chunk(0x000f, SAMPLE_SIP)]);
    assert.deepEqual(ok(decodeHep(packet)).payload, SAMPLE_SIP);
  });

  test('corrupt or empty compressed data is bad_compression', () => {
    const gz = gzipSync(SAMPLE_SIP);
    failsWith(buildHep3([chunk(0x0010, gz.subarray(0, gz.length - 9))]), 'bad_compression');
    failsWith(buildHep3([chunk(0x0010, Buffer.from([0x1f, 0x8b, 1, 2, 3, 4]))]), 'bad_compression');
    failsWith(buildHep3([chunk(0x0010, Buffer.alloc(0))]), 'bad_compression');
    failsWith(buildHep3([chunk(0x0010, Buffer.from('definitely not deflate data'))]), 'bad_compression');
  });

  test('inflation is capped (zip bomb)', () => {
    const bomb = gzipSync(Buffer.alloc(MAX_INFLATED_PAYLOAD_BYTES + 1, 0x41));
    assert.ok(bomb.length < 0xffff - 20);
    failsWith(buildHep3([chunk(0x0010, bomb)]), 'bad_compression');
  });
});

describe('OpenSIPS JSON-wrapped payload (homer5_on=0)', () => {
  const sip = SAMPLE_SIP.toString('utf8');

  test('the SIP text is extracted from the pretty-printed object', () => {
    const wrapped = Buffer.from(`{\n\t"payload":\t${JSON.stringify(sip)}\n}`);
    const message = ok(decodeHep(buildHep3(typicalChunks(wrapped))));
    assert.equal(message.payload.toString('utf8'), sip);
  });

  test('leading blanks before the brace, and a wrapper without proto type', () => {
    const wrapped = Buffer.from(` \r\n{"payload": ${JSON.stringify(sip)}, "other": 1}`);
    assert.equal(ok(decodeHep(buildHep3([chunk(0x000f, wrapped)]))).payload.toString('utf8'), sip);
  });

  test('broken JSON, a non-object, or no string "payload" member is bad_json_payload', () => {
    failsWith(buildHep3(typicalChunks(Buffer.from('{"payload": "INVITE'))), 'bad_json_payload');
    failsWith(buildHep3(typicalChunks(Buffer.from('{"body": "INVITE"}'))), 'bad_json_payload');
    failsWith(buildHep3(typicalChunks(Buffer.from('{"payload": 42}'))), 'bad_json_payload');
  });

  test('JSON protocol types (RTCP 5, LOG 100) keep their JSON payload as is', () => {
    const json = Buffer.from('{"type": 200, "ssrc": 1}');
    for (const type of [5, 100, 0x22]) {
      const chunks = typicalChunks(json).map((c) => (c.type === 0x000b ? chunk(0x000b, u8(type)) : c));
      const message = ok(decodeHep(buildHep3(chunks)));
      assert.equal(message.payloadType, type);
      assert.deepEqual(message.payload, json);
    }
  });
});

describe('HEPv1 and HEPv2', () => {
  test('HEPv2 IPv6: 40-byte header, time block at 40, SIP at 52; BSD family values accepted', () => {
    for (const family of [10, 28, 30]) {
      const packet = buildHep12({ version: 2, ipv6: true, family, src: IPV6_SRC, dst: IPV6_DST, seconds: 1795421510, micros: 307233, captureId: 9, payload: SAMPLE_SIP });
      const message = ok(decodeHep(packet));
      assert.equal(message.ipFamily, 6);
      assert.equal(message.srcIp, '2001:db8::1');
      assert.equal(message.dstIp, 'fe80::202:b3ff:fe1e:8329');
      assert.equal(message.timestampMicros, 1795421510_307233);
      assert.equal(message.captureId, 9);
      assert.equal(message.payload.byteOffset - packet.byteOffset, 52);
      assert.deepEqual(message.payload, SAMPLE_SIP);
    }
  });

  test('HEPv1 IPv6: SIP right after the 40-byte header', () => {
    const packet = buildHep12({ version: 1, ipv6: true, src: IPV6_SRC, dst: IPV6_DST, payload: SAMPLE_SIP });
    const message = ok(decodeHep(packet));
    assert.equal(message.version, 1);
    assert.equal(message.payload.byteOffset - packet.byteOffset, 40);
    assert.equal(message.payloadType, 1);
  });

  test('HEPv2 with a big-endian time block (heplify/wireshark style) is recognised by the microseconds', () => {
    const packet = buildHep12({ version: 2, seconds: 1795421510, micros: 307233, captureId: 3, bigEndianTime: true, payload: SAMPLE_SIP });
    const message = ok(decodeHep(packet));
    assert.equal(message.timestampMicros, 1795421510_307233);
    assert.equal(message.captureId, 3);
  });

  test('OpenSIPS-style trailing NULs and stray leading NULs are trimmed', () => {
    const v2 = buildHep12({ version: 2, seconds: 1, micros: 2, payload: Buffer.concat([SAMPLE_SIP, Buffer.alloc(8)]) });
    assert.deepEqual(ok(decodeHep(v2)).payload, SAMPLE_SIP);
    const v1 = buildHep12({ version: 1, payload: Buffer.concat([Buffer.alloc(2), SAMPLE_SIP, Buffer.alloc(32)]) });
    assert.deepEqual(ok(decodeHep(v1)).payload, SAMPLE_SIP);
  });

  test('ports big-endian, protocol byte, addresses', () => {
    const packet = buildHep12({ version: 1, protocol: 6, srcPort: 0x14a0, dstPort: 0x148c, src: ipv4('127.0.0.1'), dst: ipv4('192.168.1.20'), payload: SAMPLE_SIP });
    const message = ok(decodeHep(packet));
    assert.equal(message.ipProtocol, 6);
    assert.equal(message.srcPort, 5280);
    assert.equal(message.dstPort, 5260);
    assert.equal(message.srcIp, '127.0.0.1');
    assert.equal(message.dstIp, '192.168.1.20');
  });

  test('errors: bad header length, truncation, no payload', () => {
    const good = buildHep12({ version: 2, seconds: 1, micros: 1, payload: SAMPLE_SIP });
    const badLength = Buffer.from(good);
    badLength[1] = 20;
    failsWith(badLength, 'bad_length');
    failsWith(good.subarray(0, 27), 'truncated');
    failsWith(good.subarray(0, 10), 'truncated');
    failsWith(Buffer.from([2]), 'truncated');
    failsWith(good.subarray(0, 28), 'no_payload');
    failsWith(Buffer.concat([good.subarray(0, 28), Buffer.alloc(8)]), 'no_payload');
  });
});

describe('errors', () => {
  const valid = buildHep3(typicalChunks(SAMPLE_SIP));

  test('empty input', () => failsWith(Buffer.alloc(0), 'empty'));

  test('not HEP at all', () => {
    failsWith(Buffer.from('GET / HTTP/1.1\r\n'), 'bad_magic');
    failsWith(Buffer.from('HTTP/1.1 200 OK'), 'bad_magic');
    failsWith(Buffer.from([0x03, 0x10, 0x02, 0x11]), 'bad_magic');
    failsWith(Buffer.from([0x00]), 'bad_magic');
  });

  test('other HEP/EEP versions', () => {
    failsWith(Buffer.from('HEP4\x00\x06'), 'unsupported_version');
    failsWith(Buffer.from('EEP1\x00\x06'), 'unsupported_version');
  });

  test('truncated header or message', () => {
    failsWith(Buffer.from('HE'), 'truncated');
    failsWith(Buffer.from('HEP3'), 'truncated');
    failsWith(valid.subarray(0, 5), 'truncated');
    failsWith(valid.subarray(0, valid.length - 1), 'truncated');
  });

  test('impossible total length', () => {
    const lie = Buffer.from(valid);
    lie.writeUInt16BE(5, 4);
    failsWith(lie, 'bad_length');
  });

  test('chunk length below 6 or past the end', () => {
    const short = Buffer.from(valid);
    short.writeUInt16BE(3, 6 + 4); // first chunk's length
    failsWith(short, 'bad_chunk');
    const long = Buffer.from(valid);
    long.writeUInt16BE(0xfff0, 6 + 4);
    failsWith(long, 'bad_chunk');
  });

  test('a typed chunk of the wrong size', () => {
    for (const [type, value] of [[0x0001, u16(2)], [0x0003, Buffer.alloc(5)], [0x0005, Buffer.alloc(4)], [0x0007, u32(1)], [0x0009, u16(1)], [0x000c, u8(1)]] as const) {
      failsWith(buildHep3([chunk(type, value), chunk(0x000f, SAMPLE_SIP)]), 'bad_chunk');
    }
  });

  test('no payload chunk (OpenSIPS correlate() control message)', () => {
    failsWith(buildHep3(typicalChunks(SAMPLE_SIP).slice(0, -1)), 'no_payload');
    failsWith(Buffer.from('HEP3\x00\x06'), 'no_payload');
  });
});

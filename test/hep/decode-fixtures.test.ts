// Every captured HEP message decodes to what the dumps taken at capture time say (spec hep.md §8),
// and Canyan's three test packets decode to the values of scenarios.md §5.1.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeHep, type HepMessage } from '../../src/hep/index.ts';
import {
  type ExpectedHep,
  fixtureFile,
  hepFixtureNames,
  parseKamailioDump,
  parseOpensipsDump,
  readHepFixture,
  udpFixtureNames,
} from './fixtures.ts';
import { hepFields } from './message-fields.ts';

/** Independent, naive oracle for stream files: walk the HEP3 length fields. */
function splitByLength(stream: Buffer): Buffer[] {
  const messages: Buffer[] = [];
  let offset = 0;
  while (offset + 6 <= stream.length) {
    const length = stream.readUInt16BE(offset + 4);
    assert.equal(stream.toString('latin1', offset, offset + 4), 'HEP3');
    messages.push(stream.subarray(offset, offset + length));
    offset += length;
  }
  assert.equal(offset, stream.length, 'stream fixture ends on a message boundary');
  return messages;
}

function messageBytes(expected: ExpectedHep): Buffer {
  const file = fixtureFile(expected.file);
  if (expected.messageIndex === null) return file;
  if (expected.offset !== undefined && expected.length !== undefined) {
    return file.subarray(expected.offset, expected.offset + expected.length);
  }
  const message = splitByLength(file)[expected.messageIndex];
  assert.ok(message, `${expected.label} exists in the stream`);
  return message;
}

function firstLine(payload: Buffer): string {
  const text = payload.toString('utf8');
  const end = text.indexOf('\r\n');
  return end < 0 ? text : text.slice(0, end);
}

function decodeOk(bytes: Buffer, label: string): HepMessage {
  const result = decodeHep(bytes);
  if (!result.ok) assert.fail(`${label}: ${result.error.reason}: ${result.error.detail}`);
  return result.message;
}

function assertMatches(message: HepMessage, expected: ExpectedHep): void {
  const label = expected.label;
  const checks: Array<[keyof HepMessage & keyof ExpectedHep]> = [
    ['version'], ['ipFamily'], ['ipProtocol'], ['srcIp'], ['dstIp'], ['srcPort'], ['dstPort'],
    ['timestampMicros'], ['payloadType'], ['captureId'], ['authKey'], ['correlationId'],
  ];
  for (const [key] of checks) {
    if (expected[key] !== undefined) assert.equal(message[key], expected[key], `${label}: ${key}`);
  }
  if (expected.timeOfDay !== undefined) {
    assert.ok(message.timestampMicros !== null, `${label}: has a timestamp`);
    const iso = new Date(Math.floor(message.timestampMicros / 1000)).toISOString();
    const micros = String(message.timestampMicros % 1_000_000).padStart(6, '0');
    assert.equal(`${iso.slice(11, 19)}.${micros}`, expected.timeOfDay, `${label}: time of day`);
  }
  if (expected.payloadLength !== undefined) assert.equal(message.payload.length, expected.payloadLength, `${label}: payload length`);
  if (expected.firstLine !== undefined) assert.equal(firstLine(message.payload), expected.firstLine, `${label}: first line`);
}

describe('Kamailio captures (kamailio-decoded.txt)', () => {
  const expectations = parseKamailioDump();

  test('the dump covers every Kamailio datagram and stream message', () => {
    const files = new Set(expectations.map((e) => e.file));
    for (const name of hepFixtureNames((n) => n.startsWith('kamailio-udp-') && n.endsWith('.bin'))) {
      assert.ok(files.has(name), `${name} is in the dump`);
    }
    for (const stream of ['kamailio-tcp-stream.bin', 'kamailio-tcp-tm-stream.bin', 'kamailio-tcp-coalesced-stream.bin', 'kamailio-tcp-smallreads-stream.bin']) {
      const inDump = expectations.filter((e) => e.file === stream).length;
      assert.equal(inDump, splitByLength(readHepFixture(stream)).length, `${stream}: every message is in the dump`);
    }
    assert.equal(expectations.length, 80, "50 datagrams and 30 stream messages");
  });

  for (const expected of expectations) {
    test(expected.label, () => {
      const bytes = messageBytes(expected);
      const message = decodeOk(bytes, expected.label);
      assertMatches(message, expected);
      // The payload is a view of the packet, not a copy (hot path), and ends inside it.
      if (message.version === 3) assert.equal(message.payload.buffer, bytes.buffer);
      // Only HEP3 carries these; Kamailio never sends a node name.
      assert.equal(message.nodeName, null);
      if (expected.version === 3 && expected.chunkTypes && !expected.chunkTypes.includes(0x11)) {
        assert.equal(message.correlationId, null, `${expected.label}: no correlation chunk, no id`);
      }
      if (expected.version === 3 && expected.chunkTypes && !expected.chunkTypes.includes(0x0e)) {
        assert.equal(message.authKey, null);
      }
    });
  }

  test('HEPv2: little-endian time block, capture id 1, SIP at offset 28', () => {
    const packet = readHepFixture('kamailio-udp-hep2-1.bin');
    const message = decodeOk(packet, 'hep2-1');
    assert.equal(message.version, 2);
    assert.equal(message.timestampMicros, 1795421510_307233);
    assert.equal(message.captureId, 1);
    assert.equal(message.payload.byteOffset - packet.byteOffset, 28);
    assert.equal(message.correlationId, null);
  });

  test('HEPv1: no time, no capture id, SIP at offset 16', () => {
    const packet = readHepFixture('kamailio-udp-hep1-1.bin');
    const message = decodeOk(packet, 'hep1-1');
    assert.equal(message.version, 1);
    assert.equal(message.timestampMicros, null);
    assert.equal(message.captureId, null);
    assert.equal(message.payload.byteOffset - packet.byteOffset, 16);
  });

  test('auth key (0x000e) and a LOG event (type 100) from hlog()', () => {
    const log = decodeOk(readHepFixture('kamailio-udp-extras-2.bin'), 'extras-2');
    assert.equal(log.payloadType, 100);
    assert.equal(log.authKey, 'lab-secret');
    assert.equal(log.payload.toString('utf8'), 'lab hlog: INVITE from 1000 to 1001');
    // hlog puts the destination port first: the decoder must not depend on order.
    assert.equal(log.srcPort, 5260);
    assert.equal(log.dstPort, 9260);
  });
});

describe('OpenSIPS captures and Canyan packets (opensips-decoded.txt)', () => {
  const expectations = parseOpensipsDump();

  test('the dump covers the OpenSIPS streams, datagrams and the Canyan packets', () => {
    const byFile = new Map<string, number>();
    for (const e of expectations) byFile.set(e.file, (byFile.get(e.file) ?? 0) + 1);
    assert.equal(byFile.get('opensips-tcp-stream.bin'), 3);
    assert.equal(byFile.get('opensips-tcp-tx-stream.bin'), 13);
    assert.equal(byFile.get('opensips-tcp-txsync-stream.bin'), 13);
    assert.equal(byFile.get('opensips-tcp-dlgh5off-stream.bin'), 14);
    assert.equal(byFile.get('opensips-tcp-dlg-stream.bin'), 1);
    for (const name of udpFixtureNames().filter((n) => n.startsWith('opensips-'))) assert.equal(byFile.get(name), 1, name);
    for (const name of ['hep-invite.bin', 'hep-ack.bin', 'hep-bye.bin']) assert.equal(byFile.get(`canyan/${name}`), 1, name);
  });

  for (const expected of expectations) {
    test(expected.label, () => {
      const bytes = messageBytes(expected);
      assert.equal(bytes.length, expected.length, `${expected.label}: message length`);
      const result = decodeHep(bytes);
      if (expected.noPayload) {
        // OpenSIPS's correlate() control message (proto type 0x60, chunk 0x65 only): no payload.
        assert.equal(result.ok, false);
        if (!result.ok) assert.equal(result.error.reason, 'no_payload');
        return;
      }
      const message = decodeOk(bytes, expected.label);
      assertMatches(message, expected);
      assert.equal(message.ipFamily, 4);
      assert.equal(message.nodeName, null);
      if (expected.jsonWrapped) {
        // homer5_on=0: the SIP text comes out of the JSON wrapper, CRLFs intact.
        assert.ok(message.payload.toString('utf8').includes('\r\nCall-ID: '), `${expected.label}: unwrapped SIP`);
        assert.ok(!message.payload.toString('utf8').includes('"payload"'));
      }
    });
  }

  test('Canyan test packets: the values of scenarios.md §5.1', () => {
    const rows: Array<[string, number, number, number]> = [
      ['canyan/hep-invite.bin', 1584176168, 112686, 513],
      ['canyan/hep-ack.bin', 1584176168, 622171, 407],
      ['canyan/hep-bye.bin', 1584176169, 628078, 387],
    ];
    for (const [file, seconds, micros, payloadLength] of rows) {
      const bytes = fixtureFile(file);
      const message = decodeOk(bytes, file);
      assert.deepEqual(
        { ...hepFields(message), payload: message.payload.length },
        {
          version: 3, ipFamily: 4, ipProtocol: 17, srcIp: '192.168.192.2', dstIp: '192.168.192.5', srcPort: 5060, dstPort: 5060,
          timestampMicros: seconds * 1_000_000 + micros, payloadType: 1, captureId: 1, authKey: null,
          correlationId: '1-18@192.168.192.2', nodeName: null, payload: payloadLength,
        },
        file,
      );
    }
    const invite = decodeOk(fixtureFile('canyan/hep-invite.bin'), 'invite').payload.toString('utf8');
    assert.ok(invite.startsWith('INVITE sip:service@192.168.192.5:5060 SIP/2.0\r\n'));
    assert.ok(invite.includes('Content-Length:   137'));
    assert.ok(invite.endsWith('a=rtpmap:0 PCMU/8000\r\n'));
  });
});

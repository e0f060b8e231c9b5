// Property tests: the parser never throws, whatever the bytes, and what it reads from generated
// messages is what was written, whatever the line ends, header spelling and folding.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseSip, type SipMessage, type SipNameAddr } from '../../src/sip/index.ts';
import { createAccountIdentifier } from '../../src/sip/accounts.ts';
import { allFixtureSipPayloads } from './hep-payloads.ts';

const RUNS = { numRuns: 400, seed: 20261201 };

const identify = createAccountIdentifier({
  sip_local_domains: ['example.com', 'sip.example.com', '127.0.0.1'],
  sip_header_caller: 'X-Caller',
  sip_header_callee: 'X-Callee',
  sip_header_history_info: 'History-Info',
  sip_header_history_info_index: 1,
  account_tag_match_regexp: '^\\+?([0-9]+)',
});

function checkNameAddr(value: SipNameAddr | null): void {
  if (value === null) return;
  assert.equal(typeof value.raw, 'string');
  if (value.uri !== null) {
    assert.equal(typeof value.uri.scheme, 'string');
    assert.equal(typeof value.uri.host, 'string');
    if (value.uri.port !== null) assert.ok(Number.isInteger(value.uri.port) && value.uri.port >= 0 && value.uri.port <= 65535);
  }
}

/** Reads every field and checks the invariants that hold for any successfully parsed message. */
function readEverything(m: SipMessage): void {
  // The tags first, so that they come from the byte scan rather than from the built name-addrs.
  const fromTag = m.fromTag;
  const toTag = m.toTag;
  assert.equal(m.isRequest, m.method !== null);
  assert.equal(m.isRequest, m.statusCode === null);
  assert.equal(m.isRequest, m.requestUri !== null);
  if (m.cseqNumber !== null) assert.ok(Number.isSafeInteger(m.cseqNumber) && m.cseqNumber >= 0);
  checkNameAddr(m.from);
  checkNameAddr(m.to);
  checkNameAddr(m.pAssertedIdentity);
  assert.equal(fromTag, m.from?.tag ?? null);
  assert.equal(toTag, m.to?.tag ?? null);
  for (const name of ['Call-ID', 'i', 'Via', 'From', 'To', 'CSeq', 'Contact', 'X-Caller', 'History-Info']) {
    const all = m.headers(name);
    assert.equal(m.header(name), all[0] ?? null, name);
    for (const value of all) assert.ok(!value.includes('\n'), 'values never contain line breaks');
  }
  assert.equal(m.callId, m.header('Call-ID') === '' ? null : m.header('Call-ID'));
  assert.equal(typeof m.viaBranch === 'string' || m.viaBranch === null, true);
  const parties = identify(m);
  for (const field of Object.values(parties)) assert.equal(typeof field, 'string');
}

function parseAndRead(payload: Buffer): void {
  const result = parseSip(payload);
  if (result.ok) readEverything(result.message);
  else assert.ok(result.reason.length > 0);
}

/** Every field of a parse, the tags read first (the byte scan) as the agent reads them. */
function snapshot(payload: Buffer, from?: number, limit?: number): unknown {
  const result = parseSip(payload, from, limit);
  if (!result.ok) return result;
  const m = result.message;
  const tags = [m.fromTag, m.toTag];
  return {
    tags, callId: m.callId, cseq: [m.cseqNumber, m.cseqMethod], start: [m.isRequest, m.method, m.statusCode, m.requestUri],
    from: m.from, to: m.to, pai: m.pAssertedIdentity, branch: m.viaBranch, parties: identify(m), bytes: [...(m.payload ?? [])],
    headers: ['Call-ID', 'Via', 'From', 'To', 'CSeq', 'Contact', 'X-Caller', 'History-Info', 'Content-Length'].map((name) => m.headers(name)),
  };
}

describe('parseSip properties', () => {
  test('a message parsed where it lies in a larger buffer reads exactly as the same bytes alone', () => {
    const samples = allFixtureSipPayloads().map((c) => c.payload);
    // What lies around the span is chosen to tempt a scan that runs past either end.
    const surround = fc.constantFrom('', '\n', '\r\n', '\r\n\r\n', 'x', '\r\nCall-ID: outside\r\nCSeq: 9 BYE\r\nTo: <sip:o@o>;tag=out\r\n', ';tag=zz\r\n', ' \t');
    const cut = fc.record({ sample: fc.nat({ max: samples.length - 1 }), start: fc.nat(), end: fc.nat() });
    fc.assert(
      fc.property(cut, surround, surround, ({ sample, start, end }, before, after) => {
        const whole = samples[sample];
        // A prefix, suffix or middle of a captured message, so that spans end inside lines too.
        const a = start % (whole.length + 1);
        const b = a + (end % (whole.length - a + 1));
        const alone = Buffer.from(whole.subarray(a, b));
        const embedded = Buffer.concat([Buffer.from(before, 'latin1'), alone, Buffer.from(after, 'latin1')]);
        assert.deepEqual(snapshot(embedded, before.length, before.length + alone.length), snapshot(alone));
      }),
      RUNS,
    );
  });

  test('a span outside the buffer is rejected, not read', () => {
    const bytes = Buffer.from('INVITE sip:a@b SIP/2.0\r\n\r\n');
    for (const [from, limit] of [[-1, 5], [3, 2], [0, bytes.length + 1]]) {
      const result = parseSip(bytes, from, limit);
      assert.equal(result.ok, false);
      if (!result.ok) assert.match(result.reason, /not inside/);
    }
  });

  test('random bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1500 }), (bytes) => {
        parseAndRead(Buffer.from(bytes));
      }),
      RUNS,
    );
  });

  test('random SIP-looking text never throws', () => {
    const piece = fc.constantFrom(
      'INVITE ', 'SIP/2.0', ' ', '\r\n', '\n', '\r', ':', ';', ',', '<', '>', '"', '\\', '@', '[', ']', 'sip:', 'tag=',
      'branch=', 'Via', 'v', 'From', 'f', 't', 'i', 'Call-ID', 'CSeq', '1', 'P-Asserted-Identity', 'History-Info',
      '\t', 'x', 'ü', '99999999999',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 120 }), (pieces) => {
        parseAndRead(Buffer.from(`INVITE sip:a@b SIP/2.0\r\n${pieces.join('')}`, 'utf8'));
        parseAndRead(Buffer.from(pieces.join(''), 'utf8'));
      }),
      RUNS,
    );
  });

  test('mutated captured messages never throw and parse deterministically', () => {
    const samples = allFixtureSipPayloads().map((c) => c.payload);
    const mutation = fc.record({
      sample: fc.nat({ max: samples.length - 1 }),
      edits: fc.array(
        fc.record({
          at: fc.nat(),
          kind: fc.constantFrom('flip', 'delete', 'insert', 'truncate'),
          byte: fc.constantFrom(0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x3b, 0x3c, 0x3e, 0x22, 0x40, 0x2c, 0x00, 0xff, 0x5b),
        }),
        { minLength: 1, maxLength: 8 },
      ),
    });
    fc.assert(
      fc.property(mutation, ({ sample, edits }) => {
        let bytes = Buffer.from(samples[sample]);
        for (const edit of edits) {
          const at = bytes.length === 0 ? 0 : edit.at % bytes.length;
          if (edit.kind === 'flip' && bytes.length > 0) bytes[at] = edit.byte;
          else if (edit.kind === 'delete') bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
          else if (edit.kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([edit.byte]), bytes.subarray(at)]);
          else bytes = bytes.subarray(0, at);
        }
        parseAndRead(bytes);
        const first = parseSip(bytes);
        const second = parseSip(bytes);
        assert.equal(first.ok, second.ok);
        if (first.ok && second.ok) {
          assert.deepEqual(
            [first.message.callId, first.message.from, first.message.to, first.message.viaBranch, first.message.cseqNumber],
            [second.message.callId, second.message.from, second.message.to, second.message.viaBranch, second.message.cseqNumber],
          );
        }
      }),
      RUNS,
    );
  });

  test('generated messages read back what was written', () => {
    const word = fc.stringMatching(/^[!-~]{1,12}$/);
    const token = fc.stringMatching(/^[A-Za-z0-9]{1,10}$/);
    const user = fc.stringMatching(/^[a-z0-9+]{1,12}$/);
    const host = fc.oneof(
      fc.stringMatching(/^[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){0,3}$/),
      fc.ipV4(),
      fc.ipV6().map((ip) => `[${ip}]`),
    );
    const port = fc.option(fc.integer({ min: 1, max: 65535 }), { nil: null });
    const customHeader = fc.record({ name: token.map((t) => `X-${t}`), words: fc.array(word, { minLength: 1, maxLength: 6 }) });
    const spec = fc.record({
      lineEnd: fc.constantFrom('\r\n', '\n'),
      compact: fc.boolean(),
      upperCase: fc.boolean(),
      callId: word,
      cseq: fc.integer({ min: 0, max: 0x7fffffff }),
      fromUser: user,
      fromHost: host,
      fromPort: port,
      fromTag: token,
      display: fc.option(fc.stringMatching(/^[A-Za-z0-9 ,]{1,16}$/), { nil: null }),
      toUser: user,
      toHost: host,
      branch: token.map((t) => `z9hG4bK${t}`),
      custom: fc.array(customHeader, { maxLength: 5 }),
      folds: fc.array(fc.constantFrom(' ', '\t', '   '), { maxLength: 6 }),
    });
    fc.assert(
      fc.property(spec, (s) => {
        const name = (long: string, compact: string): string => {
          const chosen = s.compact ? compact : long;
          return s.upperCase ? chosen.toUpperCase() : chosen;
        };
        const fold = (words: string[]): string =>
          words.map((w, i) => (i === 0 ? w : i <= s.folds.length ? `${s.lineEnd}${s.folds[i - 1]}${w}` : ` ${w}`)).join('');
        const hostPort = s.fromPort === null ? s.fromHost : `${s.fromHost}:${s.fromPort}`;
        const display = s.display === null ? '' : `"${s.display}" `;
        const lines = [
          `INVITE sip:${s.toUser}@${s.toHost} SIP/2.0`,
          `${name('Via', 'v')}: SIP/2.0/UDP 10.0.0.1:5060;branch=${s.branch};rport`,
          `${name('From', 'f')}: ${display}<sip:${s.fromUser}@${hostPort};transport=udp>;tag=${s.fromTag}`,
          `${name('To', 't')}: <sip:${s.toUser}@${s.toHost}>`,
          `${name('Call-ID', 'i')}: ${s.callId}`,
          `CSeq: ${s.cseq} INVITE`,
          ...s.custom.map((h) => `${h.name}: ${fold(h.words)}`),
          '',
          'v=0',
        ];
        const result = parseSip(Buffer.from(lines.join(s.lineEnd), 'utf8'));
        assert.ok(result.ok);
        const m = result.message;
        readEverything(m);
        assert.equal(m.callId, s.callId);
        assert.equal(m.cseqNumber, s.cseq);
        assert.equal(m.viaBranch, s.branch);
        assert.deepEqual(m.from?.uri, { scheme: 'sip', user: s.fromUser, host: s.fromHost, port: s.fromPort });
        assert.equal(m.from?.tag, s.fromTag);
        assert.equal(m.from?.displayName, s.display, 'a quoted display name is kept verbatim');
        assert.deepEqual(m.to?.uri, { scheme: 'sip', user: s.toUser, host: s.toHost, port: null });
        const byName = new Map<string, string[]>();
        for (const h of s.custom) {
          const key = h.name.toLowerCase();
          byName.set(key, [...(byName.get(key) ?? []), h.words.join(' ')]);
        }
        for (const [key, values] of byName) {
          assert.deepEqual(m.headers(key.toUpperCase()), values);
        }
        const parties = identify(m);
        assert.equal(parties.source, `sip:${s.fromUser}@${s.fromHost}`);
      }),
      RUNS,
    );
  });
});

// Differential property tests: each byte-level fast path must give exactly what the text-level
// parser it stands in for gives, on every input it accepts (returning null hands the input to the
// text parser, so only the accepted inputs need checking). The inputs are built from the
// characters that steer those parsers: separators, quotes, brackets, escapes, whitespace of every
// kind, control bytes and non-ASCII text.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseNameAddr } from '../../src/sip/name-addr.ts';
import { TAG_ABSENT, TAG_FOUND, TAG_UNHANDLED, scanNameAddr, scanTagIn, tagSpan } from '../../src/sip/name-addr-bytes.ts';
import { parseCSeq, scanCSeq } from '../../src/sip/cseq.ts';
import { parseStartLine, scanStartLine } from '../../src/sip/start-line.ts';
import { CALL_ID, CSEQ, FROM, P_ASSERTED_IDENTITY, TO, scanKnownHeaders, type ScannedHeader } from '../../src/sip/known-headers.ts';
import { scanLayout } from '../../src/sip/header-table.ts';
import { COMMON_METHODS, methodText } from '../../src/sip/methods.ts';
import { parseSip } from '../../src/sip/index.ts';

const RUNS = { numRuns: 3000, seed: 20261202 };

const PIECES = [
  'sip', 'SIP', 'sips', 'tel', 'Sip', 'x-y', ':', '@', ';', '?', '<', '>', '"', '\\', ',', '=', '[', ']', '::1',
  'tag', 'TAG', 'Tag', 'tag=', 'user', '1000', '5060', '99999', 'host.example.com', '.', '+', '-',
  ' ', ' ', '  ', '\t', '\r', '\n', '\x0b', '\x0c', '\x00', '\x10', '\x7f', 'é', '\u00a0', '\u3000', '\xff',
  'a', 'B', '0', '9', 'INVITE', 'BYE', 'ack',
];

const text = fc.array(fc.constantFrom(...PIECES), { maxLength: 24 }).map((parts) => parts.join(''));

const noise = fc.array(fc.constantFrom(...PIECES), { maxLength: 2 }).map((parts) => parts.join(''));

/** Name-addr shaped values, with a little noise spliced in somewhere. */
const nameAddrLike = fc
  .tuple(
    fc.constantFrom('', '"Alice" ', 'Bob ', '"a<b" ', '"" ', '"x', ' ', '"Doe, J" '),
    fc.constantFrom('<', '', ' < '),
    fc.constantFrom('sip:', 'SIPS:', 'tel:', 'x-y:', 'sip', ':', 'Sip:', 's\x10p:', '1ip:'),
    fc.constantFrom('', '1000@', 'a:pw@', '@', '+39;npdi@', 'u@v@'),
    fc.constantFrom('host.example.com', '[::1]', '[]', '[::1]x', 'h o', '', '10.0.0.1', 'h\tx'),
    fc.constantFrom('', ':5060', ':99999', ':', ':5a', ':123456', ':65535'),
    fc.constantFrom('', ';transport=udp', '?h=1', ';lr'),
    fc.constantFrom('>', '', ' >'),
    fc.constantFrom('', ';tag=1', ' ; TAG = x ', ';tag', ';foo=1;tag=abc', ';tag=', ';tag="q"', ';;tag=z', ';tag=a;tag=b', ';tag= x ;lr'),
    noise,
    fc.nat(),
  )
  .map(([display, open, scheme, user, host, port, uriParams, close, params, extra, at]) => {
    const value = `${display}${open}${scheme}${user}${host}${port}${uriParams}${close}${params}`;
    const cut = at % (value.length + 1);
    return `${value.slice(0, cut)}${extra}${value.slice(cut)}`;
  });

/** Header values reach the fast paths trimmed of spaces and tabs by the scan. */
function trimmedBounds(bytes: Buffer): { start: number; end: number } {
  let start = 0;
  let end = bytes.length;
  while (start < end && (bytes[start] === 0x20 || bytes[start] === 0x09)) start++;
  while (end > start && (bytes[end - 1] === 0x20 || bytes[end - 1] === 0x09)) end--;
  return { start, end };
}

describe('SIP fast paths agree with the text parsers', () => {
  test('name-addr', () => {
    fc.assert(
      fc.property(fc.oneof(text, nameAddrLike), (value) => {
        const bytes = Buffer.from(`  ${value}\t`, 'utf8');
        const { start, end } = trimmedBounds(bytes);
        const fast = scanNameAddr(bytes, start, end);
        if (fast !== null) assert.deepEqual(fast, parseNameAddr(bytes.toString('utf8', start, end)), JSON.stringify(value));
      }),
      RUNS,
    );
  });

  test('name-addr: the common shapes take the fast path', () => {
    for (const value of [
      '"Alice" <sip:1000@sip.example.com>;tag=22197SIPpTag001',
      '<sip:1001@sip.example.com>',
      'sipp <sip:1000@192.168.192.2:5060>;tag=1',
      'sip:bob@[2001:db8::1]:5070;tag=x',
      '<tel:+390612345;phone-context=example.com>;tag=t',
    ]) {
      const bytes = Buffer.from(value, 'latin1');
      const fast = scanNameAddr(bytes, 0, bytes.length);
      assert.notEqual(fast, null, value);
      assert.deepEqual(fast, parseNameAddr(value), value);
    }
  });

  test('tag scan: wherever it answers, the tag is parseNameAddr\'s', () => {
    // Mostly a name-addr whose URI or parameters are made of the characters that steer the
    // split, the checks and the key match (the scan skips the URI between <>, and checks
    // the parameters after it byte by byte).
    const pieces = [';', ';tag=', 'tag', 'TAG', '=', ' ', '"', ',', '\\', '\t', 'é', 'x', '>', '<', ';lr', '\x7f', '1', '\xff', '\u00a0', '\x0c'];
    const noisy = fc.array(fc.constantFrom(...pieces), { maxLength: 10 }).map((parts) => parts.join(''));
    const withParams = fc.tuple(nameAddrLike, noisy).map(([head, params]) => `${head}${params}`);
    const withUri = fc
      .tuple(fc.constantFrom('', '"A" ', '"a<b" ', 'x ', '"q'), noisy, fc.constantFrom('>', '', '>>'), noisy)
      .map(([display, uri, close, params]) => `${display}<sip:${uri}${close}${params}`);
    fc.assert(
      fc.property(fc.oneof(text, nameAddrLike, withParams, withUri), (value) => {
        const bytes = Buffer.from(`  ${value}\t`, 'utf8');
        const { start, end } = trimmedBounds(bytes);
        const status = scanTagIn(bytes, start, end);
        if (status === TAG_UNHANDLED) return;
        const label = JSON.stringify(value);
        const expected = parseNameAddr(bytes.toString('utf8', start, end)).tag;
        if (expected === null) assert.equal(status, TAG_ABSENT, label);
        else {
          assert.equal(status, TAG_FOUND, label);
          assert.equal(bytes.toString('latin1', tagSpan.start, tagSpan.end), expected, label);
        }
      }),
      RUNS,
    );
  });

  test('tag scan: answers wherever the name-addr scan does', () => {
    fc.assert(
      fc.property(fc.oneof(text, nameAddrLike), (value) => {
        const bytes = Buffer.from(`  ${value}\t`, 'utf8');
        const { start, end } = trimmedBounds(bytes);
        if (scanNameAddr(bytes, start, end) !== null) assert.notEqual(scanTagIn(bytes, start, end), TAG_UNHANDLED, JSON.stringify(value));
      }),
      RUNS,
    );
  });

  test('fromTag and toTag equal from?.tag and to?.tag, whatever the values and the reading order', () => {
    const value = fc.oneof(text, nameAddrLike, fc.constant(''));
    const fold = fc.constantFrom('', '', '\r\n ;tag=f', '\r\n\t x', '\r\n');
    const reads = fc.shuffledSubarray(['fromTag', 'from', 'toTag', 'to'] as const, { minLength: 2 });
    fc.assert(
      fc.property(value, fold, value, fold, fc.constantFrom('\r\n', '\n'), reads, (from, fromFold, to, toFold, end, order) => {
        const lines = ['INVITE sip:a@b SIP/2.0', `From: ${from}${fromFold}`, `t: ${to}${toFold}`, 'Call-ID: c', '', ''];
        const result = parseSip(Buffer.from(lines.join(end), 'utf8'));
        if (!result.ok) return;
        const m = result.message;
        const read = order.map((field) => (field === 'from' || field === 'to' ? (m[field]?.tag ?? null) : m[field]));
        const label = JSON.stringify(lines);
        // Reference: a fresh parse whose name-addrs are built first.
        const reference = parseSip(Buffer.from(lines.join(end), 'utf8'));
        assert.ok(reference.ok);
        const expected = { from: reference.message.from?.tag ?? null, to: reference.message.to?.tag ?? null };
        order.forEach((field, i) => assert.equal(read[i], field.startsWith('from') ? expected.from : expected.to, `${label} ${field}`));
        assert.equal(m.fromTag, expected.from, label);
        assert.equal(m.toTag, expected.to, label);
      }),
      RUNS,
    );
  });

  test('tags of the common shapes, and of values the byte scan leaves to the full parser', () => {
    const cases: Array<[string, string | null]> = [
      ['"Alice" <sip:1000@sip.example.com>;tag=22197SIPpTag001', '22197SIPpTag001'],
      ['<sip:1001@sip.example.com>', null],
      ['sip:bob@example.com;tag=x', 'x'],
      ['<sip:bob@example.com;tag=uri-param>', null],
      ['<sip:bob@example.com;tag=uri>;tag=header', 'header'],
      ['"a;tag=q" <sip:b@c>', null],
      ['<sip:b@c> ; TAG = v ', 'v'],
      ['<sip:b@c>;tag', ''],
      ['"J\\"D" <sip:b@c>;tag=esc', 'esc'],
      ['<sip:b@c>;tag=1, <sip:d@e>;tag=2', '1'],
      ['"Zoë" <sip:b@c>;tag=é', 'é'],
      ['<sip:zoë,x@c>;tag=u', 'u'],
      ['<sip:a"b@c>;tag=q, <sip:d>', 'q, <sip:d>'], // the stray quote keeps firstElement from cutting
      ['<sip:a"b@c>;tag=q', 'q'],
      ['<sip:b@c;tag=1', null],
      ['"x" <sip:a, "y" <sip:b>;tag=2', '2'],
    ];
    for (const [value, tag] of cases) {
      for (const header of ['From', 'To']) {
        const result = parseSip(Buffer.from(`BYE sip:a@b SIP/2.0\r\n${header}: ${value}\r\n\r\n`, 'utf8'));
        assert.ok(result.ok);
        const m = result.message;
        const fast = header === 'From' ? m.fromTag : m.toTag;
        assert.equal(fast, tag, `${header}: ${value}`);
        assert.equal((header === 'From' ? m.from : m.to)?.tag ?? null, tag, `${header}: ${value}`);
      }
    }
  });

  test('CSeq', () => {
    const cseq = fc.tuple(fc.constantFrom('', '0', '1', '42', '2147483647', '2147483648', '99999999999', '007'), text).map(([n, rest]) => `${n}${rest}`);
    fc.assert(
      fc.property(cseq, (value) => {
        const bytes = Buffer.from(value, 'utf8');
        const { start, end } = trimmedBounds(bytes);
        const fast = scanCSeq(bytes, start, end);
        if (fast !== null) assert.deepEqual(fast, parseCSeq(bytes.toString('utf8', start, end)), JSON.stringify(value));
      }),
      RUNS,
    );
  });

  test('CSeq as parseSip reads it (in the scan kernel) equals parseCSeq of the header text', () => {
    // Ten digits at most, whatever their value: '00000000001' is not a valid number.
    const digits = fc.constantFrom('', '0', '1', '42', '2147483647', '2147483648', '99999999999', '007', '0000000001', '00000000001', '000000000000000000001');
    const cseq = fc.tuple(digits, text).map(([n, rest]) => `${n}${rest}`);
    fc.assert(
      fc.property(cseq, fc.constantFrom('CSeq', 'cseq', 'CSEQ'), (value, name) => {
        const result = parseSip(Buffer.from(`OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n${name}: ${value}\r\n\r\n`, 'utf8'));
        if (!result.ok) return;
        const m = result.message;
        const headerText = m.header('CSeq');
        const expected = headerText === null ? { number: null, method: null } : parseCSeq(headerText);
        assert.deepEqual([m.cseqNumber, m.cseqMethod], [expected.number, expected.method], JSON.stringify(value));
      }),
      RUNS,
    );
  });

  test('every common method comes back from the request line and CSeq as itself', () => {
    for (const method of COMMON_METHODS) {
      for (const spelled of [method, method.toLowerCase(), `${method}X`]) {
        const result = parseSip(Buffer.from(`${spelled} sip:a@b SIP/2.0\r\nCSeq: 12 ${spelled}\r\nCall-ID: c\r\nFrom: <sip:a@b>\r\nTo: <sip:c@d>\r\n\r\n`));
        assert.ok(result.ok);
        assert.equal(result.message.method, spelled);
        assert.equal(result.message.cseqMethod, spelled);
        assert.equal(result.message.cseqNumber, 12);
      }
    }
  });

  test('Call-ID as parseSip reads it equals the header text, whatever its bytes', () => {
    fc.assert(
      fc.property(text, fc.constantFrom('Call-ID', 'i', 'call-id'), (value, name) => {
        const result = parseSip(Buffer.from(`BYE sip:a@b SIP/2.0\r\n${name}: ${value}\r\nCSeq: 1 BYE\r\n\r\n`, 'utf8'));
        if (!result.ok) return;
        const headerText = result.message.header('Call-ID');
        assert.equal(result.message.callId, headerText === '' ? null : headerText, JSON.stringify(value));
      }),
      RUNS,
    );
  });

  test('start line', () => {
    const line = fc.oneof(
      text,
      fc.tuple(fc.constantFrom('INVITE', 'BYE', 'inv!te', 'SIP/2.0', 'sip/2.0', 'é'), fc.constantFrom(' ', '  ', '\t'), text, fc.constantFrom(' SIP/2.0', ' sip/1.10', ' SIP/2.', ' SIP/2.0 ', ''))
        .map((parts) => parts.join('')),
      fc.tuple(fc.constantFrom('SIP/2.0 ', 'SiP/12.3 ', 'SIP/2.0  '), fc.constantFrom('100', '200', '699', '700', '099', '20', '2000'), text)
        .map((parts) => parts.join('')),
    );
    fc.assert(
      fc.property(line, (value) => {
        const bytes = Buffer.from(value, 'utf8');
        const spans = scanStartLine(bytes, 0, bytes.length);
        if (spans === null) return;
        const reference = parseStartLine(value);
        assert.ok(reference.ok, JSON.stringify(value));
        if (reference.line.kind === 'request') {
          assert.equal(spans.isRequest, true);
          assert.equal(methodText(bytes, spans.methodStart, spans.methodEnd), reference.line.method);
          assert.equal(bytes.toString('utf8', spans.uriStart, spans.uriEnd), reference.line.requestUri);
        } else {
          assert.equal(spans.isRequest, false);
          assert.equal(spans.statusCode, reference.line.statusCode);
        }
      }),
      RUNS,
    );
  });

  test('start line read with its terminator (parseSip) gives what the text parser gives on the cut line', () => {
    const line = fc.oneof(
      text,
      fc.tuple(fc.constantFrom('INVITE', 'BYE', 'inv!te', 'SIP/2.0', 'é'), fc.constantFrom(' ', '  '), text, fc.constantFrom(' SIP/2.0', ' sip/1.10', ' SIP/2.', ' SIP/2.0 ', ''))
        .map((parts) => parts.join('')),
      fc.tuple(fc.constantFrom('SIP/2.0 ', 'SiP/12.3 ', 'SIP/2.0  '), fc.constantFrom('100', '200', '699', '700', '20'), fc.constantFrom('', ' OK', '\tOK', ' \r', 'x'), text)
        .map((parts) => parts.join('')),
    );
    // Every way a start line may end: CRLF, LF, a lone CR at the end of the payload, nothing,
    // a CR that is not before an LF, two CRs.
    const ending = fc.constantFrom('\r\nTo: <sip:a@b>;tag=t1\r\n\r\n', '\nTo: <sip:a@b>;tag=t1\n', '\r', '', '\rX\r\nTo: <sip:a@b>;tag=t1', '\r\r\nTo: <sip:a@b>;tag=t1', '\n');
    fc.assert(
      fc.property(fc.constantFrom('', '\r\n', '\n\n'), line, ending, (before, value, end) => {
        const payload = Buffer.from(before + value + end, 'utf8');
        const result = parseSip(payload);
        // The reference: the line cut as scanLayout cuts it, given to the text-level parser.
        const layout = scanLayout(payload);
        const cut = payload.toString('utf8', layout.startLineStart, layout.startLineEnd);
        const label = JSON.stringify(before + value + end);
        if (payload.length === 0) return;
        const reference = cut.length === 0 ? null : parseStartLine(cut);
        if (reference === null || !reference.ok) {
          assert.equal(result.ok, false, label);
          return;
        }
        assert.ok(result.ok, label);
        const m = result.message;
        if (reference.line.kind === 'request') {
          assert.equal(m.isRequest, true, label);
          assert.equal(m.method, reference.line.method, label);
          assert.equal(m.requestUri, reference.line.requestUri, label);
        } else {
          assert.equal(m.isRequest, false, label);
          assert.equal(m.statusCode, reference.line.statusCode, label);
        }
        // Where the header lines start must not change either (toTag reads them through the known-header scan).
        assert.equal(m.toTag, layout.headers.firstIndex(TO) === -1 ? null : 't1', label);
      }),
      RUNS,
    );
  });

  test('known headers are where the full table finds them', () => {
    const name = fc.constantFrom('Call-ID', 'call-id', 'i', 'I', 'CSeq', 'cseq', 'From', 'f', 'To', 'TO', 't', 'Via', 'v', 'P-Asserted-Identity', 'Contact', 'Fro', 'Tox', 'C', 'p');
    const line = fc.oneof(
      fc.tuple(name, fc.constantFrom(':', ' :', '\t: ', ': ', ' '), text).map((parts) => parts.join('')),
      text,
      fc.constantFrom('', ' folded', '\tfolded', '\r'),
    );
    const message = fc.tuple(fc.array(line, { maxLength: 12 }), fc.constantFrom('\r\n', '\n', '\r')).map(
      ([lines, end]) => ['\r\nINVITE sip:a@b SIP/2.0', ...lines].join(end),
    );
    const headers: readonly ScannedHeader[] = [CALL_ID, CSEQ, FROM, TO, P_ASSERTED_IDENTITY];
    fc.assert(
      fc.property(message, (value) => {
        const bytes = Buffer.from(value, 'utf8');
        const known = scanKnownHeaders(bytes);
        const layout = scanLayout(bytes);
        assert.equal(known.startLineStart, layout.startLineStart);
        assert.equal(known.startLineEnd, layout.startLineEnd);
        if (known.folded) return;
        for (const header of headers) {
          const index = layout.headers.firstIndex(header);
          assert.equal(known.valueStart(header), index === -1 ? -1 : layout.headers.valueStart(index), `${JSON.stringify(value)} ${header}`);
          assert.equal(known.valueEnd(header), index === -1 ? -1 : layout.headers.valueEnd(index), `${JSON.stringify(value)} ${header}`);
          if (index !== -1) assert.equal(layout.headers.isFolded(index), false);
        }
      }),
      RUNS,
    );
  });

  test('a folded known header is read through the full table', () => {
    const result = parseSip(Buffer.from('BYE sip:a@b SIP/2.0\r\nCall-ID: abc\r\n def\r\nCSeq: 7\r\n  BYE\r\nFrom: <sip:x@y>\r\n ;tag=9\r\n\r\n'));
    assert.ok(result.ok);
    assert.equal(result.message.callId, 'abc def');
    assert.equal(result.message.cseqNumber, 7);
    assert.equal(result.message.cseqMethod, 'BYE');
    assert.equal(result.message.from?.tag, '9');
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSip, type SipMessage } from '../../src/sip/index.ts';
import { sharedDir } from './hep-payloads.ts';

function parsed(text: string | Buffer): SipMessage {
  const result = parseSip(typeof text === 'string' ? Buffer.from(text, 'utf8') : text);
  if (!result.ok) assert.fail(`expected a parsed message, got: ${result.reason}`);
  return result.message;
}

function rejected(text: string | Buffer): string {
  const result = parseSip(typeof text === 'string' ? Buffer.from(text, 'utf8') : text);
  if (result.ok) assert.fail('expected the payload to be rejected');
  return result.reason;
}

const crlf = (...lines: string[]): string => lines.join('\r\n');

describe('parseSip: Canyan test packets', () => {
  // The SIP payload is the tail of the HEP packet (chunk 0x000f is last in these files).
  const payloadOf = (file: string, length: number): Buffer => {
    const packet = readFileSync(join(sharedDir(), 'fixtures', 'canyan', file));
    return packet.subarray(packet.length - length);
  };

  test('INVITE', () => {
    const m = parsed(payloadOf('hep-invite.bin', 513));
    assert.equal(m.isRequest, true);
    assert.equal(m.method, 'INVITE');
    assert.equal(m.statusCode, null);
    assert.equal(m.requestUri, 'sip:service@192.168.192.5:5060');
    assert.equal(m.callId, '1-18@192.168.192.2');
    assert.equal(m.cseqNumber, 1);
    assert.equal(m.cseqMethod, 'INVITE');
    assert.equal(m.viaBranch, 'z9hG4bK-18-1-0');
    assert.deepEqual(m.from, {
      raw: 'sipp <sip:1000@192.168.192.2:5060>;tag=1',
      displayName: 'sipp',
      uri: { scheme: 'sip', user: '1000', host: '192.168.192.2', port: 5060 },
      tag: '1',
    });
    assert.deepEqual(m.to?.uri, { scheme: 'sip', user: '39040123456', host: 'anotherdomain.com', port: 5060 });
    assert.equal(m.to?.displayName, 'sut');
    assert.equal(m.to?.tag, null);
    assert.equal(m.pAssertedIdentity, null);
    assert.equal(m.header('Content-Length'), '137', 'leading spaces of a value are not part of it');
    assert.equal(m.header('Contact'), 'sip:1000@192.168.192.2:5060');
    assert.equal(m.header('Subject'), 'Test');
  });

  test('ACK and BYE', () => {
    const ack = parsed(payloadOf('hep-ack.bin', 407));
    assert.equal(ack.method, 'ACK');
    assert.equal(ack.requestUri, 'sip:192.168.192.3:5060;transport=UDP');
    assert.equal(ack.cseqNumber, 1);
    assert.equal(ack.cseqMethod, 'ACK');
    assert.equal(ack.to?.tag, '1');
    assert.equal(ack.header('Route'), '<sip:192.168.192.5;lr;did=a11.a121>');
    const bye = parsed(payloadOf('hep-bye.bin', 387));
    assert.equal(bye.method, 'BYE');
    assert.equal(bye.cseqNumber, 2);
    assert.equal(bye.viaBranch, 'z9hG4bK-18-1-6');
    assert.equal(bye.header('Max-Forwards'), '30');
  });
});

describe('parseSip: start line', () => {
  test('status line with a multi-word reason', () => {
    const m = parsed(crlf('SIP/2.0 100 trying -- your call is important to us', 'Call-ID: x', '', ''));
    assert.equal(m.isRequest, false);
    assert.equal(m.statusCode, 100);
    assert.equal(m.method, null);
    assert.equal(m.requestUri, null);
  });

  test('status line without a reason phrase, lower-case version', () => {
    assert.equal(parsed('sip/2.0 486\r\n\r\n').statusCode, 486);
  });

  test('tolerates leading blank lines (stream keep-alives)', () => {
    assert.equal(parsed('\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\n\r\n').method, 'OPTIONS');
  });

  test('a start line alone is a message without headers', () => {
    const m = parsed('BYE sip:a@b SIP/2.0');
    assert.equal(m.method, 'BYE');
    assert.equal(m.callId, null);
    assert.equal(m.from, null);
    assert.deepEqual(m.headers('Via'), []);
  });

  for (const [name, payload] of [
    ['empty payload', ''],
    ['only line breaks', '\r\n\r\n'],
    ['garbage', 'DUMMY'],
    ['missing version', 'INVITE sip:a@b\r\n\r\n'],
    ['bad version', 'INVITE sip:a@b HTTP/1.1\r\n\r\n'],
    ['extra words', 'INVITE sip:a@b SIP/2.0 extra\r\n\r\n'],
    ['request URI without scheme', 'INVITE nobody SIP/2.0\r\n\r\n'],
    ['method with a bad character', 'INV@ITE sip:a@b SIP/2.0\r\n\r\n'],
    ['status code out of range', 'SIP/2.0 999 Nope\r\n\r\n'],
    ['status code not numeric', 'SIP/2.0 2OO OK\r\n\r\n'],
    ['control characters', 'INVITE sip:a@b\u0000 SIP/2.0\r\n\r\n'],
    ['an HTTP request', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'],
  ] as const) {
    test(`rejects ${name}`, () => {
      assert.ok(rejected(payload).length > 0);
    });
  }

  test('rejects binary input', () => {
    rejected(Buffer.from([0x48, 0x45, 0x50, 0x33, 0x00, 0x10, 0xff, 0xfe, 0x0a, 0x00]));
  });
});

describe('parseSip: headers', () => {
  test('compact forms answer to long names and vice versa', () => {
    const m = parsed(
      crlf(
        'INVITE sip:bob@example.com SIP/2.0',
        'v: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKcompact',
        'f: <sip:alice@example.com>;tag=fa',
        't: Bob <sip:bob@example.com>',
        'i: compact-call-id',
        'm: <sip:alice@10.0.0.1>',
        'l: 0',
        'c: application/sdp',
        'k: 100rel',
        's: hello',
        'e: gzip',
        'o: refer',
        'u: talk',
        'r: <sip:carol@example.com>',
        'b: <sip:dave@example.com>',
        'x: 1800',
        '',
        '',
      ),
    );
    assert.equal(m.callId, 'compact-call-id');
    assert.equal(m.viaBranch, 'z9hG4bKcompact');
    assert.equal(m.from?.uri?.user, 'alice');
    assert.equal(m.from?.tag, 'fa');
    assert.equal(m.to?.displayName, 'Bob');
    for (const [long, compact, value] of [
      ['Contact', 'm', '<sip:alice@10.0.0.1>'],
      ['Content-Length', 'l', '0'],
      ['Content-Type', 'c', 'application/sdp'],
      ['Supported', 'k', '100rel'],
      ['Subject', 's', 'hello'],
      ['Content-Encoding', 'e', 'gzip'],
      ['Event', 'o', 'refer'],
      ['Allow-Events', 'u', 'talk'],
      ['Refer-To', 'r', '<sip:carol@example.com>'],
      ['Referred-By', 'b', '<sip:dave@example.com>'],
      ['Session-Expires', 'x', '1800'],
      ['Call-ID', 'I', 'compact-call-id'],
    ] as const) {
      assert.equal(m.header(long), value, long);
      assert.equal(m.header(compact), value, compact);
    }
  });

  test('long-form headers are found by their compact letter', () => {
    const m = parsed(crlf('BYE sip:a@b SIP/2.0', 'Call-ID: long', 'From: <sip:x@y>', '', ''));
    assert.equal(m.header('i'), 'long');
    assert.equal(m.header('F'), '<sip:x@y>');
  });

  test('names are case-insensitive in both the message and the query', () => {
    const m = parsed(
      crlf('BYE sip:a@b SIP/2.0', 'CALL-ID: upper', 'cseq: 7 bye', 'FrOm: <sip:x@y>;TAG=t1', 'x-custom-HEADER: v', '', ''),
    );
    assert.equal(m.callId, 'upper');
    assert.equal(m.cseqNumber, 7);
    assert.equal(m.cseqMethod, 'bye');
    assert.equal(m.from?.tag, 't1');
    assert.equal(m.header('X-Custom-Header'), 'v');
    assert.equal(m.header('X-CUSTOM-HEADER'), 'v');
  });

  test('repeated headers: header() gives the first, headers() all in order', () => {
    const m = parsed(
      crlf(
        'INVITE sip:a@b SIP/2.0',
        'Via: SIP/2.0/UDP proxy;branch=z9hG4bKtop',
        'Record-Route: <sip:p1;lr>',
        'Via: SIP/2.0/UDP uac;branch=z9hG4bKbottom',
        'v: SIP/2.0/UDP third;branch=z9hG4bKthird',
        'Record-Route: <sip:p2;lr>',
        '',
        '',
      ),
    );
    assert.equal(m.viaBranch, 'z9hG4bKtop');
    assert.deepEqual(m.headers('via'), [
      'SIP/2.0/UDP proxy;branch=z9hG4bKtop',
      'SIP/2.0/UDP uac;branch=z9hG4bKbottom',
      'SIP/2.0/UDP third;branch=z9hG4bKthird',
    ]);
    assert.deepEqual(m.headers('Record-Route'), ['<sip:p1;lr>', '<sip:p2;lr>']);
    assert.equal(m.header('Missing'), null);
    assert.deepEqual(m.headers('Missing'), []);
  });

  test('the top-most Via is the first hop of a comma-separated list', () => {
    const m = parsed(
      crlf('INVITE sip:a@b SIP/2.0', 'Via: SIP/2.0/UDP h1;rport;BRANCH=z9hG4bK1 , SIP/2.0/UDP h2;branch=z9hG4bK2', '', ''),
    );
    assert.equal(m.viaBranch, 'z9hG4bK1');
  });

  test('Via without a branch', () => {
    assert.equal(parsed(crlf('INVITE sip:a@b SIP/2.0', 'Via: SIP/2.0/UDP h1;rport', '', '')).viaBranch, null);
  });

  test('folded lines are unfolded into single spaces', () => {
    const m = parsed(
      crlf(
        'INVITE sip:a@b SIP/2.0',
        'Subject: I know you\'re there,',
        '   pick up the phone',
        '\tand talk to me!',
        'From:',
        '  "Folded" <sip:folded@example.com>',
        '  ;tag=ft',
        'Via: SIP/2.0/UDP h1',
        ' ;branch=z9hG4bKfold',
        'Call-ID: after-fold',
        '',
        '',
      ),
    );
    assert.equal(m.header('Subject'), "I know you're there, pick up the phone and talk to me!");
    assert.equal(m.from?.raw, '"Folded" <sip:folded@example.com> ;tag=ft');
    assert.equal(m.from?.displayName, 'Folded');
    assert.equal(m.from?.tag, 'ft');
    assert.equal(m.viaBranch, 'z9hG4bKfold');
    assert.equal(m.callId, 'after-fold');
  });

  test('LF-only line ends', () => {
    const m = parsed('INVITE sip:a@b SIP/2.0\nCall-ID: lf-only\nCSeq: 3 INVITE\nSubject: one\n  two\n\nv=0\nCall-ID: in-body\n');
    assert.equal(m.callId, 'lf-only');
    assert.equal(m.cseqNumber, 3);
    assert.equal(m.header('Subject'), 'one two');
    assert.deepEqual(m.headers('Call-ID'), ['lf-only'], 'the body is not scanned for headers');
  });

  test('the last header may end without a line break', () => {
    const m = parsed('INVITE sip:a@b SIP/2.0\r\nCall-ID: x\r\nRoute: <sip:last@host;lr>');
    assert.equal(m.header('Route'), '<sip:last@host;lr>');
  });

  test('whitespace around the colon and at the end of values', () => {
    const m = parsed(crlf('INVITE sip:a@b SIP/2.0', 'Call-ID \t:   spaced  \t', 'X-Empty:', 'X-Blank:    ', '', ''));
    assert.equal(m.callId, 'spaced');
    assert.equal(m.header('X-Empty'), '');
    assert.equal(m.header('X-Blank'), '');
  });

  test('malformed header lines are skipped, the rest is still read', () => {
    const m = parsed(
      crlf(
        'INVITE sip:a@b SIP/2.0',
        'this line has no colon',
        '  continuation of a skipped line',
        ': no name',
        'Bad Name: space inside the name',
        'Na<me: bad character',
        'Call-ID: still-found',
        'CSeq: not-a-number INVITE',
        '',
        '',
      ),
    );
    assert.equal(m.callId, 'still-found');
    assert.equal(m.header('Bad Name'), null);
    assert.equal(m.header('Name'), null);
    assert.equal(m.cseqNumber, null);
    assert.equal(m.cseqMethod, null);
  });

  test('a continuation line right after the start line is ignored', () => {
    const m = parsed(crlf('INVITE sip:a@b SIP/2.0', ' stray', 'Call-ID: c', '', ''));
    assert.equal(m.callId, 'c');
  });

  test('CSeq edge cases', () => {
    const cseq = (value: string): [number | null, string | null] => {
      const m = parsed(crlf('INVITE sip:a@b SIP/2.0', `CSeq: ${value}`, '', ''));
      return [m.cseqNumber, m.cseqMethod];
    };
    assert.deepEqual(cseq('10691 INVITE'), [10691, 'INVITE']);
    assert.deepEqual(cseq('2147483647   BYE'), [2147483647, 'BYE']);
    assert.deepEqual(cseq('2147483648 BYE'), [null, 'BYE']);
    assert.deepEqual(cseq('99999999999999999999 BYE'), [null, 'BYE']);
    assert.deepEqual(cseq('12'), [12, null]);
    assert.deepEqual(cseq('12INVITE'), [12, null]);
  });

  test('an empty Call-ID reads as absent', () => {
    assert.equal(parsed(crlf('INVITE sip:a@b SIP/2.0', 'Call-ID:', '', '')).callId, null);
  });

  test('non-ASCII text in values is decoded as UTF-8', () => {
    const m = parsed(crlf('INVITE sip:a@b SIP/2.0', 'From: "Jürgen Müller" <sip:j@example.de>;tag=ü', '', ''));
    assert.equal(m.from?.displayName, 'Jürgen Müller');
    assert.equal(m.from?.tag, 'ü');
  });

  test('values are computed once and cached', () => {
    const m = parsed(crlf('INVITE sip:a@b SIP/2.0', 'From: <sip:x@y>;tag=1', '', ''));
    assert.equal(m.from, m.from);
  });
});

describe('parseSip: addresses', () => {
  const fromOf = (value: string) => parsed(crlf('INVITE sip:a@b SIP/2.0', `From: ${value}`, '', '')).from;

  test('quoted display names with escapes and commas', () => {
    const from = fromOf('"Smith, John \\"JJ\\"" <sip:john@example.com>;tag=9');
    assert.equal(from?.displayName, 'Smith, John "JJ"');
    assert.equal(from?.uri?.user, 'john');
    assert.equal(from?.tag, '9');
  });

  test('unquoted display names', () => {
    assert.equal(fromOf('Calling User <sip:151@10.135.0.1:5060>;tag=m3l2hbp')?.displayName, 'Calling User');
  });

  test('addr-spec without brackets: parameters belong to the header', () => {
    const from = fromOf('sip:alice@atlanta.com;tag=88sja8x');
    assert.deepEqual(from?.uri, { scheme: 'sip', user: 'alice', host: 'atlanta.com', port: null });
    assert.equal(from?.displayName, null);
    assert.equal(from?.tag, '88sja8x');
  });

  test('URI parameters inside brackets are not header parameters', () => {
    const from = fromOf('<sip:+39029501685@ictvoip.it;user=phone;tag=inner>;tag=outer');
    assert.deepEqual(from?.uri, { scheme: 'sip', user: '+39029501685', host: 'ictvoip.it', port: null });
    assert.equal(from?.tag, 'outer');
  });

  test('IPv6 hosts keep their brackets and lose the port', () => {
    assert.deepEqual(fromOf('<sip:alice@[2001:db8::10]:5070;transport=udp>;tag=6')?.uri, {
      scheme: 'sip',
      user: 'alice',
      host: '[2001:db8::10]',
      port: 5070,
    });
    assert.deepEqual(fromOf('<sip:[::1]>')?.uri, { scheme: 'sip', user: null, host: '[::1]', port: null });
    const m = parsed(crlf('INVITE sip:bob@[2001:db8::1]:5060 SIP/2.0', 'Via: SIP/2.0/UDP [2001:db8::2]:5060;branch=z9hG4bK6', '', ''));
    assert.equal(m.requestUri, 'sip:bob@[2001:db8::1]:5060');
    assert.equal(m.viaBranch, 'z9hG4bK6');
  });

  test('sips, passwords, users with parameters, tel URIs', () => {
    assert.deepEqual(fromOf('<sips:bob:secret@biloxi.com:5061>')?.uri, {
      scheme: 'sips',
      user: 'bob',
      host: 'biloxi.com',
      port: 5061,
    });
    assert.deepEqual(fromOf('<sip:+1234;npdi;rn=+1999@gw.example.com;user=phone>')?.uri, {
      scheme: 'sip',
      user: '+1234;npdi;rn=+1999',
      host: 'gw.example.com',
      port: null,
    });
    assert.deepEqual(fromOf('<tel:+390612345;phone-context=example.com>;tag=t')?.uri, {
      scheme: 'tel',
      user: '+390612345',
      host: '',
      port: null,
    });
    assert.deepEqual(fromOf('<SIP:Upper@Example.COM>')?.uri, { scheme: 'sip', user: 'Upper', host: 'Example.COM', port: null });
  });

  test('unreadable URIs give a null uri but keep the raw value', () => {
    for (const value of ['<>', 'garbage', '<sip:>', '<sip:user@>', '<sip:[::1>', '"only a name"', '<:nope>']) {
      const from = fromOf(value);
      assert.equal(from?.uri, null, value);
      assert.equal(from?.raw, value);
    }
    assert.equal(fromOf('<sip:host:99999>')?.uri?.port, null, 'an out-of-range port is dropped');
  });

  test('only the first of several comma-separated identities is read', () => {
    const m = parsed(
      crlf('INVITE sip:a@b SIP/2.0', 'P-Asserted-Identity: "A, B" <sip:1000@pbx.example.com>, <tel:+3902123>', '', ''),
    );
    assert.equal(m.pAssertedIdentity?.displayName, 'A, B');
    assert.equal(m.pAssertedIdentity?.uri?.user, '1000');
    assert.equal(m.pAssertedIdentity?.uri?.host, 'pbx.example.com');
  });

  test('Contact: * has no URI', () => {
    const m = parsed(crlf('REGISTER sip:example.com SIP/2.0', 'Contact: *', 'Expires: 0', '', ''));
    assert.equal(m.header('m'), '*');
  });
});

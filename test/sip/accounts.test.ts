import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSip, type SipMessage } from '../../src/sip/index.ts';
import { createAccountIdentifier, type AccountIdentificationSettings } from '../../src/sip/accounts.ts';
import { sharedDir } from './hep-payloads.ts';

function message(payload: string | Buffer): SipMessage {
  const result = parseSip(typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload);
  if (!result.ok) assert.fail(result.reason);
  return result.message;
}

// The original agent's defaults, except that History-Info is off unless a case turns it on
// (the Go table called the function with an empty History-Info header name).
const NO_SETTINGS: AccountIdentificationSettings = {
  sip_local_domains: [],
  sip_header_caller: '',
  sip_header_callee: '',
  sip_header_history_info: '',
  sip_header_history_info_index: 1,
  account_tag_match_regexp: '',
};

// Base message P1 of canyanio/rating-agent-hep model/sip_test.go (a Wildix phone's INVITE).
function p1(options: { pai?: boolean; extra?: string[] } = {}): string {
  return [
    'INVITE sip:001234567890@10.135.0.1:5060;user=phone SIP/2.0',
    'Via: SIP/2.0/UDP 10.135.0.12:5060;branch=z9hG4bKhye0bem20x.nx8hnt',
    'Max-Forwards: 70',
    'From: "Calling User" <sip:151@10.135.0.1:5060>;tag=m3l2hbp',
    'To: <sip:001234567890@10.135.0.1:5060;user=phone>',
    'Call-ID: ud04chatv9q@10.135.0.1',
    'CSeq: 10691 INVITE',
    'Contact: <sip:151@10.135.0.12;line=12071>;+sip.instance="<urn:uuid:0d9a008d-0355-0024-0004-000276f3d664>"',
    ...(options.pai === false ? [] : ['P-Asserted-Identity: <sip:1000@localhost>']),
    ...(options.extra ?? []),
    'Allow: INVITE, CANCEL, BYE, ACK, REGISTER, OPTIONS, REFER, SUBSCRIBE, NOTIFY, MESSAGE, INFO, PRACK, UPDATE',
    'Content-Disposition: session',
    'Supported: replaces,100rel',
    'User-Agent: Wildix W-AIR 03.55.00.24 9c7514340722 02:76:f3:d6:64',
    'Content-Type: application/sdp',
    'Content-Length: 0',
    '',
  ].join('\r\n');
}

// Base message P2: an Italian carrier INVITE whose last header (Route) has no trailing CRLF.
function p2(options: { extra?: string[] } = {}): string {
  return [
    'INVITE sip:+390759975378@telecomitalia.it;user=phone SIP/2.0',
    'Via: SIP/2.0/UDP 80.21.1.119:5060;branch=z9hG4bKvtfill3090fs7a6mvfm0.1',
    'To: <sip:+390759975378@operatore.it;user=phone>',
    'From: "+39029501685" <sip:+39029501685@ictvoip.it;user=phone>;tag=007694f3-0004-0001-0000-0000',
    'Call-ID: 007694680076945-0004-0001-0000-0000@172.16.30.36',
    'CSeq: 1 INVITE',
    'Max-Forwards: 69',
    'Contact: <sip:+39029501685@80.21.1.119:5060;transport=udp>',
    'Allow: INVITE, ACK, PRACK, CANCEL, BYE, OPTIONS, MESSAGE, NOTIFY, UPDATE, REGISTER, INFO, REFER, SUBSCRIBE, PUBLISH',
    'Supported: 100rel',
    'P-Asserted-Identity: <sip:+39029501685@ictvoip.it;user=phone>',
    'Accept: application/sdp, application/isup, application/xml',
    ...(options.extra ?? []),
    'Content-Type: application/sdp',
    'Content-Length: 259',
    'Route: <sip:+390759975378@37.10.80.21:5060;user=phone;lr>',
  ].join('\r\n');
}

const HISTORY_INFO = [
  'History-Info: <sip:+3902888804@ictvoip.it;user=phone?Privacy=history>;index=1',
  'History-Info: <sip:+390759975378@ictvoip.it;user=phone;cause=302>;index=1.1',
];

describe('createAccountIdentifier: Go test vectors (model/sip_test.go)', () => {
  const cases: Array<{
    name: string;
    payload: string;
    settings: Partial<AccountIdentificationSettings>;
    expected: [string, string];
  }> = [
    { name: '1 PAI without a domain filter', payload: p1(), settings: {}, expected: ['1000', ''] },
    { name: '2 no PAI, no configuration', payload: p1({ pai: false }), settings: {}, expected: ['', ''] },
    {
      name: '3 custom caller header beats PAI',
      payload: p1({ extra: ['X-Account-Tag: 2000'] }),
      settings: { sip_header_caller: 'X-Account-Tag' },
      expected: ['2000', ''],
    },
    {
      name: '4 custom callee header',
      payload: p1({ extra: ['X-Destination-Account-Tag: 2000'] }),
      settings: { sip_header_callee: 'X-Destination-Account-Tag' },
      expected: ['1000', '2000'],
    },
    {
      name: '5 domain filter: From and To on a local domain, PAI host not local',
      payload: p1({ extra: ['X-Destination-Account-Tag: 2000'] }),
      settings: { sip_local_domains: ['10.135.0.1'] },
      expected: ['151', '001234567890'],
    },
    {
      name: '6 domain filter: PAI host local, To host not',
      payload: p1({ extra: ['X-Destination-Account-Tag: 2000'] }),
      settings: { sip_local_domains: ['localhost'] },
      expected: ['1000', ''],
    },
    {
      name: '7 domain filter: nothing local',
      payload: p1({ extra: ['X-Destination-Account-Tag: 2000'] }),
      settings: { sip_local_domains: ['dummy'] },
      expected: ['', ''],
    },
    {
      name: '8 PAI on a local domain, regexp group strips +39',
      payload: p2(),
      settings: { sip_local_domains: ['ictvoip.it', 'sip.ictvoip.it'], account_tag_match_regexp: '\\+39([0-9]+)' },
      expected: ['029501685', ''],
    },
    {
      name: '9 History-Info index 1 is the second-to-last entry and beats PAI',
      payload: p2({ extra: HISTORY_INFO }),
      settings: {
        sip_header_history_info: 'History-Info',
        sip_header_history_info_index: 1,
        sip_local_domains: ['ictvoip.it', 'sip.ictvoip.it'],
        account_tag_match_regexp: '\\+39([0-9]+)',
      },
      expected: ['02888804', ''],
    },
  ];

  for (const c of cases) {
    test(c.name, () => {
      const identify = createAccountIdentifier({ ...NO_SETTINGS, ...c.settings });
      const parties = identify(message(c.payload));
      assert.deepEqual([parties.accountTag, parties.destinationAccountTag], c.expected);
    });
  }

  test('TestParseSIPMessage: From user and host without the port', () => {
    const m = message(p1());
    assert.equal(m.from?.uri?.user, '151');
    assert.equal(m.from?.uri?.host, '10.135.0.1');
    const parties = createAccountIdentifier(NO_SETTINGS)(m);
    assert.equal(parties.source, 'sip:151@10.135.0.1');
    assert.equal(parties.destination, 'sip:001234567890@10.135.0.1');
  });
});

describe('createAccountIdentifier: Canyan server test fixture (config.test.yml)', () => {
  test('the INVITE of hep-invite.bin', () => {
    const packet = readFileSync(join(sharedDir(), 'fixtures', 'canyan', 'hep-invite.bin'));
    const identify = createAccountIdentifier({
      ...NO_SETTINGS,
      sip_local_domains: ['192.168.192.2', 'anotherdomain.com'],
      sip_header_history_info: 'History-Info',
      sip_header_history_info_index: 1,
    });
    assert.deepEqual(identify(message(packet.subarray(packet.length - 513))), {
      accountTag: '1000',
      destinationAccountTag: '39040123456',
      source: 'sip:1000@192.168.192.2',
      destination: 'sip:39040123456@anotherdomain.com',
    });
  });
});

describe('createAccountIdentifier: rule details', () => {
  const withHistory = (index: number, extra: string[]) =>
    createAccountIdentifier({ ...NO_SETTINGS, sip_header_history_info: 'History-Info', sip_header_history_info_index: index })(
      message(p2({ extra })),
    ).accountTag;

  test('History-Info index counts from the end', () => {
    assert.equal(withHistory(0, HISTORY_INFO), '+390759975378');
    assert.equal(withHistory(1, HISTORY_INFO), '+3902888804');
  });

  test('History-Info with too few entries falls through to the next rule', () => {
    // Two entries and index 2: no History-Info tag, so the PAI (no domain filter) is used.
    assert.equal(withHistory(2, HISTORY_INFO), '+39029501685');
    assert.equal(withHistory(1, [HISTORY_INFO[0]]), '+39029501685');
    assert.equal(withHistory(-1, HISTORY_INFO), '+39029501685');
  });

  test('History-Info is matched case-sensitively and only in the sip: form', () => {
    assert.equal(withHistory(0, ['history-info: <sip:+391@ictvoip.it>;index=1']), '+39029501685');
    assert.equal(withHistory(0, ['History-Info: <sips:+391@ictvoip.it>;index=1']), '+39029501685');
    assert.equal(withHistory(0, ['History-Info: <tel:+391>;index=1']), '+39029501685');
  });

  test('History-Info users run to the last @ of the line, and hosts are not checked', () => {
    assert.equal(withHistory(0, ['History-Info: <sip:a@b@nowhere.example>;index=1']), 'a@b');
    assert.equal(
      withHistory(0, ['History-Info: <sip:x@h1>;index=1, <sip:y@h2>;index=1.1']),
      'x@h1>;index=1, <sip:y',
      'one match per line, like the original regexp',
    );
  });

  test('History-Info needs at least one character before the @', () => {
    assert.equal(withHistory(0, ['History-Info: <sip:@host>;index=1']), '+39029501685');
  });

  test('History-Info may continue on the next line (the \\s* of the original pattern)', () => {
    assert.equal(withHistory(0, ['History-Info:', ' <sip:folded@ictvoip.it>;index=1']), 'folded');
  });

  test('History-Info is found anywhere in the payload, even in the body', () => {
    const payload = `${p1({ pai: false })}\r\nHistory-Info: <sip:inbody@x>;index=1\r\n`;
    const identify = createAccountIdentifier({ ...NO_SETTINGS, sip_header_history_info: 'History-Info', sip_header_history_info_index: 0 });
    assert.equal(identify(message(payload)).accountTag, 'inbody');
  });

  test('hand-made messages without a payload use their History-Info headers', () => {
    const parsed = message(p2({ extra: HISTORY_INFO }));
    const handMade: SipMessage = {
      isRequest: true,
      method: 'INVITE',
      statusCode: null,
      requestUri: parsed.requestUri,
      callId: parsed.callId,
      cseqNumber: 1,
      cseqMethod: 'INVITE',
      from: parsed.from,
      to: parsed.to,
      fromTag: parsed.fromTag,
      toTag: parsed.toTag,
      viaBranch: null,
      pAssertedIdentity: parsed.pAssertedIdentity,
      header: (name) => parsed.header(name),
      headers: (name) => parsed.headers(name),
    };
    const identify = createAccountIdentifier({ ...NO_SETTINGS, sip_header_history_info: 'History-Info', sip_header_history_info_index: 1 });
    assert.equal(identify(handMade).accountTag, '+3902888804');
  });

  test('an empty custom caller header falls through to PAI; the last occurrence wins', () => {
    const settings = { ...NO_SETTINGS, sip_header_caller: 'X-Account-Tag' };
    assert.equal(createAccountIdentifier(settings)(message(p1({ extra: ['X-Account-Tag:'] }))).accountTag, '1000');
    assert.equal(
      createAccountIdentifier(settings)(message(p1({ extra: ['X-Account-Tag: first', 'x-account-tag: second'] }))).accountTag,
      'second',
    );
  });

  test('a qualifying PAI is final even when its user is empty (From is not consulted)', () => {
    const payload = p1({ pai: false, extra: ['P-Asserted-Identity: <sip:10.135.0.1>'] });
    const identify = createAccountIdentifier({ ...NO_SETTINGS, sip_local_domains: ['10.135.0.1'] });
    assert.equal(identify(message(payload)).accountTag, '');
  });

  test('an unreadable PAI counts with its raw text (no host), as in the original', () => {
    const payload = p1({ pai: false, extra: ['P-Asserted-Identity: garbage'] });
    assert.equal(createAccountIdentifier(NO_SETTINGS)(message(payload)).accountTag, 'garbage');
    const filtered = createAccountIdentifier({ ...NO_SETTINGS, sip_local_domains: ['10.135.0.1'] });
    assert.equal(filtered(message(payload)).accountTag, '151', 'not local, so From is used');
  });

  test('domains are compared exactly, without the port', () => {
    const identify = createAccountIdentifier({ ...NO_SETTINGS, sip_local_domains: ['10.135.0.1:5060'] });
    assert.deepEqual(identify(message(p1({ pai: false }))).accountTag, '');
  });

  test('the regexp applies to both tags; no match keeps the tag', () => {
    const identify = createAccountIdentifier({
      ...NO_SETTINGS,
      sip_local_domains: ['10.135.0.1'],
      account_tag_match_regexp: '^0*([1-9][0-9]*)$',
    });
    const parties = identify(message(p1({ pai: false })));
    assert.equal(parties.accountTag, '151');
    assert.equal(parties.destinationAccountTag, '1234567890');
    const prefixed = createAccountIdentifier({ ...NO_SETTINGS, sip_local_domains: ['10.135.0.1'], account_tag_match_regexp: '^\\+39(.*)' });
    assert.equal(prefixed(message(p1({ pai: false }))).accountTag, '151');
  });

  test('a regexp without a group keeps the tag instead of crashing', () => {
    const identify = createAccountIdentifier({ ...NO_SETTINGS, account_tag_match_regexp: '[0-9]+' });
    assert.equal(identify(message(p1())).accountTag, '1000');
  });

  test('an optional group that did not take part yields an empty tag (Go semantics)', () => {
    const identify = createAccountIdentifier({ ...NO_SETTINGS, account_tag_match_regexp: '(x)?1000' });
    assert.equal(identify(message(p1())).accountTag, '');
  });

  test('an invalid regexp is ignored', () => {
    const identify = createAccountIdentifier({ ...NO_SETTINGS, account_tag_match_regexp: '([0-9' });
    assert.equal(identify(message(p1())).accountTag, '1000');
  });

  test('source and destination drop ports and parameters and always use sip:', () => {
    const payload = [
      'INVITE sip:x@y SIP/2.0',
      'From: <sips:alice@[2001:db8::1]:5061;transport=tls>;tag=1',
      'To: <tel:+390612345;phone-context=example.com>',
      '',
      '',
    ].join('\r\n');
    const parties = createAccountIdentifier(NO_SETTINGS)(message(payload));
    assert.equal(parties.source, 'sip:alice@[2001:db8::1]');
    assert.equal(parties.destination, 'sip:+390612345@');
  });

  test('missing From/To give empty addresses and tags', () => {
    const parties = createAccountIdentifier({ ...NO_SETTINGS, sip_local_domains: ['example.com'] })(
      message('BYE sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n'),
    );
    assert.deepEqual(parties, { accountTag: '', destinationAccountTag: '', source: '', destination: '' });
  });
});

// Every SIP message captured from Kamailio and OpenSIPS (and Canyan's own packets) must parse,
// and what is read must agree with what the proxies put in the HEP envelope.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSip } from '../../src/sip/index.ts';
import { createAccountIdentifier } from '../../src/sip/accounts.ts';
import { allFixtureSipPayloads } from './hep-payloads.ts';

const captured = allFixtureSipPayloads();

describe('parseSip on captured HEP fixtures', () => {
  test('the fixtures hold a substantial number of SIP messages', () => {
    assert.ok(captured.length >= 150, `only ${captured.length} SIP payloads found`);
  });

  test('every captured message parses and is self-consistent', () => {
    for (const { source, payload, correlationId } of captured) {
      const result = parseSip(payload);
      assert.ok(result.ok, `${source}: ${result.ok ? '' : result.reason}`);
      const m = result.message;
      if (correlationId !== null) assert.equal(m.callId, correlationId, `${source}: Call-ID vs HEP correlation`);
      assert.ok(m.callId !== null && m.callId.length > 0, `${source}: Call-ID`);
      assert.ok(m.cseqNumber !== null && m.cseqNumber > 0, `${source}: CSeq number`);
      if (m.isRequest) {
        assert.equal(m.cseqMethod, m.method, `${source}: CSeq method`);
        assert.ok(m.requestUri?.startsWith('sip:'), `${source}: request URI`);
      } else {
        assert.ok(m.statusCode !== null && m.statusCode >= 100 && m.statusCode < 700, `${source}: status`);
      }
      assert.ok(m.viaBranch?.startsWith('z9hG4bK'), `${source}: Via branch ${m.viaBranch}`);
      assert.ok(m.from?.uri !== null && m.from?.tag, `${source}: From`);
      assert.ok(m.to?.uri !== null && m.to !== null, `${source}: To`);
      assert.equal(m.header('Call-ID'), m.callId);
    }
  });

  test('the test calls are identified as 1000 -> 1001 (Kamailio) and 2000 -> 2001 (OpenSIPS)', () => {
    const identify = createAccountIdentifier({
      sip_local_domains: ['sip.example.com'],
      sip_header_caller: '',
      sip_header_callee: '',
      sip_header_history_info: 'History-Info',
      sip_header_history_info_index: 1,
      account_tag_match_regexp: '',
    });
    let invites = 0;
    for (const { source, payload } of captured) {
      const result = parseSip(payload);
      const fromProxy = source.startsWith('kamailio') || source.startsWith('opensips');
      if (!result.ok || result.message.method !== 'INVITE' || !fromProxy) continue;
      invites++;
      const parties = identify(result.message);
      const expected = source.startsWith('kamailio') ? ['1000', '1001'] : ['2000', '2001'];
      assert.deepEqual([parties.accountTag, parties.destinationAccountTag], expected, source);
      assert.equal(parties.source, `sip:${expected[0]}@sip.example.com`, source);
      assert.equal(parties.destination, `sip:${expected[1]}@sip.example.com`, source);
    }
    assert.ok(invites >= 10, `only ${invites} INVITEs`);
  });
});

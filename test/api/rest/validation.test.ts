import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readEndTransaction, readRecordTransaction } from '../../../src/api/rest/requests.ts';

const AT_10H = Date.UTC(2019, 0, 1, 10, 0, 0) * 1000; // micros

describe('REST request reading', () => {
  test('timestamps: ISO with or without offset, epoch seconds as number or text, epoch milliseconds', () => {
    const cases: [unknown, number][] = [
      ['2019-01-01T10:00:00', AT_10H],
      ['2019-01-01T10:00:00Z', AT_10H],
      ['2019-01-01T11:00:00+01:00', AT_10H],
      ['20190101T100000Z', AT_10H],
      ['2019-01-01T10:00:00.250000', AT_10H + 250_000],
      [1546336800, AT_10H],
      [1546336800.5, AT_10H + 500_000],
      ['1546336800', AT_10H],
      [1546336800000, AT_10H], // above pydantic's watershed: milliseconds
    ];
    for (const [value, expected] of cases) {
      const result = readEndTransaction({ transaction_tag: '1', timestamp_end: value });
      assert.ok(result.ok, JSON.stringify(value));
      assert.equal(result.request.timestamp_end, expected, JSON.stringify(value));
    }
  });

  test('absent or null timestamps are left to the engine clock', () => {
    for (const body of [{ transaction_tag: '1' }, { transaction_tag: '1', timestamp_end: null }]) {
      const result = readEndTransaction(body);
      assert.ok(result.ok);
      assert.equal(result.request.timestamp_end, null);
    }
  });

  test('invalid timestamps are rejected', () => {
    for (const value of ['2019-02-30T00:00:00', 'now', true, {}, []]) {
      const result = readEndTransaction({ transaction_tag: '1', timestamp_end: value });
      assert.equal(result.ok, false, JSON.stringify(value));
    }
  });

  test('booleans accept the words pydantic accepts', () => {
    const truthy = [true, 1, '1', 'true', 'TRUE', 'yes', 'on', 't', 'y'];
    const falsy = [false, 0, '0', 'false', 'no', 'off', 'f', 'n'];
    for (const value of truthy) {
      const result = readRecordTransaction({ transaction_tag: '1', authorized: value });
      assert.ok(result.ok && result.request.authorized === true, JSON.stringify(value));
    }
    for (const value of falsy) {
      const result = readRecordTransaction({ transaction_tag: '1', authorized: value });
      assert.ok(result.ok && result.request.authorized === false, JSON.stringify(value));
    }
    for (const value of [2, 'maybe', [], {}]) {
      assert.equal(readRecordTransaction({ transaction_tag: '1', authorized: value }).ok, false, JSON.stringify(value));
    }
  });

  test('defaults: tenant "default", everything else absent, authorized false', () => {
    const result = readRecordTransaction({ transaction_tag: 'abc', tenant: null });
    assert.ok(result.ok);
    assert.deepEqual(result.request, {
      tenant: 'default',
      transaction_tag: 'abc',
      account_tag: null,
      destination_account_tag: null,
      source: null,
      source_ip: null,
      destination: null,
      carrier_ip: null,
      tags: null,
      authorized: false,
      unauthorized_reason: null,
      timestamp_auth: null,
      timestamp_begin: null,
      timestamp_end: null,
      sip_status: null,
      end_reason: null,
    });
  });

  test('the additive fields sip_status and end_reason are read and checked', () => {
    const result = readRecordTransaction({ transaction_tag: '1', sip_status: '486', end_reason: 'max_duration' });
    assert.ok(result.ok);
    assert.equal(result.request.sip_status, 486);
    assert.equal(result.request.end_reason, 'max_duration');
    const bad = readRecordTransaction({ transaction_tag: '1', sip_status: 'busy' });
    assert.deepEqual(bad, {
      ok: false,
      issues: [{ loc: ['body', 'sip_status'], msg: 'value is not a valid integer', type: 'type_error.integer' }],
    });
  });

  test('an empty account tag is kept as given (the engine treats it as absent)', () => {
    const result = readEndTransaction({ transaction_tag: '1', account_tag: '', destination_account_tag: '' });
    assert.ok(result.ok);
    assert.equal(result.request.account_tag, '');
    assert.equal(result.request.destination_account_tag, '');
  });
});

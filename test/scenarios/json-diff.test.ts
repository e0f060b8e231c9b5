import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { diffJson, formatJsonDiff, pythonJsonEqual } from '../../src/scenarios/json-diff.ts';

describe('exact JSON comparison with Python equality', () => {
  test('key order does not matter, list order does', () => {
    assert.ok(pythonJsonEqual({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 }));
    assert.ok(!pythonJsonEqual([1, 2], [2, 1]));
  });

  test('whole-document: an extra key is a difference, no subset match', () => {
    assert.ok(!pythonJsonEqual({ a: 1 }, { a: 1, b: 2 }));
    assert.deepEqual(diffJson({ a: 1 }, { a: 1, b: 2 }), [{ path: 'b', expected: undefined, actual: 2 }]);
  });

  test('True == 1 and False == 0 as in Python; null only equals null', () => {
    assert.ok(pythonJsonEqual({ primary: true }, { primary: 1 }));
    assert.ok(pythonJsonEqual([false], [0]));
    assert.ok(!pythonJsonEqual({ a: null }, { a: 0 }));
    assert.ok(!pythonJsonEqual({ a: '1' }, { a: 1 }));
  });

  test('differences carry readable paths', () => {
    const expected = { data: { allTransactions: [{ account_tag: '1000', inbound: false }] } };
    const actual = { data: { allTransactions: [{ account_tag: '1000', inbound: true }, { extra: 1 }] } };
    assert.deepEqual(diffJson(expected, actual), [
      { path: 'data.allTransactions[0].inbound', expected: false, actual: true },
      { path: 'data.allTransactions[1]', expected: undefined, actual: { extra: 1 } },
    ]);
    assert.deepEqual(formatJsonDiff(diffJson(expected, actual)), [
      '  data.allTransactions[0].inbound: expected false, actual true',
      '  data.allTransactions[1]: expected (absent), actual {"extra":1}',
    ]);
  });

  test('missing keys, type changes, odd key names and the root', () => {
    assert.deepEqual(diffJson({ 'a-b': { c: 1 } }, { 'a-b': null }), [{ path: '["a-b"]', expected: { c: 1 }, actual: null }]);
    assert.deepEqual(diffJson({ data: { x: 1 } }, { data: {} }), [{ path: 'data.x', expected: 1, actual: undefined }]);
    assert.deepEqual(diffJson(1, 'one'), [{ path: '(root)', expected: 1, actual: 'one' }]);
  });

  test('the number of reported differences is bounded', () => {
    const expected = Array.from({ length: 100 }, (_, i) => i);
    const actual = Array.from({ length: 100 }, (_, i) => -i - 1);
    assert.equal(diffJson(expected, actual, 10).length, 10);
  });

  test('long values are shortened in the report', () => {
    const [line] = formatJsonDiff([{ path: 'x', expected: 'a'.repeat(500), actual: 1 }], 20);
    assert.equal(line, `  x: expected "${'a'.repeat(18)}…, actual 1`);
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ListenAddressError, formatListenAddress, parseListenAddress } from '../../src/transports/listen-address.ts';

describe('listen addresses', () => {
  test('accepted forms', () => {
    assert.equal(parseListenAddress(''), null);
    assert.equal(parseListenAddress('   '), null);
    assert.deepEqual(parseListenAddress(':9060'), { host: '0.0.0.0', port: 9060 });
    assert.deepEqual(parseListenAddress('9060'), { host: '0.0.0.0', port: 9060 });
    assert.deepEqual(parseListenAddress('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseListenAddress('localhost:9061'), { host: 'localhost', port: 9061 });
    assert.deepEqual(parseListenAddress('[::1]:9060'), { host: '::1', port: 9060 });
  });

  test('rejected forms', () => {
    for (const bad of ['localhost', '::1:9060', 'host:port', 'host:70000', '[::1]']) {
      assert.throws(() => parseListenAddress(bad), ListenAddressError, bad);
    }
  });

  test('formatting puts IPv6 hosts in brackets', () => {
    assert.equal(formatListenAddress({ host: '::1', port: 9060 }), '[::1]:9060');
    assert.equal(formatListenAddress({ host: '0.0.0.0', port: 9060 }), '0.0.0.0:9060');
  });
});

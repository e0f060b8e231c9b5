import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEFAULT_CONFIG, loadConfig } from '../../src/config/config.ts';
import { parseListenAddress } from '../../src/config/listen-address.ts';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'canyan-config-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function yamlFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function configErrorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a ConfigError');
}

describe('loadConfig defaults', () => {
  test('no sources gives the documented defaults', () => {
    const config = loadConfig({ flags: {}, env: {} });
    assert.deepEqual(config, {
      api_listen: '0.0.0.0:8000',
      database_url: 'sqlite:./data/rating.db',
      tenant: 'default',
      log_level: 'info',
      api_body_limit: 1048576,
      hep_listen_udp: '0.0.0.0:9060',
      hep_listen_tcp: '0.0.0.0:9060',
      sip_local_domains: [],
      sip_header_caller: '',
      sip_header_callee: '',
      sip_header_history_info: 'History-Info',
      sip_header_history_info_index: 1,
      account_tag_match_regexp: '',
      product_tag: 'VOICE',
      transaction_tags: [],
      call_max_duration: 14400,
      call_unanswered_timeout: 300,
      database_pool_size: 10,
      state_url: 'memory',
      state_key_prefix: 'canyan-rating:',
      state_file: './data/agent-calls.json',
      bus_url: 'local',
      bus_protocol: 'native',
      bus_queue: 'canyan-rating.events',
      spool_dir: './data/spool',
      spool_max_bytes: 1073741824,
      engine_prefetch: 64,
    });
  });

  test('state_url, bus_url and bus_protocol accept their forms and name what is expected otherwise', () => {
    const ok = loadConfig({
      flags: {},
      env: { RATING_STATE_URL: 'redis://127.0.0.1:6379/2', RATING_BUS_URL: 'amqp://guest:guest@127.0.0.1:5672/%2F', RATING_BUS_PROTOCOL: 'Canyan' },
    });
    assert.equal(ok.state_url, 'redis://127.0.0.1:6379/2');
    assert.equal(ok.bus_url, 'amqp://guest:guest@127.0.0.1:5672/%2F');
    assert.equal(ok.bus_protocol, 'canyan');
    assert.throws(
      () => loadConfig({ flags: { state_url: 'mysql://x', bus_url: 'kafka', bus_protocol: 'x', bus_queue: 'amq.x' }, env: {} }),
      (error: Error) =>
        /state_url \(from flag --state-url\): must be memory or redis:\/\/\.\.\. or rediss:\/\/\.\.\./.test(error.message) &&
        /bus_url \(from flag --bus-url\): must be local or amqp:/.test(error.message) &&
        /bus_protocol .*must be one of native, canyan/.test(error.message) &&
        /bus_queue .*amq\./.test(error.message),
    );
  });

  test('the defaults object is frozen and the result is a fresh copy', () => {
    assert.ok(Object.isFrozen(DEFAULT_CONFIG));
    const config = loadConfig({ flags: {}, env: {} });
    config.sip_local_domains.push('x');
    assert.deepEqual(loadConfig({ flags: {}, env: {} }).sip_local_domains, []);
  });
});

describe('loadConfig precedence: defaults < YAML < environment < flags', () => {
  test('each layer overrides the one below', () => {
    const file = yamlFile(
      'layers.yaml',
      ['api_listen: 127.0.0.1:7001', 'tenant: from-yaml', 'product_tag: YAMLPRODUCT', 'log_level: warn'].join('\n'),
    );
    const config = loadConfig({
      configFile: file,
      env: { RATING_TENANT: 'from-env', RATING_LOG_LEVEL: 'debug', RATING_API_LISTEN: '127.0.0.1:7002' },
      flags: { api_listen: '127.0.0.1:7003' },
    });
    assert.equal(config.api_listen, '127.0.0.1:7003'); // flag beats env and YAML
    assert.equal(config.tenant, 'from-env'); // env beats YAML
    assert.equal(config.log_level, 'debug');
    assert.equal(config.product_tag, 'YAMLPRODUCT'); // YAML beats default
    assert.equal(config.database_url, 'sqlite:./data/rating.db'); // default stays
  });

  test('flags may use the camelCase names commander produces', () => {
    const config = loadConfig({ flags: { apiListen: '127.0.0.1:1', hepListenUdp: '', databaseUrl: 'sqlite::memory:' }, env: {} });
    assert.equal(config.api_listen, '127.0.0.1:1');
    assert.equal(config.hep_listen_udp, '');
    assert.equal(config.database_url, 'sqlite::memory:');
  });

  test('RATING_TENANT beats RATING_AGENT_HEP_TENANT, which still sets the tenant alone', () => {
    assert.equal(loadConfig({ flags: {}, env: { RATING_AGENT_HEP_TENANT: 'hep' } }).tenant, 'hep');
    assert.equal(loadConfig({ flags: {}, env: { RATING_AGENT_HEP_TENANT: 'hep', RATING_TENANT: 'main' } }).tenant, 'main');
  });

  test('HEP listen aliases: YAML listen_udp/listen_tcp and env RATING_AGENT_HEP_LISTEN_*', () => {
    const file = yamlFile('aliases.yaml', 'listen_udp: 10.0.0.1:1234\nlisten_tcp: ""\n');
    const fromYaml = loadConfig({ configFile: file, flags: {}, env: {} });
    assert.equal(fromYaml.hep_listen_udp, '10.0.0.1:1234');
    assert.equal(fromYaml.hep_listen_tcp, '');
    const fromEnv = loadConfig({ flags: {}, env: { RATING_AGENT_HEP_LISTEN_UDP: '127.0.0.1:5', RATING_AGENT_HEP_LISTEN_TCP: '127.0.0.1:6' } });
    assert.equal(fromEnv.hep_listen_udp, '127.0.0.1:5');
    assert.equal(fromEnv.hep_listen_tcp, '127.0.0.1:6');
    const both = loadConfig({ flags: {}, env: { RATING_AGENT_HEP_LISTEN_UDP: '127.0.0.1:5', RATING_HEP_LISTEN_UDP: '127.0.0.1:7' } });
    assert.equal(both.hep_listen_udp, '127.0.0.1:7');
  });

  test('the original agent keys load from YAML with their types', () => {
    const file = yamlFile(
      'agent.yaml',
      [
        'sip_local_domains: ["192.168.192.2", "anotherdomain.com"]',
        'sip_header_caller: X-Account-Tag',
        'sip_header_callee: X-Destination-Account-Tag',
        'sip_header_history_info: ""',
        'sip_header_history_info_index: 0',
        'account_tag_match_regexp: "\\\\+39([0-9]+)"',
        'product_tag: 123',
        'transaction_tags: [A, B]',
        'tenant: acme',
        'call_max_duration: 60',
        'call_unanswered_timeout: 30',
        'api_body_limit: 2048',
      ].join('\n'),
    );
    const config = loadConfig({ configFile: file, flags: {}, env: {} });
    assert.deepEqual(config.sip_local_domains, ['192.168.192.2', 'anotherdomain.com']);
    assert.equal(config.sip_header_caller, 'X-Account-Tag');
    assert.equal(config.sip_header_callee, 'X-Destination-Account-Tag');
    assert.equal(config.sip_header_history_info, '');
    assert.equal(config.sip_header_history_info_index, 0);
    assert.equal(config.account_tag_match_regexp, '\\+39([0-9]+)');
    assert.equal(config.product_tag, '123');
    assert.deepEqual(config.transaction_tags, ['A', 'B']);
    assert.equal(config.tenant, 'acme');
    assert.equal(config.call_max_duration, 60);
    assert.equal(config.call_unanswered_timeout, 30);
    assert.equal(config.api_body_limit, 2048);
  });

  test('environment lists split on commas and/or whitespace; numbers parse from text', () => {
    const config = loadConfig({
      flags: {},
      env: {
        RATING_AGENT_HEP_SIP_LOCAL_DOMAINS: 'a.example b.example,c.example , d.example',
        RATING_AGENT_HEP_TRANSACTION_TAGS: 'T1,T2',
        RATING_AGENT_HEP_SIP_HEADER_HISTORY_INFO_INDEX: '3',
        RATING_CALL_MAX_DURATION: '7200',
        RATING_CALL_UNANSWERED_TIMEOUT: ' 120 ',
        RATING_API_BODY_LIMIT: '4096',
        RATING_LOG_LEVEL: 'WARN',
      },
    });
    assert.deepEqual(config.sip_local_domains, ['a.example', 'b.example', 'c.example', 'd.example']);
    assert.deepEqual(config.transaction_tags, ['T1', 'T2']);
    assert.equal(config.sip_header_history_info_index, 3);
    assert.equal(config.call_max_duration, 7200);
    assert.equal(config.call_unanswered_timeout, 120);
    assert.equal(config.api_body_limit, 4096);
    assert.equal(config.log_level, 'warn');
  });

  test('an empty YAML file sets nothing', () => {
    const file = yamlFile('empty.yaml', '# nothing here\n');
    assert.deepEqual(loadConfig({ configFile: file, flags: {}, env: {} }), loadConfig({ flags: {}, env: {} }));
  });

  test('listen addresses are normalised: empty host means every interface, IPv6 in brackets', () => {
    const config = loadConfig({ flags: { api_listen: ':8001', hep_listen_udp: '[::1]:9061', hep_listen_tcp: ' 127.0.0.1:9062 ' }, env: {} });
    assert.equal(config.api_listen, '0.0.0.0:8001');
    assert.equal(config.hep_listen_udp, '[::1]:9061');
    assert.equal(config.hep_listen_tcp, '127.0.0.1:9062');
  });

  test('obsolete keys of the original HEP agent are accepted with a warning', () => {
    const file = yamlFile('obsolete.yaml', 'message_bus_uri: amqp://user:password@localhost:5672//\nstate_manager: memory\n');
    const warnings: string[] = [];
    loadConfig({ configFile: file, flags: {}, env: {}, warn: (message) => warnings.push(message) });
    assert.equal(warnings.length, 2);
    assert.match(warnings[0], /message_bus_uri/);
  });
});

describe('loadConfig errors name each bad key and why', () => {
  const cases: { name: string; env: Record<string, string>; key: string; why: RegExp }[] = [
    { name: 'api_listen without a port', env: { RATING_API_LISTEN: 'localhost' }, key: 'api_listen', why: /host:port/ },
    { name: 'api_listen with a port out of range', env: { RATING_API_LISTEN: '127.0.0.1:70000' }, key: 'api_listen', why: /0 to 65535/ },
    { name: 'api_listen empty', env: { RATING_API_LISTEN: '' }, key: 'api_listen', why: /host:port/ },
    { name: 'unbracketed IPv6', env: { RATING_HEP_LISTEN_UDP: '::1:9060' }, key: 'hep_listen_udp', why: /brackets/ },
    { name: 'hep_listen_tcp with a word port', env: { RATING_AGENT_HEP_LISTEN_TCP: '0.0.0.0:http' }, key: 'hep_listen_tcp', why: /port/ },
    { name: 'database_url of another scheme', env: { RATING_DATABASE_URL: 'mysql://db/rating' }, key: 'database_url', why: /sqlite:PATH/ },
    { name: 'database_url without a path', env: { RATING_DATABASE_URL: 'sqlite:' }, key: 'database_url', why: /no file/ },
    { name: 'empty tenant', env: { RATING_TENANT: '' }, key: 'tenant', why: /empty/ },
    { name: 'unknown log level', env: { RATING_LOG_LEVEL: 'loud' }, key: 'log_level', why: /one of fatal/ },
    { name: 'body limit not a number', env: { RATING_API_BODY_LIMIT: '1mb' }, key: 'api_body_limit', why: /whole number/ },
    { name: 'body limit zero', env: { RATING_API_BODY_LIMIT: '0' }, key: 'api_body_limit', why: /at least 1/ },
    { name: 'negative history index', env: { RATING_AGENT_HEP_SIP_HEADER_HISTORY_INFO_INDEX: '-1' }, key: 'sip_header_history_info_index', why: /at least 0/ },
    { name: 'regexp that does not compile', env: { RATING_AGENT_HEP_ACCOUNT_TAG_MATCH_REGEXP: '([0-9]+' }, key: 'account_tag_match_regexp', why: /regular expression/ },
    { name: 'header name with a space', env: { RATING_AGENT_HEP_SIP_HEADER_CALLEE: 'X Callee' }, key: 'sip_header_callee', why: /header name/ },
    { name: 'fractional call duration', env: { RATING_CALL_MAX_DURATION: '1.5' }, key: 'call_max_duration', why: /whole number/ },
    { name: 'zero unanswered timeout', env: { RATING_CALL_UNANSWERED_TIMEOUT: '0' }, key: 'call_unanswered_timeout', why: /at least 1/ },
  ];
  for (const { name, env, key, why } of cases) {
    test(name, () => {
      const error = configErrorOf(() => loadConfig({ flags: {}, env }));
      assert.equal(error.problems.length, 1, error.message);
      const [problem] = error.problems;
      assert.ok(problem.startsWith(`${key} (from environment variable ${Object.keys(env)[0]})`), problem);
      assert.match(problem, why);
      assert.match(error.message, new RegExp(key));
    });
  }

  test('every bad key is reported at once, each with its source', () => {
    const file = yamlFile('bad.yaml', 'tenant: ""\nproduct_tag: [a, b]\n');
    const error = configErrorOf(() =>
      loadConfig({ configFile: file, env: { RATING_LOG_LEVEL: 'x' }, flags: { api_listen: 'nope' } }),
    );
    const text = error.problems.join('\n');
    assert.equal(error.problems.length, 4, text);
    assert.match(text, /api_listen \(from flag --api-listen\)/);
    assert.match(text, /log_level \(from environment variable RATING_LOG_LEVEL\)/);
    assert.match(text, new RegExp(`tenant \\(from config file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\): must not be empty`));
    assert.match(text, /product_tag \(from config file .*\): must be text/);
  });

  test('unknown YAML keys are errors', () => {
    const file = yamlFile('unknown.yaml', 'api_listen: 127.0.0.1:1\napi_port: 8000\n');
    const error = configErrorOf(() => loadConfig({ configFile: file, flags: {}, env: {} }));
    assert.deepEqual(error.problems, [`api_port (from config file ${file}): unknown configuration key`]);
  });

  test('unknown flags are errors', () => {
    const error = configErrorOf(() => loadConfig({ flags: { apiPort: '1' }, env: {} }));
    assert.match(error.message, /apiPort .*unknown configuration key/);
  });

  test('a key given twice in YAML under its alias is an error', () => {
    const file = yamlFile('twice.yaml', 'hep_listen_udp: 127.0.0.1:1\nlisten_udp: 127.0.0.1:2\n');
    const error = configErrorOf(() => loadConfig({ configFile: file, flags: {}, env: {} }));
    assert.match(error.message, /listen_udp .*same setting/);
  });

  test('a missing config file is an error naming the file', () => {
    const missing = join(dir, 'missing.yaml');
    const error = configErrorOf(() => loadConfig({ configFile: missing, flags: {}, env: {} }));
    assert.match(error.message, /config file .*missing\.yaml: cannot be read \(ENOENT\)/);
  });

  test('invalid YAML is an error', () => {
    const file = yamlFile('broken.yaml', 'tenant: [unclosed\n');
    const error = configErrorOf(() => loadConfig({ configFile: file, flags: {}, env: {} }));
    assert.match(error.message, /is not valid YAML/);
  });

  test('a YAML document that is not a mapping is an error', () => {
    const file = yamlFile('list.yaml', '- a\n- b\n');
    const error = configErrorOf(() => loadConfig({ configFile: file, flags: {}, env: {} }));
    assert.match(error.message, /must be a mapping/);
  });

  test('a list item of the wrong type names its position', () => {
    const file = yamlFile('items.yaml', 'transaction_tags: [A, {b: 1}]\n');
    const error = configErrorOf(() => loadConfig({ configFile: file, flags: {}, env: {} }));
    assert.match(error.message, /transaction_tags \(from config file .*\)/);
  });
});

describe('parseListenAddress', () => {
  test('accepts host:port forms and rejects the rest', () => {
    assert.deepEqual(parseListenAddress('127.0.0.1:80'), { host: '127.0.0.1', port: 80 });
    assert.deepEqual(parseListenAddress(':9060'), { host: '0.0.0.0', port: 9060 });
    assert.deepEqual(parseListenAddress('[::]:0'), { host: '::', port: 0 });
    assert.deepEqual(parseListenAddress('example.org:65535'), { host: 'example.org', port: 65535 });
    for (const bad of ['', '8000', 'host:', 'host:-1', 'host:65536', 'a b:1', '::1:80']) {
      assert.ok('error' in parseListenAddress(bad), bad);
    }
  });
});

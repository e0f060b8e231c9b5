import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderPercentTemplate, TemplateError } from '../../src/scenarios/percent-format.ts';
import { createSeededRandom } from '../../src/scenarios/random.ts';
import {
  PlaceholderError,
  replaceFirstPlaceholder,
  resolveCount,
  resolveTemplateValues,
  substitutePayload,
  writeRenderedScenario,
  type StoredResponses,
} from '../../src/scenarios/substitute.ts';

const FIXTURES = new URL('../../../shared/fixtures/canyan/scenarios/', import.meta.url).pathname;

describe('renderPercentTemplate (Python %-formatting against a mapping)', () => {
  test('%(name)s and %(name)d, with %% for a literal percent', () => {
    assert.equal(renderPercentTemplate('To: <sip:%(user)s@%(host)s>', { user: '39040', host: 'x.io' }), 'To: <sip:39040@x.io>');
    assert.equal(renderPercentTemplate('<pause milliseconds="%(ms)d"/>', { ms: 1500 }), '<pause milliseconds="1500"/>');
    assert.equal(renderPercentTemplate('100%% of %(n)s', { n: 3 }), '100% of 3');
  });

  test('flags, width and precision behave as in Python', () => {
    assert.equal(renderPercentTemplate('%(n)05d|%(n)-4d|%(n)+d', { n: 42 }), '00042|42  |+42');
    assert.equal(renderPercentTemplate('%(s)5s|%(s).2s|%(s)r', { s: 'abc' }), '  abc|ab|\'abc\'');
    assert.equal(renderPercentTemplate('%(f).2f|%(f)d|%(n)x', { f: 2.718, n: 255 }), '2.72|2|ff');
  });

  test('a key with no value names the key and the line', () => {
    assert.throws(
      () => renderPercentTemplate('line one\n<To: %(to_user)s>', { basedir: '/x' }),
      (error: unknown) =>
        error instanceof TemplateError && /%\(to_user\)s at line 2/.test(error.message) && /values: basedir/.test(error.message),
    );
  });

  test('a lone percent sign is an error that suggests %%', () => {
    assert.throws(() => renderPercentTemplate('50% off', {}), /write %% for a literal percent sign/);
    assert.throws(() => renderPercentTemplate('%(a)', { a: 'x' }), /incomplete placeholder/);
    assert.throws(() => renderPercentTemplate('%(a)d', { a: 'text' }), /needs a number/);
  });

  test('sipp keywords in square brackets pass through untouched', () => {
    const text = 'Call-ID: [call_id]\nCSeq: [cseq] ACK';
    assert.equal(renderPercentTemplate(text, {}), text);
  });
});

describe('seeded values', () => {
  test('the same seed gives the same sequence, within the inclusive bounds', () => {
    const draw = (seed: number): number[] => {
      const random = createSeededRandom(seed);
      return Array.from({ length: 200 }, () => random.integer(3, 7));
    };
    assert.deepEqual(draw(42), draw(42));
    assert.notDeepEqual(draw(42), draw(43));
    const values = new Set(draw(1234));
    assert.deepEqual([...values].sort(), [3, 4, 5, 6, 7]);
  });

  test('a degenerate range and invalid seeds', () => {
    assert.equal(createSeededRandom(0).integer(9, 9), 9);
    assert.throws(() => createSeededRandom(-1), RangeError);
    assert.throws(() => createSeededRandom(2 ** 32), RangeError);
    assert.throws(() => createSeededRandom(1.5), RangeError);
  });

  test('resolveCount keeps numbers and draws ranges', () => {
    const random = createSeededRandom(7);
    assert.equal(resolveCount(4, random), 4);
    for (let i = 0; i < 50; i += 1) {
      const value = resolveCount({ min: 1, max: 3 }, random);
      assert.ok(value >= 1 && value <= 3 && Number.isInteger(value));
    }
  });
});

describe('{store.path} placeholders', () => {
  const stores: StoredResponses = new Map<string, unknown>([
    ['acc', { data: { upsertAccount: { id: 'abc123' } }, list: [{ id: 'first' }], count: 3 }],
    ['tenant', { id: 'default' }],
  ]);

  test('dotted paths into stored responses, including list indexes', () => {
    assert.equal(replaceFirstPlaceholder('/accounts/{acc.data.upsertAccount.id}', stores), '/accounts/abc123');
    assert.equal(replaceFirstPlaceholder('{acc.list.0.id}', stores), 'first');
    assert.equal(replaceFirstPlaceholder('n={acc.count}', stores), 'n=3');
  });

  test('only the first placeholder of a string is replaced, as the original did', () => {
    assert.equal(replaceFirstPlaceholder('{tenant.id}/{tenant.id}', stores), 'default/{tenant.id}');
  });

  test('unknown stores and paths are errors that say what is stored', () => {
    assert.throws(() => replaceFirstPlaceholder('{nope.id}', stores), (error: unknown) => {
      return error instanceof PlaceholderError && /nothing stored under "nope" \(stored: acc, tenant\)/.test(error.message);
    });
    assert.throws(() => replaceFirstPlaceholder('{acc.data.missing}', stores), /has no "missing"/);
  });

  test('GraphQL text with braces is left alone', () => {
    const query = 'mutation {\n  upsertCarrier(host: "carrier.example.com") { id }\n  x(filter:{host:"a.b"}) { id }\n}';
    assert.equal(replaceFirstPlaceholder(query, stores), query);
  });

  test('payload: top-level text values only', () => {
    const payload = { query: 'q {tenant.id}', nested: { id: '{tenant.id}' }, list: ['{tenant.id}'], n: 1 };
    assert.deepEqual(substitutePayload(payload, stores), {
      query: 'q default',
      nested: { id: '{tenant.id}' },
      list: ['{tenant.id}'],
      n: 1,
    });
    assert.equal(substitutePayload(undefined, stores), undefined);
  });
});

describe('template values for a worker instance', () => {
  const base = { basedir: '/b', target: 'sbc:5060', stores: new Map<string, unknown>([['t', { id: 'T1' }]]) };

  test('built-ins, text, numbers, lists spread over instances, seeded ranges, placeholders', () => {
    const values = { user: 'u', port: 5060, callee: ['a', 'b', 'c'], ms: { min: 100, max: 200 }, tag: 'x-{t.id}' };
    const instance = (index: number, seed: number): Record<string, string | number> =>
      resolveTemplateValues({ ...base, values, instanceIndex: index, random: createSeededRandom(seed) });
    const first = instance(0, 5);
    assert.equal(first['basedir'], '/b');
    assert.equal(first['target'], 'sbc:5060');
    assert.equal(first['user'], 'u');
    assert.equal(first['port'], 5060);
    assert.equal(first['callee'], 'a');
    assert.equal(first['tag'], 'x-T1');
    assert.equal(instance(4, 5)['callee'], 'b');
    assert.deepEqual(instance(0, 5), first);
    const ms = first['ms'];
    assert.ok(typeof ms === 'number' && ms >= 100 && ms <= 200);
  });

  test('values may override the built-ins', () => {
    const resolved = resolveTemplateValues({ ...base, values: { target: 'other' }, instanceIndex: 0, random: createSeededRandom(1) });
    assert.equal(resolved['target'], 'other');
  });

  test('an original XML renders into the working folder', async () => {
    const workdir = await mkdtemp(join(tmpdir(), 'scenario-render-'));
    try {
      const template = await readFile(join(FIXTURES, 'test_kamailio_call.xml'), 'utf8');
      const values = resolveTemplateValues({
        ...base,
        values: { call_duration: 1000, from_user: '1000', from_domain: 'sip.canyan.io', from_port: '5060', to_user: '1001', to_domain: 'sip.canyan.io', to_port: '5060' },
        instanceIndex: 0,
        random: createSeededRandom(1),
      });
      const path = await writeRenderedScenario({ template, values, workdir, workerId: '000000_000000' });
      assert.equal(path, join(workdir, 'sipp-000000_000000.xml'));
      const xml = await readFile(path, 'utf8');
      assert.match(xml, /From: sipp <sip:1000@sip\.canyan\.io:5060>;tag=\[call_number\]/);
      assert.match(xml, /P-Asserted-Identity: <sip:1000@sip\.canyan\.io>/);
      assert.match(xml, /<pause milliseconds="1000" \/>/);
      assert.doesNotMatch(xml, /%\(/);
    } finally {
      await rm(workdir, { recursive: true, force: true });
    }
  });
});

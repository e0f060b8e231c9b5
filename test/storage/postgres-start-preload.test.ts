// PostgreSQL's start preload (src/storage/postgres/start-preload.ts): the reads a transaction's
// hint names ride in the round trip that starts it, with their parameters written in as escaped
// literals, and the repository answers the work's first reads from them. A hint must change
// nothing but the number of round trips: every read answers what it answers without one, whatever
// the tenant and tags hold (quotes, backslashes, `$n`, statement separators), and writes of the
// work show in the reads after them.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Account, RunningTransaction } from '../../src/domain/types.ts';
import type { Repository, Storage, TransactionHint } from '../../src/storage/storage.ts';
import { skipUnlessServices } from '../support/services.ts';
import { dropSchema, openTestStorage, traceQueries, uniqueSchemaName, withAdminClient, type QueryTrace } from './postgres-support.ts';

const skip = await skipUnlessServices(['postgresql']);
// A chaining regression tends to leave a transaction waiting forever: fail instead of hanging.
const suite = { skip, timeout: 60_000 };
const TENANT = 'default';

type Trace = QueryTrace;

/** Runs `work` while counting statements; the trace is removed whatever happens. */
async function traced<T>(work: () => Promise<T>): Promise<{ value: T; texts: string[] }> {
  const trace = traceQueries();
  try {
    const value = await work();
    return { value, texts: [...trace.texts] };
  } finally {
    trace.restore();
  }
}

const isCommit = (text: string): boolean => text === 'COMMIT' || text.startsWith('COMMIT;');
const isSeparateStart = (text: string): boolean => !isCommit(text) && text.includes('LOCK TABLE');
const isChainedStart = (text: string): boolean => isCommit(text) && text.includes('LOCK TABLE');

const accountRef = (tenant: string, tag: string): { key: { tenant: string; account_tag: string } } => ({ key: { tenant, account_tag: tag } });

function putAccount(repo: Repository, tenant: string, tag: string, balance: number, tags: string[] | null = null): Promise<Account> {
  return repo.upsert('account', accountRef(tenant, tag), { type: 'POSTPAID', balance, active: true, tags, name: `${tenant}/${tag}` });
}

function running(tenant: string, accountTag: string, transactionTag: string, begin: number): RunningTransaction {
  return {
    tenant,
    account_tag: accountTag,
    transaction_tag: transactionTag,
    proxy_tag: null,
    source: `sip:${accountTag}@x`,
    source_ip: null,
    destination: 'sip:39123@y',
    carrier_ip: null,
    tags: [transactionTag],
    destination_rate: null,
    in_progress: true,
    inbound: false,
    primary: true,
    timestamp_begin: begin,
    timestamp_end: null,
  };
}

interface AccountReads {
  preloaded: (Account | null)[];
  withRunning: ({ account: Account; running: RunningTransaction[] } | null)[];
  allRunning: ({ account: Account; running: RunningTransaction[] } | null)[];
  version: number | null;
}

/**
 * What an engine operation reads first, in its order: preloadAccounts, then each account with
 * its running transaction of the call (when there is a call), then each account alone; then the
 * rates version. `allRunning` (not preloadable) is read last, as a check on the rest.
 */
async function readAccounts(repo: Repository, tenant: string, tags: readonly string[], transactionTag: string | null, ratesOf: string | null): Promise<AccountReads> {
  await repo.preloadAccounts?.(tenant, tags, transactionTag);
  const withRunning: AccountReads['withRunning'] = [];
  if (transactionTag !== null) for (const tag of tags) withRunning.push(await repo.getAccountWithRunning(tenant, tag, { transactionTag }));
  const preloaded: AccountReads['preloaded'] = [];
  for (const tag of tags) preloaded.push(await repo.get('account', accountRef(tenant, tag)));
  const version = ratesOf === null ? null : await repo.ratesVersion(ratesOf);
  const allRunning: AccountReads['allRunning'] = [];
  for (const tag of tags) allRunning.push(await repo.getAccountWithRunning(tenant, tag));
  return { preloaded, withRunning, allRunning, version };
}

/** The same reads, unhinted, in a transaction of their own. */
function readUnhinted(storage: Storage, tenant: string, tags: readonly string[], transactionTag: string | null, ratesOf: string | null): Promise<AccountReads> {
  return storage.transaction((repo) => readAccounts(repo, tenant, tags, transactionTag, ratesOf));
}

function hintFor(tenant: string, tags: readonly string[], transactionTag: string | null, ratesOf: string | null): TransactionHint {
  return ratesOf === null ? { accounts: { tenant, accountTags: tags, transactionTag } } : { accounts: { tenant, accountTags: tags, transactionTag }, ratesOf };
}

/** Tables of the schema with their row counts, and the sum of all balances: what an injection would change. */
async function databaseState(schema: string): Promise<{ tables: Record<string, number>; balances: number }> {
  return withAdminClient(async (client) => {
    const { rows } = await client.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name",
      [schema],
    );
    const tables: Record<string, number> = {};
    for (const { table_name: name } of rows) {
      tables[name] = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}"."${name}"`)).rows[0].n);
    }
    const sum = await client.query<{ s: string | null }>(`SELECT sum(balance) AS s FROM "${schema}".accounts`);
    return { tables, balances: Number(sum.rows[0].s ?? 0) };
  });
}

async function storedRatesVersion(schema: string, tenant: string): Promise<number> {
  return withAdminClient(async (client) => {
    const { rows } = await client.query<{ version: string }>(`SELECT version FROM "${schema}".rates_versions WHERE tenant = $1`, [tenant]);
    return rows.length === 0 ? 0 : Number(rows[0].version);
  });
}

class Undo extends Error {}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Runs `work` in a transaction that is then rolled back (by throwing), answering what work returned. */
async function undone<T>(storage: Storage, work: (repo: Repository) => Promise<T>, hint?: TransactionHint): Promise<T> {
  let value: { v: T } | null = null;
  await assert.rejects(
    storage.transaction(async (repo) => {
      value = { v: await work(repo) };
      throw new Undo('undo');
    }, hint),
    Undo,
  );
  assert.ok(value !== null);
  return (value as { v: T }).v;
}

// Tenants and tags a literal must carry intact: quotes (doubled, backslash-escaped), backslashes
// (escapeLiteral then writes E'...'), parameter markers mapParameters must not touch again,
// statement separators, comments and dollar quotes that would end a badly written literal.
const ODD_TENANTS = [
  TENANT,
  "o'brien",
  'back\\slash\\',
  'ünïcødé 日本語 🎉',
  '$1',
  "x'); DROP TABLE accounts; --",
  "\\'; DELETE FROM accounts; --",
];
const PRESENT_TAGS = [
  '1000',
  "'",
  "''",
  '\\',
  "\\'",
  '$1',
  '$2::text',
  '$3',
  ';',
  '--',
  '/*',
  'ü日🎉',
  '$$; DROP TABLE accounts; $$',
  "e'; UPDATE accounts SET balance = 0; --",
  'line\nbreak\ttab',
];
// Tags with no account: an injection that worked would find another account for them.
const MISSING_TAGS = ["1000' OR '1'='1", "1000'--", "\\' OR TRUE --", 'nobody', "'; SELECT * FROM accounts; --"];
// A call tag with the same tricks; some accounts also run another call, which must not show.
const ODD_CALL = "call'; DELETE FROM running_transactions; --$1\\";

describe('postgres start preload: hinted reads answer what unhinted reads answer', suite, () => {
  const schema = uniqueSchemaName('preload_odd');
  let storage: Storage;
  before(async () => {
    storage = await openTestStorage(schema, { poolSize: 1 });
    await storage.migrate();
    await storage.transaction(async (repo) => {
      for (const [t, tenant] of ODD_TENANTS.entries()) {
        for (const [i, tag] of PRESENT_TAGS.entries()) {
          await putAccount(repo, tenant, tag, 1000 * t + i, [tag, tenant]);
          // Every other account runs the odd call; every third one runs another call.
          if (i % 2 === 0) assert.ok(await repo.insertRunning(running(tenant, tag, ODD_CALL, 1_000_000 + i)));
          if (i % 3 === 0) assert.ok(await repo.insertRunning(running(tenant, tag, 'another call', 2_000_000 + i)));
        }
      }
      // A rates version for some tenants only (the others have none: 0).
      await repo.upsert('pricelist', { key: { tenant: "o'brien", pricelist_tag: 'pl' } }, { name: 'pl', currency: 'EUR' });
      await repo.upsert('pricelist', { key: { tenant: '$1', pricelist_tag: 'pl' } }, { name: 'pl', currency: 'EUR' });
    });
  });
  after(async () => {
    await storage.close();
    await dropSchema(schema);
  });

  const tags = [...PRESENT_TAGS.slice(0, 8), ...MISSING_TAGS, ...PRESENT_TAGS.slice(8)];

  for (const transactionTag of [null, ODD_CALL, 'another call', 'a call nobody runs']) {
    test(`every odd tenant, present and missing accounts, call ${JSON.stringify(transactionTag)}`, async () => {
      const stateBefore = await databaseState(schema);
      for (const tenant of ODD_TENANTS) {
        const expected = await readUnhinted(storage, tenant, tags, transactionTag, tenant);
        // The fixture is what it should be: the comparison below is not between two empty answers.
        assert.equal(expected.preloaded.filter((account) => account !== null).length, PRESENT_TAGS.length);
        if (transactionTag === ODD_CALL) assert.equal(expected.withRunning.filter((read) => read !== null && read.running.length === 1).length, Math.ceil(PRESENT_TAGS.length / 2));
        const { value: hinted, texts } = await traced(() =>
          storage.transaction((repo) => readAccounts(repo, tenant, tags, transactionTag, tenant), hintFor(tenant, tags, transactionTag, tenant)),
        );
        assert.deepEqual(hinted, expected, `tenant ${JSON.stringify(tenant)}`);
        // The start, the reads of all running transactions (not preloadable), the commit: the
        // hinted reads were answered from the start's round trip, not read again.
        assert.equal(texts.length, 2 + tags.length, `round trips for tenant ${JSON.stringify(tenant)}:\n${texts.join('\n')}`);
        assert.ok(isSeparateStart(texts[0]) && isCommit(texts.at(-1) ?? ''));
      }
      assert.deepEqual(await databaseState(schema), stateBefore, 'the database is intact');
    });
  }

  test('a hint whose only tags are odd and missing reads nothing and breaks nothing', async () => {
    const stateBefore = await databaseState(schema);
    for (const tenant of ODD_TENANTS) {
      const hinted = await storage.transaction(
        (repo) => readAccounts(repo, tenant, MISSING_TAGS, ODD_CALL, tenant),
        hintFor(tenant, MISSING_TAGS, ODD_CALL, tenant),
      );
      assert.deepEqual(hinted.preloaded, MISSING_TAGS.map(() => null));
      assert.deepEqual(hinted.withRunning, MISSING_TAGS.map(() => null));
      assert.deepEqual(hinted, await readUnhinted(storage, tenant, MISSING_TAGS, ODD_CALL, tenant));
    }
    // A storage transaction after all of them still works, on the same connection.
    await storage.transaction((repo) => putAccount(repo, TENANT, 'after the odd ones', 1));
    assert.equal((await storage.transaction((repo) => repo.get('account', accountRef(TENANT, 'after the odd ones'))))?.balance, 1);
    await storage.transaction((repo) => repo.delete('account', accountRef(TENANT, 'after the odd ones')));
    assert.deepEqual(await databaseState(schema), stateBefore, 'the database is intact');
  });

  test('a hint with no account tags, or empty, changes nothing', async () => {
    const expected = await readUnhinted(storage, TENANT, tags, ODD_CALL, TENANT);
    for (const hint of [{}, { accounts: { tenant: TENANT, accountTags: [], transactionTag: ODD_CALL } }, { accounts: { tenant: TENANT, accountTags: [], transactionTag: null } }]) {
      assert.deepEqual(await storage.transaction((repo) => readAccounts(repo, TENANT, tags, ODD_CALL, TENANT), hint), expected);
    }
  });
});

describe('postgres start preload: tags that are not valid UTF-16', suite, () => {
  const schema = uniqueSchemaName('preload_surrogate');
  let storage: Storage;
  // A lone surrogate cannot be encoded: node writes U+FFFD in its place, in parameters and in
  // simple queries alike, so the account is stored, and found, under the replaced tag.
  const LONE = 'lone \uD800 surrogate';
  before(async () => {
    storage = await openTestStorage(schema, { poolSize: 1 });
    await storage.migrate();
    await storage.transaction(async (repo) => {
      await putAccount(repo, TENANT, LONE, 7);
      assert.ok(await repo.insertRunning(running(TENANT, LONE, 'call', 1_000_000)));
    });
  });
  after(async () => {
    await storage.close();
    await dropSchema(schema);
  });

  for (const transactionTag of ['call', null]) {
    // The database answers such a tag with U+FFFD in place of the lone surrogate: preloaded rows
    // are matched to the tags asked for by position, not by the tag answered.
    test(`a lone surrogate in a tag reads the same with a hint (call ${JSON.stringify(transactionTag)})`, async () => {
      // Plain reads, without preloadAccounts (which shares the decoding, and the bug).
      const plain = (repo: Repository): Promise<unknown[]> =>
        Promise.all([
          repo.get('account', accountRef(TENANT, LONE)),
          transactionTag === null ? null : repo.getAccountWithRunning(TENANT, LONE, { transactionTag }),
        ]);
      const expected = await storage.transaction(plain);
      assert.equal((expected[0] as Account | null)?.balance, 7, 'found without a hint');
      assert.deepEqual(await storage.transaction(plain, hintFor(TENANT, [LONE], transactionTag, null)), expected);
    });
  }
});

describe('postgres start preload: rates versions', suite, () => {
  const schema = uniqueSchemaName('preload_rates');
  let storage: Storage;
  const rate = { rate: 1, active: true, connect_fee: 0, rate_increment: 1, interval_start: 0 };
  before(async () => {
    storage = await openTestStorage(schema, { poolSize: 1 });
    await storage.migrate();
    await storage.transaction((repo) => repo.upsert('pricelist', { key: { tenant: TENANT, pricelist_tag: 'pl' } }, { name: 'pl', currency: 'EUR' }));
  });
  after(async () => {
    await storage.close();
    await dropSchema(schema);
  });

  test('hint.ratesOf answers the version stored by an earlier transaction', async () => {
    const first = await storedRatesVersion(schema, TENANT);
    assert.equal(await storage.transaction((repo) => repo.ratesVersion(TENANT), { ratesOf: TENANT }), first);
    for (const prefix of ['39', '3902', '44']) {
      const previous = await storedRatesVersion(schema, TENANT);
      await storage.transaction((repo) => repo.upsert('pricelist_rate', { key: { tenant: TENANT, pricelist_tag: 'pl', carrier_tag: 'c', prefix } }, rate));
      const stored = await storedRatesVersion(schema, TENANT);
      assert.notEqual(stored, previous, 'the upsert bumped the version');
      const { value, texts } = await traced(() => storage.transaction((repo) => repo.ratesVersion(TENANT), { ratesOf: TENANT }));
      assert.equal(value, stored);
      assert.equal(texts.length, 2, texts.join('\n'));
      assert.equal(await storage.transaction((repo) => repo.ratesVersion(TENANT)), stored, 'unhinted agrees');
    }
    // A tenant with no version at all.
    assert.equal(await storage.transaction((repo) => repo.ratesVersion('no rates here'), { ratesOf: 'no rates here' }), 0);
  });

  test('a rates write inside the hinted transaction makes the next read show the bumped version', async () => {
    const stored = await storedRatesVersion(schema, TENANT);
    const seen = await storage.transaction(async (repo) => {
      const before = await repo.ratesVersion(TENANT);
      await repo.upsert('pricelist_rate', { key: { tenant: TENANT, pricelist_tag: 'pl', carrier_tag: 'c', prefix: '33' } }, rate);
      const afterRate = await repo.ratesVersion(TENANT);
      await repo.delete('pricelist_rate', { key: { tenant: TENANT, pricelist_tag: 'pl', carrier_tag: 'c', prefix: '33' } });
      const afterDelete = await repo.ratesVersion(TENANT);
      await repo.upsert('carrier', { key: { tenant: TENANT, carrier_tag: 'c' } }, { host: '10.0.0.1', active: true });
      return { before, afterRate, afterDelete, afterCarrier: await repo.ratesVersion(TENANT) };
    }, { ratesOf: TENANT, accounts: { tenant: TENANT, accountTags: ['nobody'], transactionTag: null } });
    assert.equal(seen.before, stored);
    assert.notEqual(seen.afterRate, seen.before, 'the upsert of a rate bumps the version the transaction reads');
    assert.notEqual(seen.afterDelete, seen.afterRate, 'so does the delete');
    assert.notEqual(seen.afterCarrier, seen.afterDelete, 'so does a carrier write');
    assert.equal(await storedRatesVersion(schema, TENANT), seen.afterCarrier, 'the last version read is the one committed');
    assert.equal(await storage.transaction((repo) => repo.ratesVersion(TENANT), { ratesOf: TENANT }), seen.afterCarrier);
  });

  test('a hinted version of one tenant does not answer for another', async () => {
    await storage.transaction((repo) => repo.upsert('pricelist', { key: { tenant: 'other', pricelist_tag: 'pl' } }, { name: 'pl', currency: 'EUR' }));
    const mine = await storedRatesVersion(schema, TENANT);
    const other = await storedRatesVersion(schema, 'other');
    assert.notEqual(mine, other);
    assert.deepEqual(
      await storage.transaction(async (repo) => [await repo.ratesVersion('other'), await repo.ratesVersion(TENANT)], { ratesOf: TENANT }),
      [other, mine],
    );
  });
});

describe('postgres start preload: round trips', suite, () => {
  const schema = uniqueSchemaName('preload_trips');
  let storage: Storage;
  before(async () => {
    storage = await openTestStorage(schema, { poolSize: 1 });
    await storage.migrate();
    await storage.transaction(async (repo) => {
      await putAccount(repo, TENANT, 'a', 10);
      await putAccount(repo, TENANT, 'b', 20);
      assert.ok(await repo.insertRunning(running(TENANT, 'a', 'call', 1_000_000)));
      await repo.upsert('pricelist', { key: { tenant: TENANT, pricelist_tag: 'pl' } }, { name: 'pl', currency: 'EUR' });
    });
  });
  after(async () => {
    await storage.close();
    await dropSchema(schema);
  });

  /** The hinted reads of an engine operation: accounts (with the call's running transaction) and the rates version. */
  async function hintedReads(repo: Repository, transactionTag: string | null): Promise<unknown[]> {
    await repo.preloadAccounts?.(TENANT, ['a', 'b', 'missing'], transactionTag);
    // Accounts preloaded with their call's running transaction are preloaded alone too.
    await repo.preloadAccounts?.(TENANT, ['a', 'b', 'missing'], null);
    const reads: unknown[] = [];
    for (const tag of ['a', 'b', 'missing']) {
      if (transactionTag !== null) reads.push(await repo.getAccountWithRunning(TENANT, tag, { transactionTag }));
      reads.push(await repo.get('account', accountRef(TENANT, tag)));
    }
    reads.push(await repo.ratesVersion(TENANT));
    // Asked again: still no round trip.
    reads.push(await repo.get('account', accountRef(TENANT, 'a')));
    reads.push(await repo.ratesVersion(TENANT));
    return reads;
  }

  for (const transactionTag of ['call', null]) {
    test(`a hinted transaction alone sends exactly 2 statements (call ${JSON.stringify(transactionTag)})`, async () => {
      const expected = await storage.transaction((repo) => hintedReads(repo, transactionTag));
      const hint: TransactionHint = { accounts: { tenant: TENANT, accountTags: ['a', 'b', 'missing'], transactionTag }, ratesOf: TENANT };
      const { value, texts } = await traced(() => storage.transaction((repo) => hintedReads(repo, transactionTag), hint));
      assert.deepEqual(value, expected);
      assert.equal(texts.length, 2, texts.join('\n'));
      assert.ok(isSeparateStart(texts[0]), texts[0]);
      assert.ok(isCommit(texts[1]) && !isChainedStart(texts[1]), texts[1]);
    });
  }
});

describe('postgres start preload: chained starts carry the hint', suite, () => {
  const schema = uniqueSchemaName('preload_chain');
  let storage: Storage;
  const COUNT = 20;
  const tagsOf = (i: number): string[] => [`acct-${i}-a`, `acct-${i}-b`, `acct-${i}-missing`];
  const callOf = (i: number): string | null => (i % 4 === 3 ? null : `call-${i}`);
  before(async () => {
    storage = await openTestStorage(schema, { poolSize: 1 });
    await storage.migrate();
    await storage.transaction(async (repo) => {
      for (let i = 0; i < COUNT; i++) {
        const [a, b] = tagsOf(i);
        await putAccount(repo, TENANT, a, i * 100 + 1);
        // Every fifth transaction's second account is missing too.
        if (i % 5 !== 0) await putAccount(repo, TENANT, b, i * 100 + 2);
        // Some run their own call, some another transaction's call (which must not show).
        if (i % 2 === 0) assert.ok(await repo.insertRunning(running(TENANT, a, `call-${i}`, 1_000_000 + i)));
        if (i % 3 === 0) assert.ok(await repo.insertRunning(running(TENANT, a, `call-${(i + 1) % COUNT}`, 2_000_000 + i)));
      }
      await repo.upsert('pricelist', { key: { tenant: TENANT, pricelist_tag: 'pl' } }, { name: 'pl', currency: 'EUR' });
    });
  });
  after(async () => {
    await storage.close();
    await dropSchema(schema);
  });

  async function ownReads(repo: Repository, i: number): Promise<unknown[]> {
    const transactionTag = callOf(i);
    const reads: unknown[] = [];
    for (const tag of tagsOf(i)) {
      if (transactionTag !== null) reads.push(await repo.getAccountWithRunning(TENANT, tag, { transactionTag }));
      reads.push(await repo.get('account', accountRef(TENANT, tag)));
    }
    reads.push(await repo.ratesVersion(TENANT));
    return reads;
  }

  const hintOf = (i: number): TransactionHint => ({ accounts: { tenant: TENANT, accountTags: tagsOf(i), transactionTag: callOf(i) }, ratesOf: TENANT });

  test(`${COUNT} hinted transactions at once on one connection: each reads its own accounts, 21 statements in all`, async () => {
    const expected: unknown[][] = [];
    for (let i = 0; i < COUNT; i++) expected.push(await storage.transaction((repo) => ownReads(repo, i)));
    // The fixture differs between transactions: a read answered with another's preload would show.
    assert.equal(new Set(expected.map((reads) => JSON.stringify(reads))).size, COUNT);

    const { value, texts } = await traced(() => Promise.all(Array.from({ length: COUNT }, (_, i) => storage.transaction((repo) => ownReads(repo, i), hintOf(i)))));
    assert.deepEqual(value, expected);
    assert.equal(texts.length, COUNT + 1, texts.join('\n'));
    assert.equal(texts.filter(isSeparateStart).length, 1);
    assert.equal(texts.filter(isChainedStart).length, COUNT - 1);
    assert.equal(texts.filter(isCommit).length, COUNT);
  });

  test('chained hinted transactions that write: each sees the writes committed before it', async () => {
    // All on account acct-0-a: each adds 1 and reports the balance it read first.
    const start = (await storage.transaction((repo) => repo.get('account', accountRef(TENANT, 'acct-0-a'))))?.balance ?? NaN;
    const hint: TransactionHint = { accounts: { tenant: TENANT, accountTags: ['acct-0-a'], transactionTag: 'call-0' } };
    const seen = await Promise.all(
      Array.from({ length: COUNT }, () =>
        storage.transaction(async (repo) => {
          const read = await repo.getAccountWithRunning(TENANT, 'acct-0-a', { transactionTag: 'call-0' });
          const balance = (await repo.get('account', accountRef(TENANT, 'acct-0-a')))?.balance;
          assert.equal(read?.account.balance, balance);
          assert.ok(await repo.addToBalance(TENANT, 'acct-0-a', 1));
          return balance;
        }, hint),
      ),
    );
    assert.deepEqual(seen, Array.from({ length: COUNT }, (_, i) => start + i));
    assert.equal((await storage.transaction((repo) => repo.get('account', accountRef(TENANT, 'acct-0-a'))))?.balance, start + COUNT);
  });
});

describe('postgres start preload: a repeated attempt reads again', suite, () => {
  const schema = uniqueSchemaName('preload_retry');
  let storage: Storage;
  before(async () => {
    storage = await openTestStorage(schema, { poolSize: 2 });
    await storage.migrate();
    await storage.transaction((repo) => putAccount(repo, TENANT, 'shared', 100));
  });
  after(async () => {
    await storage.close();
    await dropSchema(schema);
  });

  for (const transactionTag of ['call', null]) {
    test(`two hinted read-modify-writes of one account that conflict lose no update (call ${JSON.stringify(transactionTag)})`, async () => {
      const start = (await storage.transaction((repo) => repo.get('account', accountRef(TENANT, 'shared'))))?.balance ?? NaN;
      const hint: TransactionHint = { accounts: { tenant: TENANT, accountTags: ['shared'], transactionTag } };
      // Both first attempts read before either writes: one of them must lose and run again,
      // and its second attempt must read the balance the other committed (a fresh preload).
      const bothRead = [deferred(), deferred()];
      const attempts: { balance: number | undefined }[][] = [[], []];
      const work = (me: number) => async (repo: Repository): Promise<void> => {
        const read = transactionTag === null ? null : await repo.getAccountWithRunning(TENANT, 'shared', { transactionTag });
        const balance = (await repo.get('account', accountRef(TENANT, 'shared')))?.balance;
        if (read !== null) assert.equal(read.account.balance, balance);
        attempts[me].push({ balance });
        if (attempts[me].length === 1) {
          bothRead[me].resolve();
          await bothRead[1 - me].promise;
        }
        await repo.upsert('account', accountRef(TENANT, 'shared'), { balance: (balance ?? NaN) + 1 }, { readBack: false });
      };
      await Promise.all([storage.transaction(work(0), hint), storage.transaction(work(1), hint)]);
      assert.equal((await storage.transaction((repo) => repo.get('account', accountRef(TENANT, 'shared'))))?.balance, start + 2, 'no update lost');
      const seen = attempts.map((list) => list.map((a) => a.balance));
      const repeated = seen.findIndex((list) => list.length > 1);
      assert.ok(repeated !== -1, `one transaction ran again: ${JSON.stringify(seen)}`);
      assert.deepEqual(seen[repeated].slice(-1), [start + 1], 'the last attempt read what the other committed');
    });
  }

  test('hinted write skew (each reads what the other writes) ends as some serial order would', async () => {
    await storage.transaction(async (repo) => {
      await putAccount(repo, TENANT, 'skew-a', 0);
      await putAccount(repo, TENANT, 'skew-b', 0);
    });
    const bothRead = [deferred(), deferred()];
    const runs = [0, 0];
    // Each reads one account (preloaded) and writes the other: PostgreSQL must fail one of them,
    // at its write or at its COMMIT, and its repeated attempt must read the other's write.
    const work = (me: number, reads: string, writes: string) => async (repo: Repository): Promise<void> => {
      runs[me]++;
      const read = await repo.getAccountWithRunning(TENANT, reads, { transactionTag: 'skew' });
      if (runs[me] === 1) {
        bothRead[me].resolve();
        await bothRead[1 - me].promise;
      }
      await repo.upsert('account', accountRef(TENANT, writes), { balance: (read?.account.balance ?? NaN) + 1 }, { readBack: false });
    };
    const hintOf = (tag: string): TransactionHint => ({ accounts: { tenant: TENANT, accountTags: [tag], transactionTag: 'skew' } });
    await Promise.all([
      storage.transaction(work(0, 'skew-a', 'skew-b'), hintOf('skew-a')),
      storage.transaction(work(1, 'skew-b', 'skew-a'), hintOf('skew-b')),
    ]);
    const final = await storage.transaction(async (repo) => [
      (await repo.get('account', accountRef(TENANT, 'skew-a')))?.balance,
      (await repo.get('account', accountRef(TENANT, 'skew-b')))?.balance,
    ]);
    assert.ok(runs[0] + runs[1] > 2, `one ran again: ${JSON.stringify(runs)}`);
    assert.deepEqual([...final].sort(), [1, 2], `balances ${JSON.stringify(final)}`);
  });
});

describe('postgres start preload: writes after hinted reads', suite, () => {
  const schema = uniqueSchemaName('preload_writes');
  let storage: Storage;
  before(async () => {
    storage = await openTestStorage(schema, { poolSize: 1 });
    await storage.migrate();
    await storage.transaction(async (repo) => {
      await putAccount(repo, TENANT, '1000', 100);
      await putAccount(repo, TENANT, '2000', 200, ['gold']);
    });
  });
  after(async () => {
    await storage.close();
    await dropSchema(schema);
  });

  const withCall = (repo: Repository, tag = '1000'): Promise<{ account: Account; running: RunningTransaction[] } | null> =>
    repo.getAccountWithRunning(TENANT, tag, { transactionTag: 'call' });
  const alone = (repo: Repository, tag = '1000'): Promise<Account | null> => repo.get('account', accountRef(TENANT, tag));

  for (const transactionTag of ['call', null]) {
    test(`every kind of write shows in the next read (hint call ${JSON.stringify(transactionTag)})`, async () => {
      const hint: TransactionHint = { accounts: { tenant: TENANT, accountTags: ['1000', '2000', 'new'], transactionTag } };
      await undone(storage, async (repo) => {
        assert.equal((await alone(repo))?.balance, 100);
        assert.deepEqual((await withCall(repo))?.running, []);
        assert.ok(await repo.addToBalance(TENANT, '1000', -10));
        assert.equal((await alone(repo))?.balance, 90);
        assert.equal((await withCall(repo))?.account.balance, 90);
        assert.equal(await repo.adjustBalances(TENANT, null, ['gold'], 'set', 7), 1);
        assert.equal((await alone(repo, '2000'))?.balance, 7);
        assert.ok(await repo.insertRunning(running(TENANT, '1000', 'call', 1_000_000)));
        assert.equal((await withCall(repo))?.running.length, 1);
        assert.ok((await repo.endRunning(TENANT, '1000', 'call', 2_000_000)) !== null);
        assert.equal((await withCall(repo))?.running[0].in_progress, false);
        await repo.upsert('account', accountRef(TENANT, '1000'), { active: false }, { readBack: false });
        assert.equal((await alone(repo))?.active, false);
        assert.equal(await repo.deleteRunning(TENANT, '1000', 'call'), 1);
        assert.deepEqual((await withCall(repo))?.running, []);
        assert.equal(await alone(repo, 'new'), null);
        await putAccount(repo, TENANT, 'new', 5);
        assert.equal((await alone(repo, 'new'))?.balance, 5);
        assert.ok(await repo.insertRunning(running(TENANT, '1000', 'call', 3_000_000)));
        assert.ok(repo.settleRunning !== undefined);
        assert.ok(await repo.settleRunning({ tenant: TENANT, transactionTag: 'call', accountTag: '1000', record: { fee: 5 }, balanceDelta: -5, at: 4_000_000 }));
        assert.equal((await alone(repo))?.balance, 85);
        assert.deepEqual((await withCall(repo))?.running, []);
        await repo.delete('account', accountRef(TENANT, '1000'));
        assert.equal(await alone(repo), null);
        assert.equal(await withCall(repo), null);
      }, hint);
      // Rolled back: as before.
      assert.equal((await storage.transaction((repo) => alone(repo)))?.balance, 100);
      assert.equal((await storage.transaction((repo) => alone(repo, '2000')))?.balance, 200);
      assert.equal(await storage.transaction((repo) => alone(repo, 'new')), null);
    });
  }

  test('a committed write after a hinted read is what the next hinted transaction reads', async () => {
    const hint: TransactionHint = { accounts: { tenant: TENANT, accountTags: ['1000'], transactionTag: 'call' } };
    await storage.transaction(async (repo) => {
      assert.equal((await alone(repo))?.balance, 100);
      assert.ok(await repo.addToBalance(TENANT, '1000', 1));
      assert.equal((await alone(repo))?.balance, 101);
    }, hint);
    assert.equal(await storage.transaction(async (repo) => (await alone(repo))?.balance, hint), 101);
    await storage.transaction((repo) => repo.addToBalance(TENANT, '1000', -1));
  });

  test('what a caller does to a preloaded answer does not change the next one', async () => {
    const hint: TransactionHint = { accounts: { tenant: TENANT, accountTags: ['1000'], transactionTag: 'call' } };
    await storage.transaction(async (repo) => {
      const first = await alone(repo);
      assert.ok(first !== null);
      first.balance = -1;
      const read = await withCall(repo);
      assert.ok(read !== null);
      assert.equal(read.account.balance, 100);
      read.account.balance = -2;
      read.running.push(running(TENANT, '1000', 'call', 1));
      assert.equal((await alone(repo))?.balance, 100);
      assert.deepEqual((await withCall(repo))?.running, []);
      assert.equal((await withCall(repo))?.account.balance, 100);
    }, hint);
  });
});

describe('postgres start preload: hints the work does not follow', suite, () => {
  const schema = uniqueSchemaName('preload_unused');
  let storage: Storage;
  before(async () => {
    storage = await openTestStorage(schema, { poolSize: 1 });
    await storage.migrate();
    await storage.transaction(async (repo) => {
      for (const tenant of [TENANT, 'other']) {
        await putAccount(repo, tenant, 'p', tenant === TENANT ? 1 : 11);
        await putAccount(repo, tenant, 'q', tenant === TENANT ? 2 : 12);
        await putAccount(repo, tenant, 'r', tenant === TENANT ? 3 : 13);
        assert.ok(await repo.insertRunning(running(tenant, 'p', 'call', 1_000_000)));
        assert.ok(await repo.insertRunning(running(tenant, 'p', 'other call', 2_000_000)));
      }
      await repo.upsert('pricelist', { key: { tenant: TENANT, pricelist_tag: 'pl' } }, { name: 'pl', currency: 'EUR' });
    });
  });
  after(async () => {
    await storage.close();
    await dropSchema(schema);
  });

  /** Reads other than the hint's: other tags, the other tenant, another call, all running transactions. */
  async function otherReads(repo: Repository): Promise<unknown[]> {
    return [
      await repo.get('account', accountRef(TENANT, 'r')),
      await repo.get('account', accountRef('other', 'p')),
      await repo.getAccountWithRunning(TENANT, 'p', { transactionTag: 'other call' }),
      await repo.getAccountWithRunning('other', 'p', { transactionTag: 'call' }),
      await repo.getAccountWithRunning(TENANT, 'p'),
      await repo.get('account', { id: (await repo.get('account', accountRef('other', 'q')))?.id ?? 'missing' }),
      await repo.listRunning(TENANT, 'p'),
      await repo.ratesVersion('other'),
      await repo.ratesVersion(TENANT),
    ];
  }

  const hints: TransactionHint[] = [
    { accounts: { tenant: TENANT, accountTags: ['p', 'q', 'missing'], transactionTag: 'call' }, ratesOf: 'nobody' },
    { accounts: { tenant: TENANT, accountTags: ['p', 'q'], transactionTag: null } },
    { accounts: { tenant: 'nobody', accountTags: ['p', 'r'], transactionTag: 'call' } },
    { ratesOf: 'other' },
    // Repeated tags, and the call the work does read, for one of the accounts.
    { accounts: { tenant: TENANT, accountTags: ['p', 'p', 'r', 'r'], transactionTag: 'other call' }, ratesOf: TENANT },
  ];

  for (const [n, hint] of hints.entries()) {
    test(`reads the hint does not name answer as without it (hint ${n + 1})`, async () => {
      const expected = await storage.transaction(otherReads);
      assert.deepEqual(await storage.transaction(otherReads, hint), expected);
    });
  }

  test('a work that only writes accounts a hint named writes them', async () => {
    const hint: TransactionHint = { accounts: { tenant: TENANT, accountTags: ['p', 'q'], transactionTag: 'call' }, ratesOf: TENANT };
    await storage.transaction(async (repo) => {
      assert.ok(await repo.addToBalance(TENANT, 'q', 40));
      assert.equal(await repo.deleteRunning(TENANT, 'p', 'call'), 1);
    }, hint);
    const read = await storage.transaction((repo) => repo.getAccountWithRunning(TENANT, 'p'));
    assert.deepEqual(read?.running.map((rt) => rt.transaction_tag), ['other call']);
    assert.equal((await storage.transaction((repo) => repo.get('account', accountRef(TENANT, 'q'))))?.balance, 42);
  });

  test('a work that reads nothing, or throws, under a hint', async () => {
    const hint: TransactionHint = { accounts: { tenant: TENANT, accountTags: ['p'], transactionTag: 'call' }, ratesOf: TENANT };
    assert.equal(await storage.transaction(async () => 'nothing read', hint), 'nothing read');
    await assert.rejects(storage.transaction(async () => Promise.reject(new Undo('thrown')), hint), Undo);
    assert.equal((await storage.transaction((repo) => repo.get('account', accountRef(TENANT, 'p')), hint))?.balance, 1);
  });
});

describe('postgres start preload: text PostgreSQL cannot hold', suite, () => {
  const schema = uniqueSchemaName('preload_nul');
  let storage: Storage;
  before(async () => {
    storage = await openTestStorage(schema, { poolSize: 1 });
    await storage.migrate();
    await storage.transaction((repo) => putAccount(repo, TENANT, '1000', 100));
  });
  afterEach(async () => {
    // Whatever happened, the storage goes on working.
    assert.equal((await storage.transaction((repo) => repo.get('account', accountRef(TENANT, '1000'))))?.balance, 100);
  });
  after(async () => {
    await storage.close();
    await dropSchema(schema);
  });

  const NUL_TAG = "10\u000000'; DELETE FROM accounts; --";

  test('a NUL in a tag fails the read with a hint as without one', async () => {
    await assert.rejects(storage.transaction((repo) => repo.get('account', accountRef(TENANT, NUL_TAG))));
    await assert.rejects(
      storage.transaction((repo) => repo.get('account', accountRef(TENANT, NUL_TAG)), { accounts: { tenant: TENANT, accountTags: [NUL_TAG], transactionTag: 'call' } }),
    );
  });

  // The hint's literals go into the simple-query message that also carries the previous
  // transaction's COMMIT. A NUL would end that message's query string early and PostgreSQL would
  // refuse the whole message, COMMIT included; such a hint is therefore not preloaded.
  test('a NUL in the hint of a waiting transaction fails nothing but that transaction', async () => {
    const held = deferred();
    const started = deferred();
    // The first transaction holds the connection until the bad one waits behind it: its commit
    // then starts the bad one in the same round trip.
    const innocent = storage.transaction(async (repo) => {
      started.resolve();
      await held.promise;
      assert.ok(await repo.addToBalance(TENANT, '1000', 5));
      return 'committed';
    });
    await started.promise;
    const bad = storage.transaction((repo) => repo.get('account', accountRef(TENANT, NUL_TAG)), { accounts: { tenant: TENANT, accountTags: [NUL_TAG], transactionTag: null } });
    const badOutcome = bad.then(
      () => 'resolved',
      () => 'rejected',
    );
    held.resolve();
    const innocentOutcome = await innocent.then(
      (value) => value,
      (error: unknown) => `rejected: ${error instanceof Error ? error.message : String(error)}`,
    );
    assert.equal(await badOutcome, 'rejected');
    const balance = (await storage.transaction((repo) => repo.get('account', accountRef(TENANT, '1000'))))?.balance;
    // Put back for afterEach, whatever happened.
    if (balance === 105) await storage.transaction((repo) => repo.addToBalance(TENANT, '1000', -5));
    assert.equal(innocentOutcome, 'committed');
    assert.equal(balance, 105, 'the innocent transaction was committed');
  });
});

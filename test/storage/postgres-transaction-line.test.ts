// PostgreSQL's TransactionLine (src/storage/postgres/transaction.ts): transactions wait in one
// queue for at most pool-size connections, and a commit that finds others waiting starts the
// next one in its own round trip. These tests hold it to the storage contract under that
// chaining: answers and order, failures that stay local, conflicts that lose no update, broken
// connections and close() while transactions wait.
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import type { Account } from '../../src/domain/types.ts';
import type { OperationOutcome, Repository, Storage, TransactionHint } from '../../src/storage/storage.ts';
import { skipUnlessServices } from '../support/services.ts';
import { openPostgresStorage } from '../../src/storage/postgres/index.ts';
import { dropSchema, openTestStorage, POSTGRES_URL, traceQueries, uniqueSchemaName, withAdminClient } from './postgres-support.ts';

const skip = await skipUnlessServices(['postgresql']);
// A regression here tends to leave a transaction waiting forever: fail instead of hanging.
const suite = { skip, timeout: 30_000 };
const TENANT = 'default';
// Terminated connections are reported at error level, which is expected here.
const silentLogger = pino({ level: 'silent' });

/** A round trip that commits a transaction (and may start the next one). */
const isCommit = (text: string): boolean => text === 'COMMIT' || text.startsWith('COMMIT;');
/** A round trip that starts a transaction and nothing else (BEGIN, lane lock). */
const isSeparateStart = (text: string): boolean => !isCommit(text) && text.includes('LOCK TABLE');
/** A commit round trip that also starts the next transaction. */
const isChainedStart = (text: string): boolean => isCommit(text) && text.includes('LOCK TABLE');

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const accountRef = (tag: string): { key: { tenant: string; account_tag: string } } => ({ key: { tenant: TENANT, account_tag: tag } });

function putAccount(repo: Repository, tag: string, balance: number): Promise<Account> {
  return repo.upsert('account', accountRef(tag), { type: 'POSTPAID', balance, active: true });
}

/** Balances of these accounts (null when missing), read in one transaction. */
function balances(storage: Storage, tags: readonly string[]): Promise<(number | null)[]> {
  return storage.transaction(async (repo) => {
    const found: (number | null)[] = [];
    for (const tag of tags) found.push((await repo.get('account', accountRef(tag)))?.balance ?? null);
    return found;
  });
}

class WorkError extends Error {}

// The connection of a transaction is the only one holding a lock on this schema's lane table
// (transaction.ts) while its transaction runs.
const LANE_HOLDERS_SQL = "SELECT pid FROM pg_locks WHERE locktype = 'relation' AND relation = to_regclass($1::text) AND granted";

/** Terminates the backends holding the schema's lane lock; waits until they are gone. Answers how many. */
async function killLaneHolders(schema: string): Promise<number> {
  return withAdminClient(async (client) => {
    const { rows } = await client.query<{ pid: number }>(LANE_HOLDERS_SQL, [`${schema}.transaction_lane`]);
    const pids = rows.map((row) => row.pid);
    for (const pid of pids) await client.query('SELECT pg_terminate_backend($1::int)', [pid]);
    for (let waited = 0; waited < 5000; waited += 20) {
      const alive = await client.query('SELECT 1 FROM pg_stat_activity WHERE pid = ANY($1::int[])', [pids]);
      if (alive.rowCount === 0) return pids.length;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`backends ${pids.join(', ')} still alive after pg_terminate_backend`);
  });
}

describe('postgres transaction line: chained starts on one connection', suite, () => {
  const schema = uniqueSchemaName('line_chain');
  let storage: Storage;
  let trace: { texts: string[]; restore: () => void } | null = null;
  before(async () => {
    storage = await openTestStorage(schema, { poolSize: 1 });
    await storage.migrate();
    // Opens the pool's connection, so that the tests below count transaction round trips only.
    await storage.transaction((repo) => putAccount(repo, 'warm-up', 0));
  });
  afterEach(() => {
    trace?.restore();
    trace = null;
  });
  after(async () => {
    await storage.close();
    await dropSchema(schema);
  });

  test('30 transactions submitted at once answer their own values in order, each started by its predecessor\'s commit', async () => {
    trace = traceQueries();
    const settledOrder: number[] = [];
    const ranOrder: number[] = [];
    const all = Array.from({ length: 30 }, (_, i) =>
      storage
        .transaction(async (repo) => {
          ranOrder.push(i);
          await putAccount(repo, `chain-${i}`, i);
          return `value-${i}`;
        })
        .then((value) => {
          settledOrder.push(i);
          return value;
        }),
    );
    const values = await Promise.all(all);
    const texts = [...trace.texts];
    trace.restore();

    assert.deepEqual(values, Array.from({ length: 30 }, (_, i) => `value-${i}`));
    const inOrder = Array.from({ length: 30 }, (_, i) => i);
    assert.deepEqual(ranOrder, inOrder, 'one attempt each, in order of submission');
    assert.deepEqual(settledOrder, inOrder);
    assert.equal(texts.filter(isSeparateStart).length, 1, 'only the first transaction starts in a round trip of its own');
    assert.equal(texts.filter(isCommit).length, 30);
    assert.equal(texts.filter(isChainedStart).length, 29, 'every other transaction starts in its predecessor\'s commit');
    assert.ok(!isChainedStart(texts.filter(isCommit).at(-1) ?? ''), 'the last commit starts nothing');
    assert.deepEqual(
      await balances(storage, inOrder.map((i) => `chain-${i}`)),
      inOrder,
    );
  });

  test('a work that throws in the middle of a chain rejects with its own error and writes nothing; its neighbours commit', async () => {
    const failing = 5;
    const thrown = new WorkError('refused by the work');
    const all = Array.from({ length: 10 }, (_, i) =>
      storage.transaction(async (repo) => {
        await putAccount(repo, `throw-${i}`, 100 + i);
        assert.equal(await repo.addToBalance(TENANT, 'warm-up', 1), true);
        if (i === failing) throw thrown;
        return i;
      }),
    );
    const outcomes = await Promise.allSettled(all);
    outcomes.forEach((outcome, i) => {
      if (i === failing) assert.deepEqual(outcome, { status: 'rejected', reason: thrown });
      else assert.deepEqual(outcome, { status: 'fulfilled', value: i });
    });
    const tags = Array.from({ length: 10 }, (_, i) => `throw-${i}`);
    assert.deepEqual(
      await balances(storage, tags),
      tags.map((_, i) => (i === failing ? null : 100 + i)),
    );
    assert.deepEqual(await balances(storage, ['warm-up']), [9], 'the failed work\'s balance change is undone');
  });

  test('a work that catches a failed statement and returns rejects with the statement\'s error; its neighbours commit', async () => {
    const all = Array.from({ length: 5 }, (_, i) =>
      storage.transaction(async (repo) => {
        await putAccount(repo, `swallow-${i}`, i);
        if (i === 2) {
          // An outcome the table's CHECK refuses: the statement fails, PostgreSQL aborts the
          // transaction, and the work carries on as if nothing happened.
          const bogus = 'bogus' as OperationOutcome['outcome'];
          await repo.putOutcome({ tenant: TENANT, transaction_tag: 'swallow', account_tag: 'swallow-2', outcome: bogus, at: 1 }).catch(() => undefined);
        }
        return i;
      }),
    );
    const outcomes = await Promise.allSettled(all);
    assert.deepEqual(
      outcomes.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : 'rejected')),
      [0, 1, 'rejected', 3, 4],
    );
    const refused = outcomes[2];
    assert.ok(refused?.status === 'rejected');
    assert.equal((refused.reason as { code?: unknown }).code, '23514', 'the CHECK violation the work swallowed');
    assert.deepEqual(await balances(storage, ['swallow-0', 'swallow-1', 'swallow-2', 'swallow-3', 'swallow-4']), [0, 1, null, 3, 4]);
  });
});

describe('postgres transaction line: conflicts', suite, () => {
  const schema = uniqueSchemaName('line_conflict');
  let storage: Storage;
  let trace: { texts: string[]; restore: () => void } | null = null;
  before(async () => {
    storage = await openTestStorage(schema, { poolSize: 4 });
    await storage.migrate();
    await storage.transaction((repo) => putAccount(repo, 'hot', 0));
  });
  afterEach(() => {
    trace?.restore();
    trace = null;
  });
  after(async () => {
    await storage.close();
    await dropSchema(schema);
  });

  test('40 read-modify-write transactions on one balance, 4 at a time, lose no update', async () => {
    trace = traceQueries();
    const attemptsOf = Array.from({ length: 40 }, () => 0);
    const all = Array.from({ length: 40 }, (_, i) =>
      storage.transaction(async (repo) => {
        attemptsOf[i]++;
        const account = await repo.get('account', accountRef('hot'));
        assert.ok(account !== null);
        // Keeps concurrent transactions between their read and their write, so they conflict.
        await new Promise((resolve) => setTimeout(resolve, 2));
        await putAccount(repo, 'hot', account.balance + 1);
        return i;
      }),
    );
    const values = await Promise.all(all);
    const texts = [...trace.texts];
    trace.restore();

    assert.deepEqual(values, Array.from({ length: 40 }, (_, i) => i));
    assert.deepEqual(await balances(storage, ['hot']), [40]);
    // The test is only meaningful when some attempts lost a conflict and ran again.
    const attempts = attemptsOf.reduce((sum, n) => sum + n, 0);
    assert.ok(attempts > 40, `some attempts conflicted (${attempts} attempts)`);
    // Third attempts run alone (an exclusive lock of the lane), and one running alone cannot lose.
    const alone = texts.filter((text) => text.includes('IN EXCLUSIVE MODE')).length;
    const thirdAttempts = attemptsOf.filter((n) => n >= 3).length;
    assert.equal(alone, thirdAttempts, 'every third attempt, and nothing else, runs alone');
    assert.ok(Math.max(...attemptsOf) <= 3, `no transaction needs a fourth attempt (attempts: ${attemptsOf.join(' ')})`);
  });
});

describe('postgres transaction line: the next start fails in the commit\'s round trip', suite, () => {
  const schema = uniqueSchemaName('line_next_fails');
  let storage: Storage;
  before(async () => {
    // A short lock timeout, so that a start waiting for the lane fails instead of waiting.
    storage = await openPostgresStorage({ url: `${POSTGRES_URL}?options=-c%20lock_timeout%3D300`, schema, poolSize: 1, logger: silentLogger });
    await storage.migrate();
    await storage.transaction((repo) => putAccount(repo, 'a', 0));
  });
  after(async () => {
    await storage.close();
    await dropSchema(schema);
  });

  // With a hint, the failed start is the connection's first hinted one: it also prepared the
  // statements hinted starts execute, which must not leave later hinted starts failing.
  for (const hinted of [false, true]) {
    test(`the transaction whose COMMIT went through answers its value, once; the next one${hinted ? ' (hinted)' : ''} fails alone and the connection stays usable`, async () => {
      // The first transaction holds the lane while an outside session queues for it exclusively:
      // when the first commits, the outside session gets the lane, so the second transaction's
      // start, sent with that COMMIT, times out on the lane lock after the COMMIT went through.
      const inside = deferred();
      let firstRuns = 0;
      const before = (await balances(storage, ['a']))[0] ?? NaN;
      const first = storage.transaction(async (repo) => {
        firstRuns++;
        const account = await repo.get('account', accountRef('a'));
        await repo.upsert('account', accountRef('a'), { balance: (account?.balance ?? 0) + 10 });
        await inside.promise;
        return 'first';
      });
      const hint: TransactionHint | undefined = hinted ? { accounts: { tenant: TENANT, accountTags: ['a'], transactionTag: null } } : undefined;
      const second = storage.transaction(async () => 'second', hint);
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      try {
        await admin.query('BEGIN');
        const locked = admin.query(`LOCK TABLE "${schema}".transaction_lane IN ACCESS EXCLUSIVE MODE`);
        // Queued behind the first transaction's lane lock.
        for (let waited = 0; waited < 5000; waited += 20) {
          const { rowCount } = await withAdminClient((client) =>
            client.query("SELECT 1 FROM pg_locks WHERE relation = to_regclass($1::text) AND mode = 'AccessExclusiveLock' AND NOT granted", [`${schema}.transaction_lane`]),
          );
          if (rowCount === 1) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        inside.resolve();
        assert.equal(await first, 'first');
        await assert.rejects(second, (error: unknown) => (error as { code?: string }).code === '55P03');
        await locked;
        await admin.query('COMMIT');
      } finally {
        await admin.end();
      }
      assert.equal(firstRuns, 1, 'a committed transaction is not run again');
      assert.deepEqual(await balances(storage, ['a']), [before + 10]);
      // The connection is not left inside the aborted start, and hinted starts work.
      assert.equal(await storage.transaction(async () => 'third'), 'third');
      assert.equal(await storage.transaction(async (repo) => (await repo.get('account', accountRef('a')))?.balance, hint), before + 10);
    });
  }
});

describe('postgres transaction line: a start that loses a deadlock', suite, () => {
  const schema = uniqueSchemaName('line_start_deadlock');
  let storage: Storage;
  before(async () => {
    storage = await openPostgresStorage({ url: POSTGRES_URL, schema, poolSize: 1, logger: silentLogger });
    await storage.migrate();
    await storage.transaction((repo) => putAccount(repo, 'a', 5));
  });
  after(async () => {
    await storage.close();
    await dropSchema(schema);
  });

  const hint: TransactionHint = { accounts: { tenant: TENANT, accountTags: ['a'], transactionTag: null } };

  /** Backends of other sessions waiting for a lock on `table` of the schema. */
  async function waitersOn(table: string): Promise<number> {
    const { rowCount } = await withAdminClient((client) =>
      client.query('SELECT 1 FROM pg_locks WHERE relation = to_regclass($1::text) AND NOT granted', [`${schema}.${table}`]),
    );
    return rowCount ?? 0;
  }

  async function until(check: () => Promise<boolean>, what: string): Promise<void> {
    for (let waited = 0; !(await check()); waited += 20) {
      if (waited > 10_000) assert.fail(`timed out waiting until ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  // Not provoked here for a connection's first hinted start, whose PREPAREs (before BEGIN) would
  // wait for the accounts table before the lane lock is taken; that attempt would run again on a
  // new connection (the statements it prepared are in an unknown state).
  test('the transaction runs again and answers its value', async () => {
    await storage.transaction(async () => 'prepares the hinted statements', hint);
    // A deadlock between the start's read of the accounts and an outside session: the outside
    // session locks the accounts table, the start takes the lane lock and waits for the
    // accounts, then the outside session waits for the lane. The start waited first, so its
    // deadlock check fires first and it is the one cancelled (40P01), inside its transaction.
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    let runs = 0;
    try {
      await admin.query('BEGIN');
      await admin.query("SET LOCAL deadlock_timeout = '30s'");
      await admin.query(`LOCK TABLE "${schema}".accounts IN ACCESS EXCLUSIVE MODE`);
      const transaction = storage.transaction(async (repo) => {
        runs++;
        return (await repo.get('account', accountRef('a')))?.balance;
      }, hint);
      await until(async () => (await waitersOn('accounts')) === 1, 'the start waits for the accounts table');
      // Granted once the start's transaction has rolled back; its next attempt then waits for
      // the accounts table again until this session ends.
      await admin.query(`LOCK TABLE "${schema}".transaction_lane IN EXCLUSIVE MODE`);
      await admin.query('COMMIT');
      assert.equal(await transaction, 5);
    } finally {
      await admin.end();
    }
    assert.equal(runs, 1, 'the work ran once: the start failed before it');
    assert.equal(await storage.transaction(async () => 'after', hint), 'after');
  });
});

describe('postgres transaction line: a conflict raised by a COMMIT that starts the next transaction', suite, () => {
  const schema = uniqueSchemaName('line_commit_conflict');
  let x: Storage;
  let y: Storage;
  before(async () => {
    x = await openTestStorage(schema, { poolSize: 1 });
    await x.migrate();
    y = await openTestStorage(schema, { poolSize: 1 });
    await x.transaction(async (repo) => {
      await putAccount(repo, 'a', 0);
      await putAccount(repo, 'b', 0);
    });
  });
  after(async () => {
    await x.close();
    await y.close();
    await dropSchema(schema);
  });

  test('write skew with a transaction waiting behind each: the loser runs again, the outcome is a serial one', async () => {
    for (let round = 0; round < 5; round++) {
      await x.transaction(async (repo) => {
        await repo.upsert('account', accountRef('a'), { balance: 0 });
        await repo.upsert('account', accountRef('b'), { balance: 0 });
      });
      // Each reads the account the other writes; both read before either writes.
      let read = 0;
      const bothRead = deferred();
      const skew = (reads: string, writes: string) => async (repo: Repository): Promise<void> => {
        const seen = (await repo.get('account', accountRef(reads)))?.balance ?? 0;
        if (++read >= 2) bothRead.resolve();
        await bothRead.promise;
        await repo.upsert('account', accountRef(writes), { balance: seen + 100 });
      };
      const first = x.transaction(skew('b', 'a'));
      const second = y.transaction(skew('a', 'b'));
      // Waiting behind each, so each COMMIT also starts the next transaction.
      const behind = [x.transaction(async () => 'x'), y.transaction(async () => 'y')];
      await Promise.all([first, second, ...behind]);
      const [a, b] = await balances(x, ['a', 'b']);
      assert.ok((a === 100 && b === 200) || (a === 200 && b === 100), `round ${round}: a=${a}, b=${b} is no serial order of the two`);
    }
  });
});

describe('postgres transaction line: a connection killed during a work', suite, () => {
  const schema = uniqueSchemaName('line_kill');
  let storage: Storage;
  before(async () => {
    storage = await openTestStorage(schema, { poolSize: 1, logger: silentLogger });
    await storage.migrate();
  });
  after(async () => {
    await storage.close();
    await dropSchema(schema);
  });

  for (const afterKill of ['queries again', 'returns'] as const) {
    test(`the work that ${afterKill} rejects; transactions waiting behind it succeed on a new connection`, async () => {
      const label = afterKill === 'returns' ? 'ret' : 'qry';
      const inWork = deferred();
      const release = deferred();
      const victim = storage.transaction(async (repo) => {
        await putAccount(repo, `${label}-victim`, 1);
        inWork.resolve();
        await release.promise;
        if (afterKill === 'queries again') await repo.addToBalance(TENANT, `${label}-victim`, 1);
        return 'victim';
      });
      await inWork.promise;
      const waiting = Array.from({ length: 3 }, (_, i) =>
        storage.transaction(async (repo) => {
          await putAccount(repo, `${label}-after-${i}`, i);
          return i;
        }),
      );
      assert.equal(await killLaneHolders(schema), 1, 'the victim\'s connection holds the lane');
      release.resolve();

      await assert.rejects(victim);
      assert.deepEqual(await Promise.all(waiting), [0, 1, 2]);
      assert.deepEqual(await balances(storage, [`${label}-victim`, `${label}-after-0`, `${label}-after-1`, `${label}-after-2`]), [null, 0, 1, 2]);
    });
  }
});

describe('postgres transaction line: close() while transactions wait', suite, () => {
  const schema = uniqueSchemaName('line_close');
  let storage: Storage;
  beforeEach(async () => {
    storage = await openTestStorage(schema, { poolSize: 1, logger: silentLogger });
    await storage.migrate();
  });
  // The tests close the storage themselves; this only matters when one fails before it does.
  afterEach(() => storage.close());
  after(async () => {
    await dropSchema(schema);
  });

  test('every waiting transaction settles and close() resolves', async () => {
    const inWork = deferred();
    const release = deferred();
    const first = storage.transaction(async (repo) => {
      await putAccount(repo, 'close-first', 1);
      inWork.resolve();
      await release.promise;
      return 'first';
    });
    await inWork.promise;
    const waiting = Array.from({ length: 5 }, (_, i) =>
      storage.transaction(async (repo) => {
        if (i === 2) throw new WorkError('refused');
        await putAccount(repo, `close-${i}`, i);
        return i;
      }),
    );
    const closed = storage.close();
    await assert.rejects(storage.transaction(async () => 'late'), /storage is closed/);
    release.resolve();

    const outcomes = await Promise.allSettled([first, ...waiting]);
    assert.deepEqual(
      outcomes.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : 'rejected')),
      ['first', 0, 1, 'rejected', 3, 4],
    );
    await closed;
    const reopened = await openTestStorage(schema, { poolSize: 1, logger: silentLogger });
    try {
      assert.deepEqual(await balances(reopened, ['close-first', 'close-0', 'close-1', 'close-2', 'close-3', 'close-4']), [1, 0, 1, null, 3, 4]);
    } finally {
      await reopened.close();
    }
  });

  test('close() settles waiting transactions when the running one\'s connection is killed', async () => {
    const inWork = deferred();
    const release = deferred();
    const first = storage.transaction(async (repo) => {
      await putAccount(repo, 'killed-first', 1);
      inWork.resolve();
      await release.promise;
      return 'first';
    });
    await inWork.promise;
    const waiting = Array.from({ length: 3 }, (_, i) => storage.transaction(async (repo) => putAccount(repo, `killed-${i}`, i).then(() => i)));
    const closed = storage.close();
    assert.equal(await killLaneHolders(schema), 1);
    release.resolve();

    await assert.rejects(first);
    assert.deepEqual(await Promise.all(waiting), [0, 1, 2]);
    await closed;
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GroupCommitRunner, type ClosableRepository, type TransactionHost } from '../../../src/storage/sqlite/group-commit.ts';

/** A host that records the SQL it is asked to run and can pretend SQLite aborted. */
class FakeHost implements TransactionHost {
  readonly log: string[] = [];
  open = false;
  failBegin: Error | null = null;
  failCommit: Error | null = null;
  /** When set, a job failure leaves no transaction, as after SQLITE_FULL. */
  abortOnJobFailure = false;

  async begin(): Promise<void> {
    if (this.failBegin !== null) {
      const error = this.failBegin;
      this.failBegin = null;
      throw error;
    }
    this.log.push('BEGIN');
    this.open = true;
  }

  execute(sql: 'SAVEPOINT job' | 'RELEASE job' | 'ROLLBACK TO job' | 'COMMIT' | 'ROLLBACK'): void {
    if (sql === 'ROLLBACK TO job' && this.abortOnJobFailure) {
      this.open = false;
      throw new Error('no such savepoint');
    }
    if (sql === 'COMMIT' && this.failCommit !== null) throw this.failCommit;
    this.log.push(sql);
    if (sql === 'COMMIT' || sql === 'ROLLBACK') this.open = false;
  }

  inTransaction(): boolean {
    return this.open;
  }

  openRepository(): ClosableRepository {
    return { close: () => undefined } as ClosableRepository;
  }
}

describe('GroupCommitRunner', () => {
  test('transactions requested together share one commit, each inside its own savepoint', async () => {
    const host = new FakeHost();
    const runner = new GroupCommitRunner(host);
    const results = await Promise.allSettled([
      runner.transaction(async () => 1),
      runner.transaction(async () => {
        throw new Error('second fails');
      }),
      runner.transaction(async () => 3),
    ]);
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
      [1, 'second fails', 3],
    );
    assert.deepEqual(host.log, [
      'BEGIN',
      'SAVEPOINT job',
      'RELEASE job',
      'SAVEPOINT job',
      'ROLLBACK TO job',
      'RELEASE job',
      'SAVEPOINT job',
      'RELEASE job',
      'COMMIT',
    ]);
  });

  test('a group is bounded in size', async () => {
    const host = new FakeHost();
    const runner = new GroupCommitRunner(host, 2);
    await Promise.all([1, 2, 3, 4, 5].map((n) => runner.transaction(async () => n)));
    assert.equal(host.log.filter((sql) => sql === 'COMMIT').length, 3);
  });

  test('a group closes once its time budget is spent', async () => {
    const host = new FakeHost();
    const runner = new GroupCommitRunner(host, 64, 5);
    const slow = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 10));
    await Promise.all([runner.transaction(slow), runner.transaction(slow), runner.transaction(async () => undefined)]);
    assert.equal(host.log.filter((sql) => sql === 'COMMIT').length, 3);
  });

  test('no promise resolves before the commit; a failed commit rejects the whole group', async () => {
    const host = new FakeHost();
    const runner = new GroupCommitRunner(host);
    const commitError = new Error('disk I/O error');
    host.failCommit = commitError;
    const results = await Promise.allSettled([runner.transaction(async () => 'a'), runner.transaction(async () => 'b')]);
    assert.deepEqual(
      results.map((r) => r.status === 'rejected' && r.reason === commitError),
      [true, true],
    );
    assert.equal(host.log.at(-1), 'ROLLBACK');
    host.failCommit = null;
    assert.equal(await runner.transaction(async () => 'after'), 'after');
  });

  test('when SQLite abandons the transaction, the group members that had succeeded are rejected too', async () => {
    const host = new FakeHost();
    const runner = new GroupCommitRunner(host);
    host.abortOnJobFailure = true;
    const failure = new Error('database or disk is full');
    const results = await Promise.allSettled([
      runner.transaction(async () => 'first'),
      runner.transaction(async () => {
        throw failure;
      }),
      runner.transaction(async () => 'third'),
    ]);
    assert.equal(results[0].status, 'rejected');
    assert.match(String((results[0] as PromiseRejectedResult).reason), /rolled back together/);
    assert.equal((results[1] as PromiseRejectedResult).reason, failure);
    // The third ran in a fresh transaction of its own.
    assert.deepEqual(results[2], { status: 'fulfilled', value: 'third' });
    assert.equal(host.log.filter((sql) => sql === 'BEGIN').length, 2);
  });

  test('a BEGIN that fails rejects one transaction and the next ones still run', async () => {
    const host = new FakeHost();
    const runner = new GroupCommitRunner(host);
    const busy = new Error('database is locked');
    host.failBegin = busy;
    const results = await Promise.allSettled([runner.transaction(async () => 1), runner.transaction(async () => 2)]);
    assert.deepEqual(results, [
      { status: 'rejected', reason: busy },
      { status: 'fulfilled', value: 2 },
    ]);
  });

  test('exclusive jobs run alone, in queue order; drain waits for everything queued', async () => {
    const host = new FakeHost();
    const runner = new GroupCommitRunner(host);
    const order: string[] = [];
    const all = [
      runner.transaction(async () => order.push('t1')),
      runner.exclusive(async () => {
        order.push(`exclusive (in transaction: ${host.inTransaction()})`);
      }),
      runner.transaction(async () => order.push('t2')),
    ];
    await runner.drain();
    assert.deepEqual(order, ['t1', 'exclusive (in transaction: false)', 't2']);
    await Promise.all(all);
    await runner.drain();
  });

  test('optimistic: a group where nothing fails runs without savepoints', async () => {
    const host = new FakeHost();
    const runner = new GroupCommitRunner(host, 64, 10, true);
    const results = await Promise.all([runner.transaction(async () => 1), runner.transaction(async () => 2), runner.transaction(async () => 3)]);
    assert.deepEqual(results, [1, 2, 3]);
    assert.deepEqual(host.log, ['BEGIN', 'COMMIT']);
  });

  test('optimistic: a failure rolls the group back, runs the ones before it again in savepoints, and the next groups use savepoints', async () => {
    const host = new FakeHost();
    const runner = new GroupCommitRunner(host, 64, 10, true);
    const runs = [0, 0, 0, 0];
    const results = await Promise.allSettled([
      runner.transaction(async () => (runs[0]++, 'first')),
      runner.transaction(async () => (runs[1]++, 'second')),
      runner.transaction(async () => {
        runs[2]++;
        throw new Error('third fails');
      }),
      runner.transaction(async () => (runs[3]++, 'fourth')),
    ]);
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
      ['first', 'second', 'third fails', 'fourth'],
    );
    // The failed one is not run again; the ones before it are, and only their second results count.
    assert.deepEqual(runs, [2, 2, 1, 1]);
    assert.deepEqual(host.log, [
      'BEGIN',
      'ROLLBACK',
      'BEGIN',
      'SAVEPOINT job',
      'RELEASE job',
      'SAVEPOINT job',
      'RELEASE job',
      'SAVEPOINT job',
      'RELEASE job',
      'COMMIT',
    ]);
    host.log.length = 0;
    await Promise.all([runner.transaction(async () => 'a'), runner.transaction(async () => 'b')]);
    assert.deepEqual(host.log, ['BEGIN', 'SAVEPOINT job', 'RELEASE job', 'SAVEPOINT job', 'RELEASE job', 'COMMIT']);
  });

  test('optimistic: a transaction failing again when run the second time is rejected alone', async () => {
    const host = new FakeHost();
    const runner = new GroupCommitRunner(host, 64, 10, true);
    let attempts = 0;
    const results = await Promise.allSettled([
      runner.transaction(async () => {
        attempts++;
        if (attempts > 1) throw new Error('changed its mind');
        return 'first';
      }),
      runner.transaction(async () => {
        throw new Error('second fails');
      }),
      runner.transaction(async () => 'third'),
    ]);
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
      ['changed its mind', 'second fails', 'third'],
    );
    assert.equal(host.log.filter((sql) => sql === 'ROLLBACK TO job').length, 1);
  });

  test('optimistic: when the new transaction cannot begin, the group is rejected, and the queue goes on', async () => {
    const host = new FakeHost();
    const runner = new GroupCommitRunner(host, 64, 10, true);
    const failure = new Error('second fails');
    const results = await Promise.allSettled([
      runner.transaction(async () => {
        host.failBegin = new Error('database is locked');
        return 'first';
      }),
      runner.transaction(async () => {
        throw failure;
      }),
    ]);
    assert.equal(results[0].status, 'rejected');
    assert.match(String((results[0] as PromiseRejectedResult).reason), /rolled back together/);
    assert.deepEqual(results[1], { status: 'rejected', reason: failure });
    assert.equal(host.inTransaction(), false);
    assert.equal(await runner.transaction(async () => 'later'), 'later');
  });

  test('optimistic: when SQLite abandons the transaction on a failure, the ones before it are run again', async () => {
    const host = new FakeHost();
    const runner = new GroupCommitRunner(host, 64, 10, true);
    const failure = new Error('database or disk is full');
    const results = await Promise.allSettled([
      runner.transaction(async () => 'first'),
      runner.transaction(async () => {
        host.open = false;
        throw failure;
      }),
      runner.transaction(async () => 'third'),
    ]);
    assert.deepEqual(results, [
      { status: 'fulfilled', value: 'first' },
      { status: 'rejected', reason: failure },
      { status: 'fulfilled', value: 'third' },
    ]);
    assert.deepEqual(host.log.slice(0, 3), ['BEGIN', 'BEGIN', 'SAVEPOINT job']);
  });

  test('work never starts inside the transaction() call itself', async () => {
    const runner = new GroupCommitRunner(new FakeHost());
    let started = false;
    const pending = runner.transaction(async () => {
      started = true;
    });
    assert.equal(started, false);
    await pending;
    assert.equal(started, true);
  });
});

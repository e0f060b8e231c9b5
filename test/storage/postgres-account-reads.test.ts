// PostgreSQL answers a repeated getAccountWithRunning from memory within a transaction: what it
// answers must still be what the database holds, after every kind of write of the transaction.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RunningTransaction } from '../../src/domain/types.ts';
import type { Repository, Storage } from '../../src/storage/storage.ts';
import { skipUnlessServices } from '../support/services.ts';
import { dropSchema, openTestStorage, uniqueSchemaName } from './postgres-support.ts';

const skip = await skipUnlessServices(['postgresql']);
const TENANT = 'default';

function running(transactionTag: string): RunningTransaction {
  return {
    tenant: TENANT,
    account_tag: '1000',
    transaction_tag: transactionTag,
    proxy_tag: null,
    source: null,
    source_ip: null,
    destination: 'sip:39123@y',
    carrier_ip: null,
    tags: null,
    destination_rate: null,
    in_progress: true,
    inbound: false,
    primary: true,
    timestamp_begin: 1_000_000,
    timestamp_end: null,
  };
}

const read = (repo: Repository, transactionTag = 'call') => repo.getAccountWithRunning(TENANT, '1000', { transactionTag });

describe('postgres repeated account reads in one transaction', { skip }, () => {
  const schema = uniqueSchemaName('reads');
  let storage: Storage;
  before(async () => {
    storage = await openTestStorage(schema);
    await storage.migrate();
    await storage.transaction((repo) => repo.upsert('account', { key: { tenant: TENANT, account_tag: '1000' } }, { type: 'POSTPAID', balance: 100, active: true }));
  });
  after(async () => {
    await storage.close();
    await dropSchema(schema);
  });

  test('every write of the transaction shows in the next read', async () => {
    await storage.transaction(async (repo) => {
      assert.deepEqual((await read(repo))?.running, []);
      await repo.insertRunning(running('call'));
      assert.equal((await read(repo))?.running.length, 1);
      await repo.addToBalance(TENANT, '1000', -10);
      assert.equal((await read(repo))?.account.balance, 90);
      await repo.adjustBalances(TENANT, '1000', null, 'set', 50);
      assert.equal((await read(repo))?.account.balance, 50);
      await repo.endRunning(TENANT, '1000', 'call', 2_000_000);
      assert.equal((await read(repo))?.running[0].in_progress, false);
      await repo.upsert('account', { key: { tenant: TENANT, account_tag: '1000' } }, { active: false });
      assert.equal((await read(repo))?.account.active, false);
      await repo.deleteRunning(TENANT, '1000', 'call');
      assert.deepEqual((await read(repo))?.running, []);
      await repo.insertRunning(running('call'));
      assert.ok(repo.settleRunning !== undefined);
      await repo.settleRunning({ tenant: TENANT, transactionTag: 'call', accountTag: '1000', record: { fee: 5 }, balanceDelta: -5, at: 3_000_000 });
      const settled = await read(repo);
      assert.deepEqual(settled?.running, []);
      assert.equal(settled?.account.balance, 45);
      await repo.delete('account', { key: { tenant: TENANT, account_tag: '1000' } });
      assert.equal(await read(repo), null);
      throw new Error('undo');
    }).catch((error: unknown) => assert.equal((error as Error).message, 'undo'));
  });

  test('what a caller does to an answer does not change the next one', async () => {
    await storage.transaction(async (repo) => {
      await repo.insertRunning(running('kept'));
      const first = await read(repo, 'kept');
      assert.ok(first !== null);
      first.account.balance = -1;
      first.running.length = 0;
      const second = await read(repo, 'kept');
      assert.equal(second?.account.balance, 100);
      assert.equal(second?.running.length, 1);
      throw new Error('undo');
    }).catch((error: unknown) => assert.equal((error as Error).message, 'undo'));
  });
});

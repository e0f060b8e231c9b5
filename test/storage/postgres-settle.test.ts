// PostgreSQL's settleRunning (the end of one running transaction in one statement) must have
// exactly the effects of the four repository calls it stands for.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RunningTransaction, Transaction } from '../../src/domain/types.ts';
import type { Repository, RunningSettlement, Storage } from '../../src/storage/storage.ts';
import { skipUnlessServices } from '../support/services.ts';
import { dropSchema, openTestStorage, uniqueSchemaName } from './postgres-support.ts';

const skip = await skipUnlessServices(['postgresql']);
const TENANT = 'default';

function running(accountTag: string, transactionTag: string): RunningTransaction {
  return {
    tenant: TENANT,
    account_tag: accountTag,
    transaction_tag: transactionTag,
    proxy_tag: null,
    source: 'sip:1000@x',
    source_ip: null,
    destination: 'sip:39123@y',
    carrier_ip: '10.0.0.1',
    tags: ['VOICE'],
    destination_rate: null,
    in_progress: true,
    inbound: false,
    primary: true,
    timestamp_begin: 1_000_000,
    timestamp_end: null,
  };
}

function settlement(accountTag: string, transactionTag: string, balanceDelta: number): RunningSettlement {
  return {
    tenant: TENANT,
    transactionTag,
    accountTag,
    record: {
      source: 'sip:1000@x',
      destination: 'sip:39123@y',
      carrier_ip: '10.0.0.1',
      tags: ['VOICE', 'bench'],
      timestamp_begin: 1_000_000,
      timestamp_end: 61_000_000,
      primary: true,
      inbound: false,
      duration: 60,
      fee: -balanceDelta,
      end_reason: 'BYE',
    },
    balanceDelta,
    at: 61_000_000,
  };
}

/** The four calls settleRunning replaces, as end.ts makes them without it. */
async function settleInFourCalls(repo: Repository, s: RunningSettlement): Promise<boolean> {
  await repo.upsert('transaction', { key: { tenant: s.tenant, transaction_tag: s.transactionTag, account_tag: s.accountTag } }, s.record, {
    readBack: false,
  });
  if (s.balanceDelta !== 0 && !(await repo.addToBalance(s.tenant, s.accountTag, s.balanceDelta))) return false;
  await repo.deleteRunning(s.tenant, s.accountTag, s.transactionTag);
  await repo.putOutcome({ tenant: s.tenant, transaction_tag: s.transactionTag, account_tag: s.accountTag, outcome: 'ended', at: s.at });
  return true;
}

function withoutIdAndTag(record: Transaction | null): Omit<Transaction, 'id' | 'transaction_tag'> | null {
  if (record === null) return null;
  const { id: _id, transaction_tag: _tag, ...rest } = record;
  return rest;
}

describe('postgres settleRunning', { skip }, () => {
  const schema = uniqueSchemaName('settle');
  let storage: Storage;
  before(async () => {
    storage = await openTestStorage(schema);
    await storage.migrate();
    await storage.transaction(async (repo) => {
      for (const tag of ['1000', '2000']) {
        await repo.upsert('account', { key: { tenant: TENANT, account_tag: tag } }, { type: 'POSTPAID', balance: 500, active: true });
      }
    });
  });
  after(async () => {
    await storage.close();
    await dropSchema(schema);
  });

  const settle = (repo: Repository, s: RunningSettlement): Promise<boolean> => {
    assert.ok(repo.settleRunning !== undefined, 'PostgreSQL implements settleRunning');
    return repo.settleRunning(s);
  };

  test('has the effects of upsert + addToBalance + deleteRunning + putOutcome', async () => {
    await storage.transaction(async (repo) => {
      assert.equal(await repo.insertRunning(running('1000', 'one-step')), true);
      assert.equal(await repo.insertRunning(running('2000', 'four-calls')), true);
      assert.equal(await settle(repo, settlement('1000', 'one-step', -30)), true);
      assert.equal(await settleInFourCalls(repo, settlement('2000', 'four-calls', -30)), true);
    });
    await storage.transaction(async (repo) => {
      const one = await repo.get('account', { key: { tenant: TENANT, account_tag: '1000' } });
      const four = await repo.get('account', { key: { tenant: TENANT, account_tag: '2000' } });
      assert.equal(one?.balance, 470);
      assert.equal(four?.balance, 470);
      assert.deepEqual(await repo.listRunning(TENANT, '1000'), []);
      assert.deepEqual(await repo.listRunning(TENANT, '2000'), []);
      const oneRecord = await repo.get('transaction', { key: { tenant: TENANT, transaction_tag: 'one-step', account_tag: '1000' } });
      const fourRecord = await repo.get('transaction', { key: { tenant: TENANT, transaction_tag: 'four-calls', account_tag: '2000' } });
      assert.notEqual(oneRecord, null);
      assert.deepEqual({ ...withoutIdAndTag(oneRecord), account_tag: '2000' }, withoutIdAndTag(fourRecord));
      assert.deepEqual(await repo.getOutcome(TENANT, 'one-step', '1000'), {
        tenant: TENANT,
        transaction_tag: 'one-step',
        account_tag: '1000',
        outcome: 'ended',
        at: 61_000_000,
      });
    });
  });

  test('settling again updates the record and outcome, and charges again (the engine only settles what is running)', async () => {
    await storage.transaction(async (repo) => {
      const again = settlement('1000', 'one-step', -5);
      assert.equal(await settle(repo, { ...again, record: { ...again.record, end_reason: 'CANCEL' }, at: 70_000_000 }), true);
    });
    await storage.transaction(async (repo) => {
      assert.equal((await repo.get('account', { key: { tenant: TENANT, account_tag: '1000' } }))?.balance, 465);
      const filter = [{ kind: 'eq', field: 'transaction_tag', value: 'one-step' }] as const;
      const records = await repo.list('transaction', { filter, sortField: null, ascending: true, offset: 0, limit: null });
      assert.equal(records.length, 1);
      assert.equal(records[0].end_reason, 'CANCEL');
      assert.equal((await repo.getOutcome(TENANT, 'one-step', '1000'))?.at, 70_000_000);
    });
  });

  test('a zero delta leaves the balance alone and succeeds even for a missing account; a charge to a missing account answers false', async () => {
    const results = await storage.transaction(async (repo) => [
      await settle(repo, settlement('2000', 'free', 0)),
      await settle(repo, settlement('nobody', 'free', 0)),
      await settle(repo, settlement('nobody', 'charged', -10)),
    ]);
    assert.deepEqual(results, [true, true, false]);
    await storage.transaction(async (repo) => {
      assert.equal((await repo.get('account', { key: { tenant: TENANT, account_tag: '2000' } }))?.balance, 470);
      assert.equal((await repo.getOutcome(TENANT, 'free', '2000'))?.outcome, 'ended');
    });
  });

  test('in a transaction that fails afterwards, nothing of it is kept', async () => {
    await storage.transaction(async (repo) => repo.insertRunning(running('2000', 'undone')));
    await assert.rejects(
      storage.transaction(async (repo) => {
        await settle(repo, settlement('2000', 'undone', -100));
        throw new Error('refused after settling');
      }),
      /refused after settling/,
    );
    await storage.transaction(async (repo) => {
      assert.equal((await repo.get('account', { key: { tenant: TENANT, account_tag: '2000' } }))?.balance, 470);
      assert.equal((await repo.listRunning(TENANT, '2000')).length, 1);
      assert.equal(await repo.getOutcome(TENANT, 'undone', '2000'), null);
      assert.equal(await repo.get('transaction', { key: { tenant: TENANT, transaction_tag: 'undone', account_tag: '2000' } }), null);
    });
  });
});

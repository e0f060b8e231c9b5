// The reads that come back as one json_array (get, getAccountWithRunning) must give exactly
// what the per-column reads (list, listRunning) give, whatever the text and numbers hold.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { FrozenRate } from '../../../src/domain/types.ts';
import { openSqliteStorage } from '../../../src/storage/sqlite/index.ts';

const AWKWARD_TEXT = 'quote " backslash \\ slash / tab \t newline \n nul \u0000 ctrl \u0001 é ü 漢字 emoji 😀 \u2028 end';

describe('sqlite reads as JSON rows', () => {
  test('records read by get and with running transactions equal the per-column reads', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rating-json-rows-'));
    const storage = await openSqliteStorage({ path: join(dir, 'rows.db') });
    try {
      await storage.migrate();
      const rate: FrozenRate = {
        pricelist_tag: AWKWARD_TEXT,
        carrier_tag: 'C1',
        prefix: '39',
        description: null,
        datetime_start: null,
        datetime_end: Number.MAX_SAFE_INTEGER,
        connect_fee: -Number.MAX_SAFE_INTEGER,
        rate: 0,
        rate_increment: 1,
        interval_start: 0,
      };
      await storage.transaction(async (repo) => {
        await repo.upsert(
          'account',
          { key: { tenant: 'default', account_tag: AWKWARD_TEXT } },
          {
            type: 'POSTPAID',
            name: AWKWARD_TEXT,
            balance: -Number.MAX_SAFE_INTEGER,
            active: false,
            max_concurrent_transactions: 0,
            tags: [],
            carrier_tags: [AWKWARD_TEXT, ''],
            linked_accounts: ['x'],
          },
        );
        await repo.upsert('account', { key: { tenant: 'default', account_tag: 'plain' } }, { type: 'PREPAID' });
        for (const tag of ['t1', 't2']) {
          assert.ok(
            await repo.insertRunning({
              tenant: 'default',
              account_tag: AWKWARD_TEXT,
              transaction_tag: tag,
              proxy_tag: null,
              source: AWKWARD_TEXT,
              source_ip: '::1',
              destination: '39',
              carrier_ip: null,
              tags: tag === 't1' ? [AWKWARD_TEXT] : null,
              destination_rate: tag === 't1' ? rate : null,
              in_progress: true,
              inbound: tag === 't2',
              primary: tag === 't1',
              timestamp_begin: Number.MAX_SAFE_INTEGER - 1,
              timestamp_end: tag === 't2' ? Number.MAX_SAFE_INTEGER : null,
            }),
          );
        }
      });
      await storage.transaction(async (repo) => {
        const listed = await repo.list('account', { filter: [], sortField: null, ascending: true, offset: 0, limit: null });
        assert.equal(listed.length, 2);
        for (const account of listed) {
          assert.deepEqual(await repo.get('account', { id: account.id }), account);
          assert.deepEqual(await repo.get('account', { key: { tenant: 'default', account_tag: account.account_tag } }), account);
          const running = await repo.listRunning('default', account.account_tag);
          assert.deepEqual(await repo.getAccountWithRunning('default', account.account_tag), { account, running });
          for (const rt of running) {
            assert.deepEqual(await repo.getAccountWithRunning('default', account.account_tag, { transactionTag: rt.transaction_tag }), {
              account,
              running: [rt],
            });
          }
        }
        const awkward = listed.find((a) => a.account_tag === AWKWARD_TEXT);
        assert.equal(awkward?.name, AWKWARD_TEXT);
        assert.equal(awkward?.balance, -Number.MAX_SAFE_INTEGER);
        assert.equal(awkward?.active, false);
        assert.deepEqual(awkward?.tags, []);
        const running = await repo.listRunning('default', AWKWARD_TEXT);
        assert.deepEqual(
          running.map((rt) => [rt.transaction_tag, rt.tags, rt.destination_rate, rt.inbound, rt.primary, rt.timestamp_end]),
          [
            ['t1', [AWKWARD_TEXT], rate, false, true, null],
            ['t2', null, null, true, false, Number.MAX_SAFE_INTEGER],
          ],
        );
        assert.equal(await repo.get('account', { key: { tenant: 'default', account_tag: 'missing' } }), null);
        assert.equal(await repo.getAccountWithRunning('default', 'missing'), null);
      });
    } finally {
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// Behaviour every Storage implementation must show (src/storage/storage.ts). Implementations
// call defineStorageContract from their own *.test.ts file with a function that opens a fresh,
// empty store; the suite migrates it itself.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { Account, FrozenRate, RunningTransaction } from '../../src/domain/types.ts';
import { DuplicateKeyError, type Condition, type ListQuery, type Repository, type Storage } from '../../src/storage/storage.ts';

export type OpenStorage = () => Promise<{ storage: Storage; cleanup: () => Promise<void> }>;

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function listQuery(overrides: Partial<ListQuery> = {}): ListQuery {
  return { filter: [], sortField: null, ascending: true, offset: 0, limit: null, ...overrides };
}

function running(accountTag: string, transactionTag: string, overrides: Partial<RunningTransaction> = {}): RunningTransaction {
  return {
    tenant: 'default',
    account_tag: accountTag,
    transaction_tag: transactionTag,
    proxy_tag: null,
    source: '+390001',
    source_ip: '10.0.0.1',
    destination: '+390002',
    carrier_ip: null,
    tags: ['t1'],
    destination_rate: null,
    in_progress: true,
    inbound: false,
    primary: true,
    timestamp_begin: 1_000_000,
    timestamp_end: null,
    ...overrides,
  };
}

const FROZEN: FrozenRate = {
  pricelist_tag: 'p1',
  carrier_tag: 'c1',
  prefix: '39',
  description: 'Italy',
  datetime_start: null,
  datetime_end: null,
  connect_fee: 10,
  rate: 5,
  rate_increment: 60,
  interval_start: 0,
};

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function defineStorageContract(label: string, open: OpenStorage): void {
  describe(`storage contract: ${label}`, () => {
    let storage: Storage;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ storage, cleanup } = await open());
      await storage.migrate();
      await storage.migrate(); // idempotent
    });

    afterEach(async () => {
      await cleanup();
    });

    const tx = <T>(work: (repo: Repository) => Promise<T>): Promise<T> => storage.transaction(work);

    async function addAccount(repo: Repository, tag: string, fields: Partial<Account> = {}, tenant = 'default'): Promise<Account> {
      return repo.upsert('account', { key: { tenant, account_tag: tag } }, { type: 'PREPAID', ...fields });
    }

    const tagsOf = (records: readonly { account_tag: string }[]): string[] => records.map((r) => r.account_tag);

    describe('upsert, get and delete', () => {
      test('upsert by key inserts with a new UUIDv4 and the documented defaults', async () => {
        const account = await tx((repo) => addAccount(repo, 'a1'));
        assert.match(account.id, UUID_V4);
        assert.deepEqual(account, {
          id: account.id,
          tenant: 'default',
          account_tag: 'a1',
          name: null,
          type: 'PREPAID',
          customer_tag: null,
          notification_email: null,
          notification_mobile: null,
          active: null,
          balance: 0,
          max_concurrent_transactions: null,
          max_inbound_transactions: null,
          max_outbound_transactions: null,
          carrier_tags: null,
          carrier_tags_override: null,
          pricelist_tags: null,
          tags: null,
          linked_accounts: null,
        });
        const transaction = await tx((repo) =>
          repo.upsert('transaction', { key: { tenant: 'default', transaction_tag: 'call-1', account_tag: 'a1' } }, { fee: 3 }),
        );
        assert.equal(transaction.primary, false);
        assert.equal(transaction.inbound, false);
        assert.equal(transaction.fee, 3);
      });

      test('upsert without read-back writes exactly what upsert writes, and answers nothing', async () => {
        const fields = { source: '+39 1', tags: ['a'], timestamp_auth: 5, authorized: true, primary: true };
        await tx(async (repo) => {
          const key = { tenant: 'default', transaction_tag: 'call-1', account_tag: 'a1' };
          assert.equal(await repo.upsert('transaction', { key }, fields, { readBack: false }), undefined);
          const written = await repo.get('transaction', { key });
          const expected = await repo.upsert('transaction', { key: { ...key, account_tag: 'a2' } }, fields);
          assert.deepEqual({ ...written, id: '', account_tag: '' }, { ...expected, id: '', account_tag: '' });
          assert.equal(await repo.upsert('transaction', { key }, { fee: 7, tags: null }, { readBack: false }), undefined);
          assert.deepEqual(await repo.get('transaction', { key }), { ...written, fee: 7 });
          const byId = await repo.get('transaction', { key });
          assert.equal(await repo.upsert('transaction', { id: byId?.id ?? '' }, { duration: 3 }, { readBack: false }), undefined);
          assert.equal((await repo.get('transaction', { key }))?.duration, 3);
          await assert.rejects(
            repo.upsert('transaction', { key }, { account_tag: 'a2' }, { readBack: false }),
            (error: unknown) => error instanceof DuplicateKeyError,
          );
        });
      });

      test('upsert by id inserts with that id; get finds it by id and by key', async () => {
        const id = '469f8e15-0000-4000-8000-c52d2d491b24';
        await tx((repo) => repo.upsert('carrier', { id }, { tenant: 'default', carrier_tag: 'c1', host: 'h', port: 5060, protocol: 'UDP', active: true }));
        await tx(async (repo) => {
          const byId = await repo.get('carrier', { id });
          const byKey = await repo.get('carrier', { key: { tenant: 'default', carrier_tag: 'c1' } });
          assert.deepEqual(byId, { id, tenant: 'default', carrier_tag: 'c1', host: 'h', port: 5060, protocol: 'UDP', active: true });
          assert.deepEqual(byKey, byId);
          assert.equal(await repo.get('carrier', { id: 'missing' }), null);
          assert.equal(await repo.get('carrier', { key: { tenant: 'other', carrier_tag: 'c1' } }), null);
        });
      });

      test('updates by id or by key set only the given non-null fields', async () => {
        const created = await tx((repo) => addAccount(repo, 'a1', { name: 'First', balance: 100, tags: ['x'], active: true }));
        const byKey = await tx((repo) =>
          repo.upsert('account', { key: { tenant: 'default', account_tag: 'a1' } }, { name: null, balance: undefined, active: false, tags: [] }),
        );
        assert.equal(byKey.id, created.id);
        assert.equal(byKey.name, 'First');
        assert.equal(byKey.balance, 100);
        assert.equal(byKey.active, false);
        assert.deepEqual(byKey.tags, []);
        const byId = await tx((repo) => repo.upsert('account', { id: created.id }, { account_tag: 'renamed', name: '' }));
        assert.equal(byId.account_tag, 'renamed');
        assert.equal(byId.name, '');
        assert.equal(byId.type, 'PREPAID');
        const counted = await tx((repo) => repo.count('account', []));
        assert.equal(counted, 1);
      });

      test('an update by key may change the key itself', async () => {
        await tx((repo) => addAccount(repo, 'a1'));
        const moved = await tx((repo) => repo.upsert('account', { key: { tenant: 'default', account_tag: 'a1' } }, { tenant: 'other', type: 'POSTPAID' }));
        assert.equal(moved.tenant, 'other');
        assert.equal(moved.type, 'POSTPAID');
        assert.equal(await tx((repo) => repo.get('account', { key: { tenant: 'default', account_tag: 'a1' } })), null);
      });

      test('creating without a natural-key field or a required field throws a clear error', async () => {
        await assert.rejects(
          tx((repo) => repo.upsert('carrier', { id: 'c-id' }, { tenant: 'default', host: 'h' })),
          (error: unknown) => error instanceof Error && /carrier_tag/.test(error.message),
        );
        await assert.rejects(
          tx((repo) => repo.upsert('account', { key: { tenant: 'default', account_tag: 'a1' } }, { name: 'no type' })),
          (error: unknown) => error instanceof Error && /type/.test(error.message),
        );
        await assert.rejects(
          tx((repo) => repo.get('pricelist_rate', { key: { tenant: 'default', pricelist_tag: 'p1' } })),
          (error: unknown) => error instanceof Error && /prefix|carrier_tag/.test(error.message),
        );
        assert.equal(await tx((repo) => repo.count('carrier', [])), 0);
      });

      test('creating by key writes the key fields of `fields` over those of the ref', async () => {
        const created = await tx((repo) =>
          repo.upsert('account', { key: { tenant: 'default', account_tag: 'a1' } }, { account_tag: 'a2', type: 'PREPAID' }),
        );
        assert.equal(created.account_tag, 'a2');
        assert.equal(await tx((repo) => repo.get('account', { key: { tenant: 'default', account_tag: 'a1' } })), null);
      });

      test('values of the wrong type are refused and nothing is written', async () => {
        await assert.rejects(
          tx((repo) => repo.upsert('transaction', { key: { tenant: 'default', transaction_tag: 'c', account_tag: 'a' } }, { fee: 1.5 })),
          TypeError,
        );
        const notBoolean = { active: 'yes' } as unknown as Partial<Account>;
        await assert.rejects(tx((repo) => addAccount(repo, 'a1', notBoolean)), TypeError);
        assert.equal(await tx((repo) => repo.count('transaction', [])), 0);
        assert.equal(await tx((repo) => repo.count('account', [])), 0);
      });

      test('updating an existing account by key does not need its type again', async () => {
        await tx((repo) => addAccount(repo, 'a1'));
        const updated = await tx((repo) => repo.upsert('account', { key: { tenant: 'default', account_tag: 'a1' } }, { name: 'n' }));
        assert.equal(updated.type, 'PREPAID');
        assert.equal(updated.name, 'n');
      });

      test('a write that breaks natural-key uniqueness throws DuplicateKeyError and keeps the transaction usable', async () => {
        await tx(async (repo) => {
          await addAccount(repo, 'a1');
          const second = await addAccount(repo, 'a2');
          await assert.rejects(
            repo.upsert('account', { id: second.id }, { account_tag: 'a1' }),
            (error: unknown) => error instanceof DuplicateKeyError && error.entity === 'account' && error.key.account_tag === 'a1',
          );
          await assert.rejects(
            repo.upsert('account', { id: 'fresh-id' }, { tenant: 'default', account_tag: 'a2', type: 'PREPAID' }),
            DuplicateKeyError,
          );
          assert.equal((await repo.get('account', { id: second.id }))?.account_tag, 'a2');
          await addAccount(repo, 'a3');
        });
        assert.equal(await tx((repo) => repo.count('account', [])), 3);
      });

      test('delete by id or key returns the record, or null when none matched', async () => {
        const c1 = await tx((repo) => repo.upsert('customer', { key: { tenant: 'default', customer_tag: 'cu1' } }, { company_name: 'ACME' }));
        await tx((repo) => repo.upsert('customer', { key: { tenant: 'default', customer_tag: 'cu2' } }, {}));
        await tx(async (repo) => {
          assert.deepEqual(await repo.delete('customer', { id: c1.id }), c1);
          assert.equal(await repo.delete('customer', { id: c1.id }), null);
          assert.equal((await repo.delete('customer', { key: { tenant: 'default', customer_tag: 'cu2' } }))?.customer_tag, 'cu2');
          assert.equal(await repo.delete('customer', { key: { tenant: 'default', customer_tag: 'cu2' } }), null);
          assert.equal(await repo.count('customer', []), 0);
        });
      });

      test('values keep their domain types: booleans, lists, nested JSON, timestamps, large money', async () => {
        const big = Number.MAX_SAFE_INTEGER;
        await tx(async (repo) => {
          const invoice = await repo.upsert(
            'invoice',
            { key: { tenant: 'default', invoice_number: 'INV-1' } },
            {
              invoice_date: 1_546_300_800_000_000,
              rows: [{ prefix: '39', description: 'Ital\u00eda "quoted"', unit_price: 5, quantity: big, total: -big }],
              net_total: big,
              total: -big,
              vat_rate: 22,
            },
          );
          assert.equal(invoice.invoice_date, 1_546_300_800_000_000);
          assert.deepEqual(invoice.rows, [{ prefix: '39', description: 'Ital\u00eda "quoted"', unit_price: 5, quantity: big, total: -big }]);
          assert.equal(invoice.net_total, big);
          assert.equal(invoice.total, -big);
          const record = await repo.upsert(
            'transaction',
            { key: { tenant: 'default', transaction_tag: 'call', account_tag: 'a1' } },
            { destination_rate: FROZEN, authorized: false, primary: true, inbound: true, tags: ['a', 'b'], timestamp_begin: 1_546_336_800_123_456 },
          );
          assert.deepEqual(record.destination_rate, FROZEN);
          assert.equal(record.authorized, false);
          assert.equal(record.primary, true);
          assert.deepEqual(record.tags, ['a', 'b']);
          assert.equal(record.timestamp_begin, 1_546_336_800_123_456);
          assert.deepEqual(await repo.get('transaction', { id: record.id }), record);
        });
      });
    });

    describe('list and count', () => {
      async function seedAccounts(): Promise<void> {
        await tx(async (repo) => {
          await addAccount(repo, 'a1', { name: 'Zeta 100%', active: true, balance: 30, tags: ['gold', 'it'], max_concurrent_transactions: 2 });
          await addAccount(repo, 'a2', { name: '\u00c9lan_bar', active: false, balance: 10, tags: ['silver'] });
          await addAccount(repo, 'a3', { balance: 20, tags: null, type: 'POSTPAID' });
          await addAccount(repo, 'a4', { name: 'beta', active: true, balance: 10, tags: ['it'] });
          await addAccount(repo, 'b1', { name: 'other tenant', balance: 5 }, 'other');
        });
      }

      async function tags(filter: readonly Condition[], overrides: Partial<ListQuery> = {}): Promise<string[]> {
        return tx(async (repo) => tagsOf(await repo.list('account', listQuery({ filter, ...overrides }))));
      }

      test('without a filter every record of every tenant comes back in natural (insertion) order', async () => {
        await seedAccounts();
        assert.deepEqual(await tags([]), ['a1', 'a2', 'a3', 'a4', 'b1']);
        // Updates do not move a record in the natural order.
        await tx((repo) => addAccount(repo, 'a1', { name: 'updated' }));
        assert.deepEqual(await tags([]), ['a1', 'a2', 'a3', 'a4', 'b1']);
      });

      test('eq matches values, booleans, numbers and stored nulls', async () => {
        await seedAccounts();
        assert.deepEqual(await tags([{ kind: 'eq', field: 'tenant', value: 'other' }]), ['b1']);
        assert.deepEqual(await tags([{ kind: 'eq', field: 'active', value: true }]), ['a1', 'a4']);
        assert.deepEqual(await tags([{ kind: 'eq', field: 'active', value: false }]), ['a2']);
        assert.deepEqual(await tags([{ kind: 'eq', field: 'active', value: null }]), ['a3', 'b1']);
        assert.deepEqual(await tags([{ kind: 'eq', field: 'balance', value: 10 }]), ['a2', 'a4']);
        assert.deepEqual(await tags([{ kind: 'eq', field: 'type', value: 'POSTPAID' }]), ['a3']);
      });

      test('in matches any of the values; an empty list matches nothing', async () => {
        await seedAccounts();
        const a1 = await tx((repo) => repo.get('account', { key: { tenant: 'default', account_tag: 'a1' } }));
        assert.deepEqual(await tags([{ kind: 'in', field: 'account_tag', values: ['a4', 'a2', 'zz'] }]), ['a2', 'a4']);
        assert.deepEqual(await tags([{ kind: 'in', field: 'id', values: [a1?.id ?? ''] }]), ['a1']);
        assert.deepEqual(await tags([{ kind: 'in', field: 'account_tag', values: [] }]), []);
      });

      test('contains is a case-insensitive literal substring over any of the fields', async () => {
        await seedAccounts();
        assert.deepEqual(await tags([{ kind: 'contains', fields: ['name'], text: 'ZETA' }]), ['a1']);
        assert.deepEqual(await tags([{ kind: 'contains', fields: ['name'], text: '%' }]), ['a1']);
        assert.deepEqual(await tags([{ kind: 'contains', fields: ['name'], text: '_' }]), ['a2']);
        assert.deepEqual(await tags([{ kind: 'contains', fields: ['name'], text: '\u00e9lan' }]), ['a2']);
        assert.deepEqual(await tags([{ kind: 'contains', fields: ['name'], text: '.*' }]), []);
        assert.deepEqual(await tags([{ kind: 'contains', fields: ['account_tag', 'name'], text: 'B' }]), ['a2', 'a4', 'b1']);
        assert.deepEqual(await tags([{ kind: 'contains', fields: ['tenant'], text: 'OTHER' }]), ['b1']);
      });

      test('overlaps matches list fields sharing at least one element', async () => {
        await seedAccounts();
        assert.deepEqual(await tags([{ kind: 'overlaps', field: 'tags', values: ['it'] }]), ['a1', 'a4']);
        assert.deepEqual(await tags([{ kind: 'overlaps', field: 'tags', values: ['silver', 'gold'] }]), ['a1', 'a2']);
        assert.deepEqual(await tags([{ kind: 'overlaps', field: 'tags', values: ['none'] }]), []);
        assert.deepEqual(await tags([{ kind: 'overlaps', field: 'tags', values: [] }]), []);
      });

      test('runningTransaction matches accounts with a call in progress, optionally outbound and old enough', async () => {
        await seedAccounts();
        await tx(async (repo) => {
          assert.equal(await repo.insertRunning(running('a1', 'out-new', { timestamp_begin: 5_000 })), true);
          assert.equal(await repo.insertRunning(running('a2', 'in-old', { inbound: true, timestamp_begin: 1_000 })), true);
          assert.equal(await repo.insertRunning(running('a3', 'ended', { timestamp_begin: 1_000 })), true);
          assert.notEqual(await repo.endRunning('default', 'a3', 'ended', 2_000), null);
          assert.equal(await repo.insertRunning(running('a4', 'out-old', { timestamp_begin: 1_000 })), true);
        });
        assert.deepEqual(await tags([{ kind: 'runningTransaction', outboundOnly: false, begunAtOrBefore: null }]), ['a1', 'a2', 'a4']);
        assert.deepEqual(await tags([{ kind: 'runningTransaction', outboundOnly: true, begunAtOrBefore: null }]), ['a1', 'a4']);
        assert.deepEqual(await tags([{ kind: 'runningTransaction', outboundOnly: false, begunAtOrBefore: 1_000 }]), ['a2', 'a4']);
        assert.deepEqual(await tags([{ kind: 'runningTransaction', outboundOnly: true, begunAtOrBefore: 4_999 }]), ['a4']);
      });

      test('none matches nothing; conditions are ANDed; count agrees with list', async () => {
        await seedAccounts();
        assert.deepEqual(await tags([{ kind: 'none' }]), []);
        const filter: Condition[] = [
          { kind: 'eq', field: 'tenant', value: 'default' },
          { kind: 'overlaps', field: 'tags', values: ['it', 'silver'] },
          { kind: 'eq', field: 'balance', value: 10 },
        ];
        assert.deepEqual(await tags(filter), ['a2', 'a4']);
        await tx(async (repo) => {
          assert.equal(await repo.count('account', filter), 2);
          assert.equal(await repo.count('account', []), 5);
          assert.equal(await repo.count('account', [{ kind: 'none' }]), 0);
          assert.equal(await repo.count('carrier', []), 0);
        });
      });

      test('a filter on a field the entity does not have is rejected', async () => {
        await assert.rejects(tx((repo) => repo.list('account', listQuery({ filter: [{ kind: 'eq', field: 'nope; DROP TABLE accounts', value: 1 }] }))));
        await assert.rejects(tx((repo) => repo.count('account', [{ kind: 'eq', field: 'constructor', value: 'x' }])), /unknown field/);
        await assert.rejects(tx((repo) => repo.count('carrier', [{ kind: 'runningTransaction', outboundOnly: false, begunAtOrBefore: null }])));
      });

      test('ascending puts nulls first, descending puts them last, ties keep natural order', async () => {
        await seedAccounts();
        const onlyDefault: Condition[] = [{ kind: 'eq', field: 'tenant', value: 'default' }];
        assert.deepEqual(await tags(onlyDefault, { sortField: 'name', ascending: true }), ['a3', 'a1', 'a4', 'a2']);
        assert.deepEqual(await tags(onlyDefault, { sortField: 'name', ascending: false }), ['a2', 'a4', 'a1', 'a3']);
        assert.deepEqual(await tags(onlyDefault, { sortField: 'balance', ascending: true }), ['a2', 'a4', 'a3', 'a1']);
        assert.deepEqual(await tags(onlyDefault, { sortField: 'balance', ascending: false }), ['a1', 'a3', 'a2', 'a4']);
        assert.deepEqual(await tags(onlyDefault, { sortField: 'active', ascending: true }), ['a3', 'a2', 'a1', 'a4']);
        assert.deepEqual(await tags(onlyDefault, { sortField: 'active', ascending: false }), ['a1', 'a4', 'a2', 'a3']);
        assert.deepEqual(await tags(onlyDefault, { sortField: 'max_concurrent_transactions', ascending: false }), ['a1', 'a2', 'a3', 'a4']);
      });

      test('an unknown, list-valued or unsortable sort field keeps the natural order', async () => {
        await seedAccounts();
        assert.deepEqual(await tags([], { sortField: 'no_such_field', ascending: false }), ['a1', 'a2', 'a3', 'a4', 'b1']);
        assert.deepEqual(await tags([], { sortField: 'tags', ascending: false }), ['a1', 'a2', 'a3', 'a4', 'b1']);
        assert.deepEqual(await tags([], { sortField: 'toString', ascending: true }), ['a1', 'a2', 'a3', 'a4', 'b1']);
        assert.deepEqual(await tags([], { sortField: '__proto__', ascending: true }), ['a1', 'a2', 'a3', 'a4', 'b1']);
        await tx(async (repo) => {
          for (const [i, prefix] of ['39', '3906', '1'].entries()) {
            await repo.upsert('pricelist_rate', { id: `ffff-${i}` }, { tenant: 'default', pricelist_tag: 'p1', carrier_tag: 'c1', prefix });
          }
          await repo.upsert('pricelist_rate', { id: '0000-9' }, { tenant: 'default', pricelist_tag: 'p1', carrier_tag: 'c1', prefix: '44' });
          const rates = await repo.list('pricelist_rate', listQuery({ sortField: 'id', ascending: true }));
          assert.deepEqual(rates.map((r) => r.prefix), ['39', '3906', '1', '44']);
          const byPrefix = await repo.list('pricelist_rate', listQuery({ sortField: 'prefix', ascending: true }));
          assert.deepEqual(byPrefix.map((r) => r.prefix), ['1', '39', '3906', '44']);
          const carriers = ['c-b', 'c-a'];
          for (const [i, tag] of carriers.entries()) await repo.upsert('carrier', { id: `id-${2 - i}` }, { tenant: 'default', carrier_tag: tag });
          const byId = await repo.list('carrier', listQuery({ sortField: 'id', ascending: true }));
          assert.deepEqual(byId.map((c) => c.carrier_tag), ['c-a', 'c-b']);
        });
      });

      test('offset and limit page through the sorted result; a null limit means no limit', async () => {
        await seedAccounts();
        assert.deepEqual(await tags([], { offset: 1, limit: 2 }), ['a2', 'a3']);
        assert.deepEqual(await tags([], { offset: 4, limit: 2 }), ['b1']);
        assert.deepEqual(await tags([], { offset: 9, limit: 2 }), []);
        assert.deepEqual(await tags([], { offset: 2, limit: null }), ['a3', 'a4', 'b1']);
        assert.deepEqual(await tags([], { sortField: 'balance', ascending: false, offset: 0, limit: 2 }), ['a1', 'a3']);
      });
    });

    describe('running transactions', () => {
      test('lifecycle: insert, list oldest first, end, find by transaction, delete', async () => {
        await tx(async (repo) => {
          await addAccount(repo, 'a1');
          await addAccount(repo, 'a2');
          assert.equal(await repo.insertRunning(running('a1', 'call-2', { destination_rate: FROZEN, timestamp_begin: 9 })), true);
          assert.equal(await repo.insertRunning(running('a1', 'call-1', { proxy_tag: 'px', tags: null })), true);
          assert.equal(await repo.insertRunning(running('a2', 'call-1', { inbound: true, primary: false })), true);
        });
        await tx(async (repo) => {
          const list = await repo.listRunning('default', 'a1');
          assert.deepEqual(list, [
            running('a1', 'call-2', { destination_rate: FROZEN, timestamp_begin: 9 }),
            running('a1', 'call-1', { proxy_tag: 'px', tags: null }),
          ]);
          const ended = await repo.endRunning('default', 'a1', 'call-1', 2_000_000);
          assert.deepEqual(ended, running('a1', 'call-1', { proxy_tag: 'px', tags: null, in_progress: false, timestamp_end: 2_000_000 }));
          assert.equal(await repo.endRunning('default', 'a1', 'missing', 1), null);
          assert.equal(await repo.endRunning('default', 'nobody', 'call-1', 1), null);
          const both = await repo.findRunningByTransaction('default', 'call-1');
          assert.deepEqual(
            both.map((rt) => [rt.account_tag, rt.in_progress, rt.inbound]),
            [
              ['a1', false, false],
              ['a2', true, true],
            ],
          );
          assert.deepEqual(await repo.findRunningByTransaction('other', 'call-1'), []);
          assert.equal(await repo.deleteRunning('default', 'a1', 'call-1'), 1);
          assert.equal(await repo.deleteRunning('default', 'a1', 'call-1'), 0);
          assert.deepEqual(tagsOfRunning(await repo.listRunning('default', 'a1')), ['call-2']);
          assert.deepEqual(await repo.listRunning('default', 'nobody'), []);
        });
      });

      test('an account is read with its running transactions in one call, oldest first', async () => {
        await tx(async (repo) => {
          assert.equal(await repo.getAccountWithRunning('default', 'ghost'), null);
          const a1 = await addAccount(repo, 'a1', { balance: 70, tags: ['x'] });
          await addAccount(repo, 'a2');
          assert.deepEqual(await repo.getAccountWithRunning('default', 'a1'), { account: a1, running: [] });
          await repo.insertRunning(running('a1', 'call-2', { destination_rate: FROZEN, timestamp_begin: 9 }));
          await repo.insertRunning(running('a1', 'call-1', { tags: null }));
          await repo.insertRunning(running('a2', 'call-1', { inbound: true }));
          const found = await repo.getAccountWithRunning('default', 'a1');
          assert.deepEqual(found, { account: await repo.get('account', { id: a1.id }), running: await repo.listRunning('default', 'a1') });
          assert.deepEqual(tagsOfRunning(found?.running ?? []), ['call-2', 'call-1']);
          assert.equal(await repo.getAccountWithRunning('other', 'a1'), null);
          // Narrowed to one call: that running transaction only, or none, with the account either way.
          const one = await repo.getAccountWithRunning('default', 'a1', { transactionTag: 'call-2' });
          assert.deepEqual(one, { account: found?.account, running: [running('a1', 'call-2', { destination_rate: FROZEN, timestamp_begin: 9 })] });
          assert.deepEqual(await repo.getAccountWithRunning('default', 'a1', { transactionTag: 'call-9' }), { account: found?.account, running: [] });
          assert.equal(await repo.getAccountWithRunning('default', 'ghost', { transactionTag: 'call-1' }), null);
        });
      });

      test('preloadAccounts changes no answer: reads after it, and after a write, are what they would be without it', async () => {
        await tx(async (repo) => {
          await addAccount(repo, 'a1', { balance: 70, tags: ['x'], linked_accounts: ['a2'] });
          await addAccount(repo, 'a2', { balance: 5 });
          await addAccount(repo, 'a1', { balance: 1 }, 'other');
          await repo.insertRunning(running('a1', 'call-1', { destination_rate: FROZEN }));
          await repo.insertRunning(running('a1', 'call-2'));
        });
        // The same reads, with and without the hint first.
        const reads = async (repo: Repository): Promise<unknown[]> => [
          await repo.get('account', { key: { tenant: 'default', account_tag: 'a1' } }),
          await repo.get('account', { key: { tenant: 'default', account_tag: 'ghost' } }),
          await repo.get('account', { key: { tenant: 'other', account_tag: 'a1' } }),
          await repo.getAccountWithRunning('default', 'a1', { transactionTag: 'call-1' }),
          await repo.getAccountWithRunning('default', 'a2', { transactionTag: 'call-1' }),
          await repo.getAccountWithRunning('default', 'a1', { transactionTag: 'call-2' }),
          await repo.getAccountWithRunning('default', 'a1'),
          await repo.getAccountWithRunning('default', 'ghost', { transactionTag: 'call-1' }),
        ];
        const plain = await tx(reads);
        for (const tags of [['a1', 'a2'], ['a1', 'ghost'], ['a2'], ['a1', 'a2', 'ghost']]) {
          const hinted = await tx(async (repo) => {
            await repo.preloadAccounts?.('default', tags, 'call-1');
            return reads(repo);
          });
          assert.deepEqual(hinted, plain, `preloaded ${tags.join(', ')}`);
        }
        await tx(async (repo) => {
          await repo.preloadAccounts?.('default', ['a1', 'a2'], 'call-1');
          // A caller changing what it got changes nothing for the next reader.
          const first = await repo.getAccountWithRunning('default', 'a1', { transactionTag: 'call-1' });
          assert.ok(first !== null && first.running[0].destination_rate !== null && first.account.tags !== null);
          first.account.balance = -1;
          first.account.tags.push('changed');
          first.running[0].destination_rate.rate = 999;
          const account = await repo.get('account', { key: { tenant: 'default', account_tag: 'a1' } });
          assert.ok(account !== null);
          account.linked_accounts?.push('changed');
          assert.deepEqual(await repo.getAccountWithRunning('default', 'a1', { transactionTag: 'call-1' }), plain[3]);
          assert.deepEqual(await repo.get('account', { key: { tenant: 'default', account_tag: 'a1' } }), plain[0]);
          // Every kind of write is seen by the reads that follow it.
          assert.equal(await repo.addToBalance('default', 'a1', 5), true);
          assert.equal((await repo.get('account', { key: { tenant: 'default', account_tag: 'a1' } }))?.balance, 75);
          assert.equal(await repo.deleteRunning('default', 'a1', 'call-1'), 1);
          assert.deepEqual((await repo.getAccountWithRunning('default', 'a1', { transactionTag: 'call-1' }))?.running, []);
          await repo.preloadAccounts?.('default', ['a1', 'a2'], 'call-1');
          assert.equal(await repo.insertRunning(running('a2', 'call-1', { inbound: true })), true);
          assert.deepEqual((await repo.getAccountWithRunning('default', 'a2', { transactionTag: 'call-1' }))?.running, [running('a2', 'call-1', { inbound: true })]);
          await repo.preloadAccounts?.('default', ['a1', 'a2'], 'call-1');
          await repo.upsert('account', { key: { tenant: 'default', account_tag: 'a2' } }, { active: false });
          assert.equal((await repo.get('account', { key: { tenant: 'default', account_tag: 'a2' } }))?.active, false);
          await repo.preloadAccounts?.('default', ['a1', 'a2'], 'call-1');
          assert.equal(await repo.adjustBalances('default', null, null, 'set', 3), 2);
          assert.equal((await repo.get('account', { key: { tenant: 'default', account_tag: 'a2' } }))?.balance, 3);
          await repo.preloadAccounts?.('default', ['a1', 'a2'], 'call-1');
          assert.notEqual(await repo.delete('account', { key: { tenant: 'default', account_tag: 'a2' } }), null);
          assert.equal(await repo.getAccountWithRunning('default', 'a2', { transactionTag: 'call-1' }), null);
          await repo.preloadAccounts?.('default', ['a1', 'ghost'], 'call-1');
          await addAccount(repo, 'ghost');
          assert.equal((await repo.get('account', { key: { tenant: 'default', account_tag: 'ghost' } }))?.account_tag, 'ghost');
        });
      });

      test('insert unlessSettled refuses a call that has an outcome for that account', async () => {
        await tx(async (repo) => {
          await addAccount(repo, 'a1');
          await addAccount(repo, 'a2');
          await repo.putOutcome({ tenant: 'default', transaction_tag: 'call-1', account_tag: 'a1', outcome: 'ended', at: 1 });
          assert.equal(await repo.insertRunning(running('a1', 'call-1'), { unlessSettled: true }), false);
          assert.equal(await repo.insertRunning(running('a2', 'call-1'), { unlessSettled: true }), true);
          assert.equal(await repo.insertRunning(running('a2', 'call-1'), { unlessSettled: true }), false);
          assert.equal(await repo.insertRunning(running('ghost', 'call-2'), { unlessSettled: true }), false);
          assert.equal(await repo.insertRunning(running('a1', 'call-2'), { unlessSettled: true }), true);
          // Without the option an outcome does not stand in the way (the API may add one by hand).
          assert.equal(await repo.insertRunning(running('a1', 'call-1')), true);
          assert.deepEqual(tagsOfRunning(await repo.listRunning('default', 'a1')), ['call-2', 'call-1']);
          assert.deepEqual(tagsOfRunning(await repo.listRunning('default', 'a2')), ['call-1']);
        });
      });

      test('insert refuses a missing account and a repeated transaction tag on the same account', async () => {
        await tx(async (repo) => {
          assert.equal(await repo.insertRunning(running('ghost', 'call-1')), false);
          await addAccount(repo, 'a1');
          await addAccount(repo, 'a1', {}, 'other');
          assert.equal(await repo.insertRunning(running('a1', 'call-1')), true);
          assert.equal(await repo.insertRunning(running('a1', 'call-1', { source: 'changed' })), false);
          assert.equal(await repo.insertRunning(running('a1', 'call-1', { tenant: 'other' })), true);
          assert.equal((await repo.listRunning('default', 'a1'))[0].source, '+390001');
          assert.equal((await repo.listRunning('other', 'a1')).length, 1);
        });
      });

      test('running transactions follow the account when its tag changes, and go away with it', async () => {
        const account = await tx((repo) => addAccount(repo, 'a1'));
        await tx((repo) => repo.insertRunning(running('a1', 'call-1')));
        await tx((repo) => repo.upsert('account', { id: account.id }, { account_tag: 'renamed' }));
        await tx(async (repo) => {
          assert.deepEqual(await repo.listRunning('default', 'a1'), []);
          const moved = await repo.listRunning('default', 'renamed');
          assert.deepEqual(moved, [running('renamed', 'call-1')]);
          assert.equal((await repo.findRunningByTransaction('default', 'call-1'))[0].account_tag, 'renamed');
        });
        await tx((repo) => repo.delete('account', { id: account.id }));
        await tx(async (repo) => {
          assert.deepEqual(await repo.findRunningByTransaction('default', 'call-1'), []);
          // A new account with the old tag starts without running transactions.
          await addAccount(repo, 'renamed');
          assert.deepEqual(await repo.listRunning('default', 'renamed'), []);
        });
      });
    });

    describe('balances', () => {
      test('addToBalance changes one account and reports whether it exists', async () => {
        await tx(async (repo) => {
          await addAccount(repo, 'a1', { balance: 100 });
          assert.equal(await repo.addToBalance('default', 'a1', -30), true);
          assert.equal(await repo.addToBalance('default', 'a1', 5), true);
          assert.equal(await repo.addToBalance('default', 'ghost', 5), false);
          assert.equal(await repo.addToBalance('other', 'a1', 5), false);
          assert.equal((await repo.get('account', { key: { tenant: 'default', account_tag: 'a1' } }))?.balance, 75);
        });
      });

      test('adjustBalances sets or increments the accounts matching the tag and overlapping tags', async () => {
        await tx(async (repo) => {
          await addAccount(repo, 'a1', { balance: 10, tags: ['gold', 'x'] });
          await addAccount(repo, 'a2', { balance: 20, tags: ['silver'] });
          await addAccount(repo, 'a3', { balance: 30, tags: null });
          await addAccount(repo, 'a1', { balance: 40, tags: ['gold'] }, 'other');
        });
        const balances = (): Promise<number[]> =>
          tx(async (repo) => (await repo.list('account', listQuery())).map((a) => a.balance));
        assert.equal(await tx((repo) => repo.adjustBalances('default', 'a1', null, 'increment', 5)), 1);
        assert.deepEqual(await balances(), [15, 20, 30, 40]);
        assert.equal(await tx((repo) => repo.adjustBalances('default', null, ['gold', 'silver'], 'set', 7)), 2);
        assert.deepEqual(await balances(), [7, 7, 30, 40]);
        assert.equal(await tx((repo) => repo.adjustBalances('default', 'a2', ['gold'], 'set', 1)), 0);
        assert.equal(await tx((repo) => repo.adjustBalances('default', 'a1', ['gold'], 'increment', -2)), 1);
        assert.deepEqual(await balances(), [5, 7, 30, 40]);
        assert.equal(await tx((repo) => repo.adjustBalances('default', null, [], 'increment', 100)), 3);
        assert.deepEqual(await balances(), [105, 107, 130, 40]);
        assert.equal(await tx((repo) => repo.adjustBalances('default', null, null, 'set', 0)), 3);
        assert.deepEqual(await balances(), [0, 0, 0, 40]);
        assert.equal(await tx((repo) => repo.adjustBalances('nobody', null, null, 'set', 0)), 0);
      });
    });

    describe('rates', () => {
      test('ratesVersion changes with every carrier, pricelist and rate write or delete of that tenant only', async () => {
        const version = (tenant: string): Promise<number> => tx((repo) => repo.ratesVersion(tenant));
        const seen: number[] = [await version('default')];
        const expectBump = async (): Promise<void> => {
          const now = await version('default');
          assert.ok(!seen.includes(now), `version ${now} was seen before (${seen.join(', ')})`);
          seen.push(now);
        };
        await tx((repo) => repo.upsert('carrier', { key: { tenant: 'default', carrier_tag: 'c1' } }, { host: 'h' }));
        await expectBump();
        await tx((repo) => repo.upsert('carrier', { key: { tenant: 'default', carrier_tag: 'c1' } }, { port: 5060 }));
        await expectBump();
        await tx((repo) => repo.upsert('pricelist', { key: { tenant: 'default', pricelist_tag: 'p1' } }, { name: 'P' }));
        await expectBump();
        const rateKey = { tenant: 'default', pricelist_tag: 'p1', carrier_tag: 'c1', prefix: '39' };
        await tx((repo) => repo.upsert('pricelist_rate', { key: rateKey }, { rate: 5 }));
        await expectBump();
        await tx((repo) => repo.upsert('pricelist_rate', { key: rateKey }, { rate: 6 }));
        await expectBump();
        const otherBefore = await version('other');
        await tx((repo) => repo.delete('pricelist_rate', { key: rateKey }));
        await expectBump();
        await tx((repo) => repo.delete('pricelist', { key: { tenant: 'default', pricelist_tag: 'p1' } }));
        await expectBump();
        assert.equal(await version('other'), otherBefore);

        const last = seen[seen.length - 1];
        await tx(async (repo) => {
          await addAccount(repo, 'a1');
          await repo.upsert('customer', { key: { tenant: 'default', customer_tag: 'cu' } }, {});
        });
        assert.equal(await version('default'), last);

        // Moving a carrier to another tenant changes both tenants' rates.
        await tx((repo) => repo.upsert('carrier', { key: { tenant: 'default', carrier_tag: 'c1' } }, { tenant: 'other' }));
        await expectBump();
        assert.notEqual(await version('other'), otherBefore);

        // A failed (rolled back) write leaves the version as it was.
        const beforeRollback = await version('default');
        await assert.rejects(
          tx(async (repo) => {
            await repo.upsert('carrier', { key: { tenant: 'default', carrier_tag: 'c9' } }, {});
            throw new Error('abort');
          }),
        );
        assert.equal(await version('default'), beforeRollback);
      });

      test('loadRates returns every rate of the tenant in natural order', async () => {
        await tx(async (repo) => {
          for (const prefix of ['39', '1', '3906']) {
            await repo.upsert('pricelist_rate', { key: { tenant: 'default', pricelist_tag: 'p1', carrier_tag: 'c1', prefix } }, { rate: 1, active: true });
          }
          await repo.upsert('pricelist_rate', { key: { tenant: 'other', pricelist_tag: 'p1', carrier_tag: 'c1', prefix: '44' } }, {});
        });
        const rates = await tx((repo) => repo.loadRates('default'));
        assert.deepEqual(rates.map((r) => r.prefix), ['39', '1', '3906']);
        assert.equal(rates[0].active, true);
        assert.equal(rates[0].datetime_start, null);
        assert.deepEqual(await tx((repo) => repo.loadRates('nobody')), []);
      });
    });

    describe('operation outcomes', () => {
      test('an outcome is remembered per (tenant, transaction, account) and can be replaced', async () => {
        await tx(async (repo) => {
          assert.equal(await repo.getOutcome('default', 'call-1', 'a1'), null);
          await repo.putOutcome({ tenant: 'default', transaction_tag: 'call-1', account_tag: 'a1', outcome: 'ended', at: 123 });
        });
        await tx(async (repo) => {
          assert.deepEqual(await repo.getOutcome('default', 'call-1', 'a1'), {
            tenant: 'default',
            transaction_tag: 'call-1',
            account_tag: 'a1',
            outcome: 'ended',
            at: 123,
          });
          assert.equal(await repo.getOutcome('default', 'call-1', 'a2'), null);
          assert.equal(await repo.getOutcome('other', 'call-1', 'a1'), null);
          await repo.putOutcome({ tenant: 'default', transaction_tag: 'call-1', account_tag: 'a1', outcome: 'rolled_back', at: 456 });
          assert.equal((await repo.getOutcome('default', 'call-1', 'a1'))?.outcome, 'rolled_back');
        });
      });
    });

    describe('transactions', () => {
      test('a transaction that throws keeps nothing it wrote and rethrows the error', async () => {
        await tx((repo) => addAccount(repo, 'a1', { balance: 100 }));
        const failure = new Error('boom');
        await assert.rejects(
          tx(async (repo) => {
            await repo.addToBalance('default', 'a1', -50);
            await addAccount(repo, 'a2');
            await repo.insertRunning(running('a1', 'call-1'));
            await repo.putOutcome({ tenant: 'default', transaction_tag: 'call-1', account_tag: 'a1', outcome: 'ended', at: 1 });
            await delay(1);
            throw failure;
          }),
          (error: unknown) => error === failure,
        );
        await tx(async (repo) => {
          assert.equal((await repo.get('account', { key: { tenant: 'default', account_tag: 'a1' } }))?.balance, 100);
          assert.equal(await repo.get('account', { key: { tenant: 'default', account_tag: 'a2' } }), null);
          assert.deepEqual(await repo.listRunning('default', 'a1'), []);
          assert.equal(await repo.getOutcome('default', 'call-1', 'a1'), null);
        });
      });

      test('the result of the work is returned after commit', async () => {
        const result = await tx(async (repo) => (await addAccount(repo, 'a1')).account_tag);
        assert.equal(result, 'a1');
      });

      test('concurrent transactions never interleave: no lost update across awaits', async () => {
        await tx((repo) => addAccount(repo, 'a1', { balance: 0 }));
        const increments = 100;
        const order: string[] = [];
        await Promise.all(
          Array.from({ length: increments }, (_, i) =>
            tx(async (repo) => {
              order.push(`start ${i}`);
              const account = await repo.get('account', { key: { tenant: 'default', account_tag: 'a1' } });
              await delay(0);
              await repo.upsert('account', { key: { tenant: 'default', account_tag: 'a1' } }, { balance: (account?.balance ?? 0) + 1 });
              order.push(`end ${i}`);
            }),
          ),
        );
        const account = await tx((repo) => repo.get('account', { key: { tenant: 'default', account_tag: 'a1' } }));
        assert.equal(account?.balance, increments);
        for (let i = 0; i < increments; i++) {
          assert.deepEqual(order.slice(2 * i, 2 * i + 2), [`start ${i}`, `end ${i}`]);
        }
      });

      test('among concurrent transactions, those that throw keep nothing and the others keep everything', async () => {
        const results = await Promise.allSettled(
          Array.from({ length: 12 }, (_, i) =>
            tx(async (repo) => {
              await addAccount(repo, `a${i}`, { balance: i });
              await repo.putOutcome({ tenant: 'default', transaction_tag: `call-${i}`, account_tag: `a${i}`, outcome: 'recorded', at: i });
              if (i % 3 === 1) throw new Error(`fail ${i}`);
              // A duplicate key caught by the work itself does not spoil its transaction.
              await repo.upsert('account', { id: `dup-${i}` }, { tenant: 'default', account_tag: `a${i}`, type: 'PREPAID' }).catch(() => undefined);
              return i;
            }),
          ),
        );
        const kept = Array.from({ length: 12 }, (_, i) => i).filter((i) => i % 3 !== 1);
        assert.deepEqual(
          results.map((r) => r.status),
          Array.from({ length: 12 }, (_, i) => (i % 3 === 1 ? 'rejected' : 'fulfilled')),
        );
        await tx(async (repo) => {
          assert.deepEqual(tagsOf(await repo.list('account', listQuery())), kept.map((i) => `a${i}`));
          for (let i = 0; i < 12; i++) {
            assert.equal((await repo.getOutcome('default', `call-${i}`, `a${i}`)) !== null, i % 3 !== 1, `outcome of ${i}`);
          }
        });
      });

      test('a failed transaction does not block the ones queued after it', async () => {
        await tx((repo) => addAccount(repo, 'a1', { balance: 0 }));
        const results = await Promise.allSettled([
          tx((repo) => repo.addToBalance('default', 'a1', 1)),
          tx(async () => {
            throw new Error('fails');
          }),
          tx((repo) => repo.addToBalance('default', 'a1', 1)),
        ]);
        assert.deepEqual(
          results.map((r) => r.status),
          ['fulfilled', 'rejected', 'fulfilled'],
        );
        assert.equal((await tx((repo) => repo.get('account', { key: { tenant: 'default', account_tag: 'a1' } })))?.balance, 2);
      });

      test('a repository cannot be used after its transaction ended', async () => {
        const leaked = await tx(async (repo) => repo);
        await assert.rejects(leaked.count('account', []), /transaction ended/);
      });
    });
  });
}

function tagsOfRunning(list: readonly RunningTransaction[]): string[] {
  return list.map((rt) => rt.transaction_tag);
}

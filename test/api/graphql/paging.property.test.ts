// Property: any page of allCarriers is the matching slice of the whole list, sorted as Canyan
// sorts (nulls first ascending, last descending, ties in insertion order), and the count
// ignores paging.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startHarness, type Harness } from './harness.ts';

const PORTS: (number | null)[] = [5060, null, 5061, 5060, 7, null, 9000, 7, 5060, 1, null, 65535, 2, 5061, 7];

interface Row {
  carrier_tag: string;
  port: number | null;
  insertion: number;
}

const ROWS: Row[] = PORTS.map((port, insertion) => ({ carrier_tag: `c${String(insertion).padStart(2, '0')}`, port, insertion }));

function expectedOrder(field: 'port' | 'carrier_tag' | 'none', ascending: boolean): string[] {
  const rows = [...ROWS];
  if (field !== 'none') {
    rows.sort((a, b) => {
      const x = a[field];
      const y = b[field];
      if (x === y) return a.insertion - b.insertion;
      if (x === null) return ascending ? -1 : 1;
      if (y === null) return ascending ? 1 : -1;
      const order = x < y ? -1 : 1;
      return ascending ? order : -order;
    });
  }
  return rows.map((row) => row.carrier_tag);
}

describe('paging property', () => {
  let h: Harness;

  before(async () => {
    h = await startHarness();
    const mutations = ROWS.map(
      (row) => `${row.carrier_tag}: upsertCarrier(carrier_tag: "${row.carrier_tag}"${row.port === null ? '' : `, port: ${row.port}`}) { id }`,
    );
    await h.ok(`mutation { ${mutations.join('\n')} }`);
  });
  after(async () => h.close());

  test('every page is a slice of the sorted whole', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('port' as const, 'carrier_tag' as const, 'none' as const),
        fc.constantFrom('asc', 'ASC', 'desc', 'x'),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 8 }),
        async (field, sortOrder, page, perPage) => {
          const sortField = field === 'none' ? 'not_a_field' : field;
          const data = await h.ok(
            `{ allCarriers(page: ${page}, perPage: ${perPage}, sortField: "${sortField}", sortOrder: "${sortOrder}") { carrier_tag }
               _allCarriersMeta(page: ${page}, perPage: ${perPage}) { count } }`,
          );
          const whole = expectedOrder(field, sortOrder.toLowerCase() === 'asc');
          const expected = perPage === 0 ? whole : whole.slice(page * perPage, page * perPage + perPage);
          assert.deepEqual(
            (data.allCarriers as { carrier_tag: string }[]).map((c) => c.carrier_tag),
            expected,
          );
          assert.deepEqual(data._allCarriersMeta, { count: ROWS.length });
        },
      ),
      { numRuns: 60, seed: 20190205 },
    );
  });
});

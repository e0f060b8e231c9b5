// Property-based test: random interleavings of concurrent operations on shared accounts
// (repeats included) keep the books exact (SQLite, one engine; the property is in interleavings.ts).
import { test } from 'node:test';
import fc from 'fast-check';
import { assertInterleavingKeepsBooks, operations, seedAccounts } from './interleavings.ts';
import { openEngineFixture } from './support.ts';

test('concurrent interleavings keep balances, running transactions and repeats exact', { timeout: 120_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(operations(1), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 8 }), async (batches) => {
      const f = await openEngineFixture();
      try {
        await seedAccounts((tag, fields) => f.account(tag, fields));
        await assertInterleavingKeepsBooks({ engines: [f.engine], read: (work) => f.write(work) }, batches);
      } finally {
        await f.close();
      }
    }),
    { numRuns: 25, seed: 20191001, endOnFailure: true },
  );
});

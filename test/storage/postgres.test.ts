import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { skipUnlessServices } from '../support/services.ts';
import { defineStorageContract } from './contract.ts';
import { dropSchema, openTestStorage, uniqueSchemaName } from './postgres-support.ts';

const skip = await skipUnlessServices(['postgresql']);

if (skip === false) {
  // One connection: transactions of one storage then run one at a time, in call order, which
  // the contract's interleaving tests observe from inside the work functions.
  defineStorageContract('postgres', async () => {
    const schema = uniqueSchemaName('contract');
    const storage = await openTestStorage(schema);
    return {
      storage,
      cleanup: async () => {
        await storage.close();
        await dropSchema(schema);
      },
    };
  });
} else {
  describe('storage contract: postgres', () => {
    test('needs PostgreSQL', { skip }, () => assert.fail('skipped'));
  });
}

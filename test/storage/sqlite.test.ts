import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openSqliteStorage } from '../../src/storage/sqlite/index.ts';
import { defineStorageContract } from './contract.ts';

defineStorageContract('sqlite (file)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rating-sqlite-'));
  const storage = await openSqliteStorage({ path: join(dir, 'rating.db') });
  return {
    storage,
    cleanup: async () => {
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

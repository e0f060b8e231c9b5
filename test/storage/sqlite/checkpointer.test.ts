import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openSqliteStorage } from '../../../src/storage/sqlite/index.ts';
import type { Storage } from '../../../src/storage/storage.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sqlite-checkpoint-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeAccounts(storage: Storage, count: number): Promise<void> {
  await storage.transaction(async (repo) => {
    for (let i = 0; i < count; i++) {
      await repo.upsert('account', { key: { tenant: 'default', account_tag: `A${i}` } }, { type: 'PREPAID', balance: i, name: 'x'.repeat(200) });
    }
  });
}

/** Size of the main database file, which only checkpoints write to (commits go to the log). */
function databaseBytes(path: string): number {
  return statSync(path).size;
}

async function waitFor(condition: () => boolean, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(10)) if (condition()) return true;
  return condition();
}

test('a worker thread copies committed pages into the database file, with no commit of the writer crossing a threshold', async () => {
  const path = join(dir, 'background.db');
  const storage = await openSqliteStorage({ path });
  try {
    await storage.migrate();
    await sleep(150); // let the worker copy the schema, so the growth below is the accounts'
    const before = databaseBytes(path);
    await writeAccounts(storage, 500);
    assert.ok(await waitFor(() => databaseBytes(path) > before + 50_000, 3000), 'the database file should grow without a checkpoint of ours');
    // The data is the same whichever file it is read from.
    assert.equal(await storage.transaction((repo) => repo.count('account', [])), 500);
  } finally {
    await storage.close();
  }
  assert.equal(existsSync(`${path}-wal`), false, 'closing the last connection checkpoints and removes the log');
  const reopened = await openSqliteStorage({ path });
  try {
    assert.equal(await reopened.transaction((repo) => repo.count('account', [])), 500);
  } finally {
    await reopened.close();
  }
});

test('without background checkpoints, pages stay in the log until the writer checkpoints', async () => {
  const path = join(dir, 'foreground.db');
  const storage = await openSqliteStorage({ path, backgroundCheckpoints: false });
  try {
    await storage.migrate();
    const before = databaseBytes(path);
    await writeAccounts(storage, 500);
    await sleep(200);
    assert.ok(databaseBytes(path) < before + 50_000);
  } finally {
    await storage.close();
  }
});

test('in-memory databases run without a worker', async () => {
  const storage = await openSqliteStorage({ path: ':memory:' });
  await storage.migrate();
  await writeAccounts(storage, 3);
  assert.equal(await storage.transaction((repo) => repo.count('account', [])), 3);
  await storage.close();
});

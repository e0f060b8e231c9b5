// Child process of postgres-rates-cache.test.ts: closes a storage at a moment when the rates
// listener's (unref'd) connection is the only thing left to keep the process alive, and prints
// whether close() settled before the process exited. Argument: the schema to use.
import { setTimeout as sleep } from 'node:timers/promises';
import { openTestStorage, withAdminClient } from '../postgres-support.ts';

const schema = process.argv[2];
if (schema === undefined) throw new Error('usage: close-with-nothing-else-pending.ts <schema>');
const storage = await openTestStorage(schema);
await storage.migrate();
// A migration that fails destroys the pool's only connection...
await withAdminClient((client) => client.query(`ALTER TABLE "${schema}".transactions DROP COLUMN end_reason`));
await storage.migrate().catch(() => undefined);
// ...and once its socket has closed, the listener's connection is all the process has.
await sleep(300);
process.on('exit', () => console.log('exit'));
await storage.close();
console.log('closed');

// Copies the write-ahead log back into the database file on a worker thread.
//
// SQLite's automatic checkpoint runs inside the COMMIT that crosses the WAL size threshold, on
// the connection that committed: here the event loop thread. It copies every page written
// since the last one and waits for two fsyncs, and it took about 60% of all COMMIT time in the
// engine benchmark. A second connection on a worker thread runs PASSIVE checkpoints (which
// never block writers) a few times a second instead, so the event loop only keeps a rare,
// mostly already-copied checkpoint as a backstop (see BACKSTOP_WAL_FRAMES in index.ts).
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

export interface BackgroundCheckpointer {
  /** Stops the worker and closes its connection; resolves once it has exited. */
  stop(): Promise<void>;
}

// Plain CommonJS evaluated by the worker, so that it needs no TypeScript loader.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 0');
db.pragma('synchronous = NORMAL');
const timer = setInterval(() => {
  // A checkpoint that cannot run now (another checkpointer, a lock) is simply retried next
  // time; the writer's own backstop checkpoint keeps the log bounded meanwhile.
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
}, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export function startBackgroundCheckpointer(options: { path: string; intervalMs: number }): BackgroundCheckpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, path: options.path, intervalMs: options.intervalMs } });
  // Never keeps the process alive on its own: a storage that is not closed must not hang it.
  worker.unref();
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    worker.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  // A failing worker only means checkpoints fall back to the writer's backstop.
  worker.on('error', () => undefined);
  return {
    async stop(): Promise<void> {
      if (exited) return;
      worker.postMessage('stop');
      const timeout = setTimeout(() => void worker.terminate(), 2000);
      await exit;
      clearTimeout(timeout);
    },
  };
}

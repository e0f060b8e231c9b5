// Shared by the tests that run the real sipp: finding it, a free UDP port, and a sipp UAS.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';

function findSipp(): string | null {
  for (const folder of (process.env['PATH'] ?? '').split(delimiter)) {
    if (folder === '') continue;
    const candidate = join(folder, 'sipp');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return null;
}

export const SIPP_PATH = findSipp();

/**
 * node:test `skip` option for tests that need sipp: skipped with a message naming sipp when it is
 * missing, except on CI (CI=true), where the test runs and fails on the missing program.
 */
export const skipWithoutSipp: string | false =
  SIPP_PATH === null && process.env['CI'] !== 'true'
    ? 'sipp is not on PATH (install sip-tester); set CI=true to make this a failure'
    : false;

/** The sipp program for tests: on CI without sipp this name makes the test fail loudly. */
export const SIPP = SIPP_PATH ?? 'sipp';

export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

export interface SippUas {
  port: number;
  process: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/** sipp's built-in UAS on 127.0.0.1, answering `calls` calls then exiting. */
export async function startSippUas(calls: number): Promise<SippUas> {
  const port = await freeUdpPort();
  const child = spawn(SIPP, ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(port), '-m', String(calls)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stdin.on('error', () => undefined);
  child.on('error', () => undefined);
  return {
    port,
    process: child,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const closed = once(child, 'close');
        child.kill('SIGKILL');
        await closed;
      }
      child.stdin.destroy();
    },
  };
}

// Real processes for the end-to-end tests: our system (through its command line), Kamailio and
// sipp carriers, all on loopback, every one of them stopped when the test ends, also on failure.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '..', '..');

/** Names of the required programs that are not on the PATH. */
export function missingPrograms(names: readonly string[]): string[] {
  return names.filter((name) => spawnSync('sh', ['-c', `command -v ${name}`]).status !== 0);
}

/**
 * node:test `skip` value for tests that need external programs: outside CI a missing program
 * skips with a message naming it; in CI nothing is skipped and the test itself fails.
 */
export function skipUnlessAvailable(names: readonly string[]): string | false {
  const missing = missingPrograms(names);
  if (missing.length === 0 || process.env.CI === 'true') return false;
  return `not installed: ${missing.join(', ')} (apt-get install kamailio sip-tester)`;
}

export function assertAvailable(names: readonly string[]): void {
  const missing = missingPrograms(names);
  if (missing.length > 0) throw new Error(`required programs are missing: ${missing.join(', ')} (apt-get install kamailio sip-tester)`);
}

/** A port free for both TCP and UDP on 127.0.0.1 (HEP listens on both). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((done, fail) => {
      const server = createServer();
      server.once('error', fail);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => done(typeof address === 'object' && address !== null ? address.port : 0));
      });
    });
    const udpFree = await new Promise<boolean>((done) => {
      const socket = createSocket('udp4');
      socket.once('error', () => done(false));
      socket.bind(port, '127.0.0.1', () => socket.close(() => done(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no free port found');
}

/** Resolves once something has bound the UDP port on 127.0.0.1. */
export async function waitForUdpPort(port: number, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode} before binding UDP port ${port}`);
    const bound = await new Promise<boolean>((done) => {
      const socket = createSocket('udp4');
      socket.once('error', () => done(true));
      socket.bind(port, '127.0.0.1', () => socket.close(() => done(false)));
    });
    if (bound) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing bound UDP port ${port} within ${timeoutMs} ms`);
}

export async function waitForHttp(url: string, expectedStatus: number, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode} before ${url} answered`);
    try {
      const response = await fetch(url);
      if (response.status === expectedStatus) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer ${expectedStatus} within ${timeoutMs} ms`);
}

/** Keeps track of started processes and temporary folders, and stops/removes them all. */
export class ProcessGroup {
  private readonly children: { name: string; child: ChildProcess; output: string[] }[] = [];
  private readonly folders: string[] = [];

  tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.folders.push(dir);
    return dir;
  }

  start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    const keep = (chunk: Buffer): void => {
      output.push(chunk.toString('utf8'));
      if (output.length > 400) output.splice(0, output.length - 400);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.children.push({ name, child, output });
    return child;
  }

  /** The last output of a process, for failure messages. */
  outputOf(name: string): string {
    return this.children
      .filter((entry) => entry.name === name)
      .map((entry) => entry.output.join(''))
      .join('\n')
      .slice(-6000);
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      this.children.map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((done) => child.once('exit', () => done()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
        await exited;
        clearTimeout(timer);
      }),
    );
    this.children.length = 0;
    for (const dir of this.folders.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

export interface SystemPorts {
  api: number;
  hep: number;
}

/** Starts `canyan-rating start` on loopback with a fresh SQLite database. */
export async function startRatingSystem(group: ProcessGroup, extraEnv: Record<string, string> = {}): Promise<{ apiUrl: string; ports: SystemPorts }> {
  const dir = group.tempDir('canyan-e2e-db-');
  const ports = { api: await freePort(), hep: await freePort() };
  const env = {
    ...process.env,
    RATING_API_LISTEN: `127.0.0.1:${ports.api}`,
    RATING_DATABASE_URL: `sqlite:${join(dir, 'rating.db')}`,
    RATING_STATE_FILE: join(dir, 'agent-calls.json'),
    RATING_HEP_LISTEN_UDP: `127.0.0.1:${ports.hep}`,
    RATING_HEP_LISTEN_TCP: `127.0.0.1:${ports.hep}`,
    RATING_LOG_LEVEL: 'info',
    ...extraEnv,
  };
  const child = group.start('canyan-rating', process.execPath, [join(REPO, 'bin', 'canyan-rating.js'), 'start'], env);
  const apiUrl = `http://127.0.0.1:${ports.api}`;
  await waitForHttp(`${apiUrl}/status`, 204, 60_000, child);
  return { apiUrl, ports };
}

/** Starts a sipp carrier (UAS) with one of the scenarios in test/integrations/carriers. */
export async function startCarrier(group: ProcessGroup, scenario: string, port: number): Promise<void> {
  const child = group.start('carrier', 'sipp', ['-sf', join(REPO, 'test', 'integrations', 'carriers', scenario), '-i', '127.0.0.1', '-p', String(port), '-nostdin', '-m', '1000']);
  await waitForUdpPort(port, 10_000, child);
}

/**
 * Starts Kamailio with our integration configuration (integrations/kamailio) and a local file made
 * from the UDP or TCP variant, pointed at the agent's HEP port and at the carrier.
 */
export async function startKamailio(
  group: ProcessGroup,
  options: { variant: 'udp' | 'tcp'; sipPort: number; hepPort: number; carrierPort: number },
): Promise<void> {
  const dir = group.tempDir('canyan-e2e-kamailio-');
  const source = join(REPO, 'integrations', 'kamailio');
  copyFileSync(join(source, 'kamailio.cfg'), join(dir, 'kamailio.cfg'));
  writeFileSync(join(dir, 'dispatcher.list'), `1 sip:127.0.0.1:${options.carrierPort} 0 0\n`);
  const transport = options.variant === 'tcp' ? ';transport=tcp' : '';
  const local = [
    `# generated by the end-to-end test from kamailio-local.cfg.${options.variant}`,
    '#!define WITH_SIPTRACE 1',
    '#!define HEP_CAPTURE_ID 1',
    `#!define RATING_AGENT_HEP "sip:127.0.0.1:${options.hepPort}${transport}"`,
    `#!define DISPATCHER_LIST "${join(dir, 'dispatcher.list')}"`,
    `listen=udp:127.0.0.1:${options.sipPort}`,
    ...(options.variant === 'tcp' ? [`listen=tcp:127.0.0.1:${options.sipPort}`] : []),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'kamailio-local.cfg'), local);
  const check = spawnSync('kamailio', ['-c', '-f', join(dir, 'kamailio.cfg')], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`kamailio rejected the configuration:\n${check.stderr}`);
  const child = group.start('kamailio', 'kamailio', ['-DD', '-E', '-f', join(dir, 'kamailio.cfg'), '-w', dir, '-P', join(dir, 'kamailio.pid'), '-m', '64', '-M', '8']);
  await waitForUdpPort(options.sipPort, 15_000, child);
}

// The command line as a real child process: `node bin/canyan-rating.js ...`.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = join(process.cwd(), 'bin', 'canyan-rating.js');

async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

interface Child {
  process: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function launch(args: string[], env: Record<string, string>): Child {
  let stdout = '';
  let stderr = '';
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: process.cwd(),
    // No saved call state in the checkout: the agent's state file goes where the test says, or nowhere.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', RATING_STATE_FILE: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { process: child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Runs to completion, killing the child if it outlives `ms`. */
async function runToExit(args: string[], env: Record<string, string>, ms = 45_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = launch(args, env);
  const timer = setTimeout(() => child.process.kill('SIGKILL'), ms);
  const code = await child.exited;
  clearTimeout(timer);
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}

async function waitForStatus(baseUrl: string, child: Child, ms = 45_000): Promise<void> {
  const deadline = Date.now() + ms;
  let exitCode: number | null | undefined;
  void child.exited.then((code) => (exitCode = code));
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`exited early (${exitCode}): ${child.stderr()} ${child.stdout()}`);
    try {
      const response = await fetch(`${baseUrl}/status`);
      if (response.status === 204) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no 204 from /status within ${ms} ms: ${child.stderr()} ${child.stdout()}`);
}

function logLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'canyan-cli-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('canyan-rating start', () => {
  test('serves /status and GraphQL, runs the HEP agent, stops cleanly on SIGTERM', { timeout: 120_000 }, async () => {
    const apiPort = await freeTcpPort();
    const hepTcpPort = await freeTcpPort();
    const hepUdpPort = await freeUdpPort();
    const database = join(dir, 'start', 'rating.db');
    const child = launch(['start'], {
      RATING_API_LISTEN: `127.0.0.1:${apiPort}`,
      RATING_DATABASE_URL: `sqlite:${database}`,
      RATING_HEP_LISTEN_UDP: `127.0.0.1:${hepUdpPort}`,
      RATING_HEP_LISTEN_TCP: `127.0.0.1:${hepTcpPort}`,
    });
    try {
      const baseUrl = `http://127.0.0.1:${apiPort}`;
      await waitForStatus(baseUrl, child);

      const graphql = await fetch(`${baseUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ version }' }),
      });
      assert.equal(graphql.status, 200);
      assert.deepEqual(await graphql.json(), { data: { version: 1 } });

      const agent = await fetch(`${baseUrl}/status/agent`);
      assert.equal(agent.status, 200);
      assert.equal(typeof (await agent.json()), 'object');

      const rest = await fetch(`${baseUrl}/v1/authorization`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ transaction_tag: '1' }),
      });
      assert.equal(rest.status, 200);
    } finally {
      child.process.kill('SIGTERM');
    }
    const timer = setTimeout(() => child.process.kill('SIGKILL'), 15_000);
    const code = await child.exited;
    clearTimeout(timer);
    assert.equal(code, 0, child.stderr());
    assert.ok(existsSync(database), 'the database file exists');

    const lines = logLines(child.stdout());
    const messages = lines.map((line) => String(line.msg));
    assert.ok(messages.some((msg) => msg.includes(`http://127.0.0.1:${apiPort}`)), messages.join('\n'));
    assert.ok(messages.some((msg) => msg.includes('HEP agent listening') && msg.includes(String(hepUdpPort)) && msg.includes(String(hepTcpPort))), messages.join('\n'));
    assert.ok(lines.some((line) => line.database_url === `sqlite:${database}`));
    assert.ok(messages.includes('stopped'));
  });
});

describe('canyan-rating configuration and start-up errors', () => {
  test('a bad environment value exits 2 with one line naming the key', { timeout: 60_000 }, async () => {
    const result = await runToExit(['start'], { RATING_LOG_LEVEL: 'loud', RATING_DATABASE_URL: `sqlite:${join(dir, 'never.db')}` });
    assert.equal(result.code, 2);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0], /^canyan-rating: invalid configuration: log_level \(from environment variable RATING_LOG_LEVEL\)/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
    assert.ok(!existsSync(join(dir, 'never.db')));
  });

  test('an unknown key in the YAML file exits 2 naming the key', { timeout: 60_000 }, async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'api_listen: 127.0.0.1:0\nbogus_key: 1\n');
    const result = await runToExit(['start', '--config', file], {});
    assert.equal(result.code, 2);
    assert.match(result.stderr, /bogus_key \(from config file .*bad\.yaml\): unknown configuration key/);
  });

  test('a bad flag value exits 2', { timeout: 60_000 }, async () => {
    const result = await runToExit(['agent', '--hep-listen-udp', 'nowhere'], {});
    assert.equal(result.code, 2);
    assert.match(result.stderr, /hep_listen_udp \(from flag --hep-listen-udp\): must be host:port/);
  });

  test('an unknown option exits 2', { timeout: 60_000 }, async () => {
    const result = await runToExit(['start', '--no-such-option'], {});
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown option '--no-such-option'/);
  });

  test('the agent command without any HEP listener exits 2', { timeout: 60_000 }, async () => {
    const result = await runToExit(['agent', '--hep-listen-udp', '', '--hep-listen-tcp', ''], {
      RATING_DATABASE_URL: `sqlite:${join(dir, 'agent', 'rating.db')}`,
    });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /hep_listen_udp and hep_listen_tcp are both empty/);
  });

  test('a port already in use exits 1 with one clear line', { timeout: 60_000 }, async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    assert.ok(address !== null && typeof address === 'object');
    try {
      const result = await runToExit(['start'], {
        RATING_API_LISTEN: `127.0.0.1:${address.port}`,
        RATING_DATABASE_URL: `sqlite:${join(dir, 'busy', 'rating.db')}`,
        RATING_HEP_LISTEN_UDP: '',
        RATING_HEP_LISTEN_TCP: '',
      });
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr.trim(), /^canyan-rating: start-up failed: .*EADDRINUSE/);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  test('--help lists the commands and the configuration keys', { timeout: 60_000 }, async () => {
    const result = await runToExit(['--help'], {});
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /start/);
    assert.match(result.stdout, /agent/);
    for (const key of ['api_listen', 'database_url', 'RATING_API_LISTEN', 'RATING_AGENT_HEP_SIP_LOCAL_DOMAINS', 'call_max_duration']) {
      assert.ok(result.stdout.includes(key), key);
    }
    const startHelp = await runToExit(['start', '--help'], {});
    assert.equal(startHelp.code, 0);
    assert.match(startHelp.stdout, /--api-listen/);
    assert.match(startHelp.stdout, /--config <file>/);
  });
});

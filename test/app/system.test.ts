import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startSystem } from '../../src/app/system.ts';
import { ConfigError, loadConfig, type RatingConfig } from '../../src/config/config.ts';

const silent = pino({ level: 'silent' });

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'canyan-system-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function configFor(name: string, flags: Record<string, string>): RatingConfig {
  return loadConfig({
    flags: { database_url: `sqlite:${join(dir, name, 'rating.db')}`, api_listen: '127.0.0.1:0', state_file: join(dir, name, 'calls.json'), ...flags },
    env: {},
  });
}

async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

describe('startSystem', () => {
  test('api + agent: HTTP on a real port, HEP listeners bound, everything released on close', async () => {
    const config = configFor('both', { hep_listen_udp: '127.0.0.1:0', hep_listen_tcp: '127.0.0.1:0' });
    const system = await startSystem(config, { roles: { api: true, agent: true, engine: true }, logger: silent });
    try {
      assert.ok(system.apiAddress !== null);
      assert.equal(system.apiAddress.host, '127.0.0.1');
      assert.ok(system.apiAddress.port > 0);
      assert.ok(system.agent !== null);
      assert.ok(system.agent.udpAddress !== null && system.agent.udpAddress.port > 0);
      assert.ok(system.agent.tcpAddress !== null && system.agent.tcpAddress.port > 0);
      const base = `http://127.0.0.1:${system.apiAddress.port}`;
      assert.equal((await fetch(`${base}/status`)).status, 204);
      const agentStats = await fetch(`${base}/status/agent`);
      assert.equal(agentStats.status, 200);
      assert.deepEqual(await agentStats.json(), system.agent.stats());
      assert.ok(existsSync(join(dir, 'both', 'rating.db')));
    } finally {
      await system.close();
    }
    await system.close(); // idempotent

    // The ports are free again.
    const { port } = system.apiAddress;
    const reuse = createServer();
    await new Promise<void>((resolve, reject) => {
      reuse.once('error', reject);
      reuse.listen(port, '127.0.0.1', resolve);
    });
    await new Promise<void>((resolve) => reuse.close(() => resolve()));
    const udpPort = system.agent?.udpAddress?.port ?? 0;
    const udp = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(udpPort, '127.0.0.1', resolve);
    });
    await new Promise<void>((resolve) => udp.close(() => resolve()));
  });

  test('api only: no agent, /status/agent says so', async () => {
    const config = configFor('api', { hep_listen_udp: '127.0.0.1:0', hep_listen_tcp: '127.0.0.1:0' });
    const system = await startSystem(config, { roles: { api: true, agent: false, engine: false }, logger: silent });
    try {
      assert.equal(system.agent, null);
      assert.ok(system.apiAddress !== null);
      const response = await fetch(`http://127.0.0.1:${system.apiAddress.port}/status/agent`);
      assert.equal(response.status, 404);
    } finally {
      await system.close();
    }
  });

  test('agent only: a status-only HTTP server, no GraphQL', async () => {
    const config = configFor('agent', { hep_listen_udp: '127.0.0.1:0', hep_listen_tcp: '' });
    const system = await startSystem(config, { roles: { api: false, agent: true, engine: false }, logger: silent });
    try {
      assert.ok(system.agent !== null);
      assert.equal(system.agent.tcpAddress, null);
      assert.ok(system.agent.udpAddress !== null);
      assert.ok(system.apiAddress !== null);
      const base = `http://127.0.0.1:${system.apiAddress.port}`;
      assert.equal((await fetch(`${base}/status`)).status, 204);
      assert.equal((await fetch(`${base}/status/agent`)).status, 200);
      const graphql = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
      assert.equal(graphql.status, 404);
      assert.match(((await graphql.json()) as { detail: string }).detail, /agent role; GraphQL and \/v1\/\* are served by the api role/);
      const engine = await fetch(`${base}/status/engine`);
      assert.equal(engine.status, 404);
    } finally {
      await system.close();
    }
  });

  test('the engine role with bus_url=local is a ConfigError naming bus_url', async () => {
    const config = configFor('engine-local', {});
    await assert.rejects(startSystem(config, { roles: { api: false, agent: false, engine: true }, logger: silent }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /bus_url: the engine role takes call events from a message bus/);
      return true;
    });
  });

  test('start with both HEP listeners disabled runs the API alone', async () => {
    const config = configFor('nohep', { hep_listen_udp: '', hep_listen_tcp: '' });
    const system = await startSystem(config, { roles: { api: true, agent: true, engine: true }, logger: silent });
    try {
      assert.equal(system.agent, null);
      assert.ok(system.apiAddress !== null);
    } finally {
      await system.close();
    }
  });

  test('agent only with both HEP listeners disabled is a ConfigError', async () => {
    const config = configFor('noagent', { hep_listen_udp: '', hep_listen_tcp: '' });
    await assert.rejects(startSystem(config, { roles: { api: false, agent: true, engine: false }, logger: silent }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /hep_listen_udp and hep_listen_tcp are both empty/);
      return true;
    });
  });

  test('a failed start releases what was already started', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    assert.ok(address !== null && typeof address === 'object');
    try {
      const hepPort = await freeUdpPort();
      const config = configFor('busy', {
        api_listen: `127.0.0.1:${address.port}`,
        hep_listen_udp: `127.0.0.1:${hepPort}`,
        hep_listen_tcp: '',
      });
      await assert.rejects(startSystem(config, { roles: { api: true, agent: true, engine: true }, logger: silent }), /EADDRINUSE/);
      // The HEP agent of the failed start let go of its port: a start on a free API port binds it again.
      const retry = await startSystem({ ...config, api_listen: '127.0.0.1:0' }, { roles: { api: true, agent: true, engine: true }, logger: silent });
      await retry.close();
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});

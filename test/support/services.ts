// The real servers tests use (PostgreSQL, Redis, RabbitMQ on loopback). Outside CI a test whose
// server is not reachable skips with a message naming it; in CI (CI=true) nothing is skipped, so
// the test itself fails on the missing server.
import { connect } from 'node:net';

export const SERVICES = {
  postgresql: { host: '127.0.0.1', port: 5432, url: 'postgres://postgres@127.0.0.1:5432/postgres' },
  redis: { host: '127.0.0.1', port: 6379, url: 'redis://127.0.0.1:6379' },
  rabbitmq: { host: '127.0.0.1', port: 5672, url: 'amqp://guest:guest@127.0.0.1:5672' },
} as const;

export type ServiceName = keyof typeof SERVICES;

function reachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** node:test `skip` value: false when every service answers, or in CI; else why the test skips. */
export async function skipUnlessServices(names: readonly ServiceName[]): Promise<string | false> {
  if (process.env.CI === 'true') return false;
  const missing: string[] = [];
  for (const name of names) {
    const { host, port } = SERVICES[name];
    if (!(await reachable(host, port))) missing.push(`${name} (${host}:${port})`);
  }
  return missing.length === 0 ? false : `not reachable: ${missing.join(', ')}`;
}

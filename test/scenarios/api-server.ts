// A small real HTTP server standing in for the rating API in scenario tests.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { once } from 'node:events';

export interface RecordedRequest {
  method: string;
  url: string;
  body: unknown;
}

export interface Reply {
  status?: number;
  body: unknown;
}

export interface FakeApi {
  url: string;
  requests: RecordedRequest[];
  close: () => Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

export async function startFakeApi(answer: (request: RecordedRequest) => Reply): Promise<FakeApi> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((request, response) => {
    void readBody(request).then((body) => {
      const recorded = { method: request.method ?? '', url: request.url ?? '', body };
      requests.push(recorded);
      const reply = answer(recorded);
      const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
      response.writeHead(reply.status ?? 200, { 'content-type': 'application/json' });
      response.end(text);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

// Listen addresses as written in the configuration: "host:port", ":port" (every IPv4 interface),
// "[v6]:port", or "" (listener disabled), as the original agent's `listen_udp`/`listen_tcp`.

export interface ListenAddress {
  host: string;
  port: number;
}

export class ListenAddressError extends Error {
  constructor(text: string, why: string) {
    super(`invalid listen address ${JSON.stringify(text)}: ${why}`);
    this.name = 'ListenAddressError';
  }
}

/** Parses a listen address; null when the text is empty (the listener is disabled). */
export function parseListenAddress(text: string): ListenAddress | null {
  const trimmed = text.trim();
  if (trimmed === '') return null;
  let host: string;
  let portText: string;
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(trimmed);
  if (bracketed !== null) {
    host = bracketed[1];
    portText = bracketed[2];
  } else if (/^\d+$/.test(trimmed)) {
    host = '';
    portText = trimmed;
  } else {
    const colon = trimmed.lastIndexOf(':');
    if (colon < 0) throw new ListenAddressError(text, 'expected host:port');
    host = trimmed.slice(0, colon);
    portText = trimmed.slice(colon + 1);
    if (host.includes(':')) throw new ListenAddressError(text, 'write IPv6 addresses as [address]:port');
  }
  if (!/^\d+$/.test(portText)) throw new ListenAddressError(text, 'the port is not a number');
  const port = Number(portText);
  if (port > 65535) throw new ListenAddressError(text, 'the port is out of range');
  return { host: host === '' ? '0.0.0.0' : host, port };
}

/** "host:port", with brackets around IPv6 hosts. */
export function formatListenAddress(address: ListenAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

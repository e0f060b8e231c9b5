// Listen addresses are written `host:port` (IPv6 hosts in brackets: `[::1]:8000`). An empty host
// (`:9060`, the original HEP agent's default form) means every interface.

export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses `host:port`, or returns the reason it is not one. */
export function parseListenAddress(text: string): ListenAddress | { error: string } {
  const trimmed = text.trim();
  const colon = trimmed.lastIndexOf(':');
  if (colon < 0) return { error: `must be host:port, got "${text}"` };
  let host = trimmed.slice(0, colon);
  const portText = trimmed.slice(colon + 1);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  else if (host.includes(':')) return { error: `IPv6 hosts must be in brackets, like [::1]:8000; got "${text}"` };
  if (host === '') host = '0.0.0.0';
  if (/\s/.test(host)) return { error: `host must not contain spaces, got "${text}"` };
  if (!/^\d{1,5}$/.test(portText)) return { error: `port must be a number from 0 to 65535, got "${text}"` };
  const port = Number(portText);
  if (port > 65535) return { error: `port must be a number from 0 to 65535, got "${text}"` };
  return { host, port };
}

/** The canonical text of an address, as the rest of the system expects it. */
export function formatListenAddress(address: ListenAddress): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${host}:${address.port}`;
}

/** For URLs and log lines: a wildcard host is reachable on loopback. */
export function connectableHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

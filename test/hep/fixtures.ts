// Shared helpers for the HEP tests: locating the capture fixtures and reading the expectations
// out of the decoded dumps that were produced when the captures were taken.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function sharedRoot(): string {
  if (existsSync('/work/shared/fixtures')) return '/work/shared';
  const here = dirname(fileURLToPath(import.meta.url));
  return join(here, '..', '..', '..', 'shared');
}

export const HEP_FIXTURES = join(sharedRoot(), 'fixtures', 'hep');
export const CANYAN_FIXTURES = join(sharedRoot(), 'fixtures', 'canyan');

export function readHepFixture(name: string): Buffer {
  return readFileSync(join(HEP_FIXTURES, name));
}

export function hepFixtureNames(filter: (name: string) => boolean): string[] {
  return readdirSync(HEP_FIXTURES).filter(filter).sort(naturalOrder);
}

/** Every single-datagram UDP capture (HEPv1, v2 and v3). */
export function udpFixtureNames(): string[] {
  return hepFixtureNames((name) => name.endsWith('.bin') && name.includes('-udp-'));
}

/** "kamailio-udp-tm-10.bin" sorts after "-9.bin". */
export function naturalOrder(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** What one message of a dump says the decoder must find. Unset fields are not in the dump. */
export interface ExpectedHep {
  /** Dump label, e.g. "kamailio-udp-1.bin" or "kamailio-tcp-stream.bin msg #2". */
  label: string;
  file: string;
  /** 0-based index of the message inside a TCP stream file; null for a datagram file. */
  messageIndex: number | null;
  /** Byte offset and length of the message inside a stream file, when the dump gives them. */
  offset?: number;
  length?: number;
  version?: 1 | 2 | 3;
  ipFamily?: 4 | 6;
  ipProtocol?: number;
  srcIp?: string;
  dstIp?: string;
  srcPort?: number;
  dstPort?: number;
  timestampMicros?: number;
  /** Time of day only (the OpenSIPS dump prints HH:MM:SS.ffffff). */
  timeOfDay?: string;
  payloadType?: number;
  captureId?: number;
  authKey?: string | null;
  correlationId?: string | null;
  payloadLength?: number;
  firstLine?: string;
  jsonWrapped?: boolean;
  noPayload?: boolean;
  /** Chunk types in wire order (vendor-0 only). */
  chunkTypes?: number[];
}

function unquote(text: string): string {
  const trimmed = text.trim();
  if (trimmed.startsWith("'") && trimmed.endsWith("'")) return trimmed.slice(1, -1);
  return trimmed;
}

function leadingInt(text: string): number {
  const value = Number.parseInt(text.trim(), 10);
  if (!Number.isFinite(value)) throw new Error(`dump value is not a number: ${text}`);
  return value;
}

function familyFromDump(text: string): 4 | 6 {
  return text.includes('AF_INET6') || leadingInt(text) === 10 ? 6 : 4;
}

/** Parses fixtures/hep/kamailio-decoded.txt (per-chunk lines for HEP3, key: value lines for v1/v2). */
export function parseKamailioDump(): ExpectedHep[] {
  const text = readFileSync(join(HEP_FIXTURES, 'kamailio-decoded.txt'), 'utf8');
  const result: ExpectedHep[] = [];
  let current: ExpectedHep | null = null;
  let seconds: number | null = null;
  let micros: number | null = null;
  const flush = (): void => {
    if (current === null) return;
    if (seconds !== null) current.timestampMicros = seconds * 1_000_000 + (micros ?? 0);
    result.push(current);
    current = null;
    seconds = null;
    micros = null;
  };
  for (const line of text.split('\n')) {
    const header = /^== (\S+\.bin)(?: msg #(\d+) @offset (\d+) \((\d+) bytes\))?/.exec(line);
    if (header) {
      flush();
      const messageIndex = header[2] === undefined ? null : Number(header[2]) - 1;
      current = {
        label: messageIndex === null ? header[1] : `${header[1]} msg #${header[2]}`,
        file: header[1],
        messageIndex,
        chunkTypes: [],
      };
      if (header[3] !== undefined) {
        current.offset = Number(header[3]);
        current.length = Number(header[4]);
      }
      continue;
    }
    if (current === null) continue;
    if (line.startsWith('#') || line.startsWith('conn\t') || /^\S/.test(line)) {
      flush();
      continue;
    }
    const firstLine = /^ {3}SIP first line: (.*)$/.exec(line);
    if (firstLine) {
      current.firstLine = firstLine[1];
      continue;
    }
    if (/^ {3}HEP3 total_length=/.test(line)) {
      current.version = 3;
      continue;
    }
    const chunk = /^ {3}- vendor=(\d+) type=0x([0-9a-f]{4}) (\S+)\s+len=(\d+)\s+(.*)$/.exec(line);
    if (chunk) {
      const [, vendor, typeHex, name, , value] = chunk;
      if (vendor === '0') current.chunkTypes?.push(Number.parseInt(typeHex, 16));
      switch (name) {
        case 'ip_family': current.ipFamily = familyFromDump(value); break;
        case 'ip_proto': current.ipProtocol = leadingInt(value); break;
        case 'ipv4_src': case 'ipv6_src': current.srcIp = value.trim(); break;
        case 'ipv4_dst': case 'ipv6_dst': current.dstIp = value.trim(); break;
        case 'src_port': current.srcPort = leadingInt(value); break;
        case 'dst_port': current.dstPort = leadingInt(value); break;
        case 'ts_sec': seconds = leadingInt(value); break;
        case 'ts_usec': micros = leadingInt(value); break;
        case 'proto_type': current.payloadType = leadingInt(value); break;
        case 'capture_id': current.captureId = leadingInt(value); break;
        case 'correlation_id': current.correlationId = unquote(value); break;
        case 'auth_key': current.authKey = unquote(value); break;
        case 'payload': current.payloadLength = leadingInt(value); break;
        default: break;
      }
      continue;
    }
    const field = /^ {3}([^:]+): ?(.*)$/.exec(line);
    if (field) {
      const [, key, value] = field;
      switch (key) {
        case 'version': current.version = leadingInt(value) === 1 ? 1 : 2; break;
        case 'family': current.ipFamily = familyFromDump(value); break;
        case 'ip_proto': current.ipProtocol = leadingInt(value); break;
        case 'src_port(BE)': current.srcPort = leadingInt(value); break;
        case 'dst_port(BE)': current.dstPort = leadingInt(value); break;
        case 'src_ip': current.srcIp = value.trim(); break;
        case 'dst_ip': current.dstIp = value.trim(); break;
        case 'ts_sec(LE)': seconds = leadingInt(value); break;
        case 'ts_usec(LE)': micros = leadingInt(value); break;
        case 'capture_id(LE u16)': current.captureId = leadingInt(value); break;
        case 'payload_len': current.payloadLength = leadingInt(value); break;
        default: break;
      }
    }
  }
  flush();
  return result;
}

/** Parses fixtures/hep/opensips-decoded.txt: one "#N total_len=..." line per message plus its chunk list. */
export function parseOpensipsDump(): ExpectedHep[] {
  const text = readFileSync(join(HEP_FIXTURES, 'opensips-decoded.txt'), 'utf8');
  const result: ExpectedHep[] = [];
  let section = '';
  let current: ExpectedHep | null = null;
  for (const line of text.split('\n')) {
    const sectionHeader = /^#{16} (.*)$/.exec(line);
    if (sectionHeader) {
      section = sectionHeader[1];
      current = null;
      continue;
    }
    const message = /^#(\d+) total_len=(\d+) t=(\S+) (\S+):(\d+) -> (\S+):(\d+) ipproto=(\w+) \| (.*)$/.exec(line);
    if (message) {
      const n = Number(message[1]);
      const { file, messageIndex } = opensipsLocation(section, n);
      const rest = message[9];
      const wrapped = /^\[JSON-wrapped payload, keys=\[[^\]]*\]\] (.*)$/.exec(rest);
      current = {
        label: `${file}${messageIndex === null ? '' : ` msg #${n}`}`,
        file,
        messageIndex,
        version: 3,
        length: Number(message[2]),
        timeOfDay: message[3],
        srcIp: message[4],
        srcPort: Number(message[5]),
        dstIp: message[6],
        dstPort: Number(message[7]),
        ipProtocol: message[8] === 'UDP' ? 17 : message[8] === 'TCP' ? 6 : Number.NaN,
        correlationId: null,
        authKey: null,
        chunkTypes: [],
      };
      if (rest === '<no payload>') current.noPayload = true;
      else if (wrapped) {
        current.jsonWrapped = true;
        current.firstLine = wrapped[1];
      } else current.firstLine = rest;
      result.push(current);
      continue;
    }
    if (current === null) continue;
    const chunks = /^ {4}chunks: (.*)$/.exec(line);
    if (chunks) {
      for (const part of chunks[1].split(', ')) {
        const chunk = /^0x([0-9a-f]{4})\(([^)]*(?:\([^)]*\))?)\):(\d+)$/.exec(part);
        if (!chunk) throw new Error(`unreadable chunk entry in opensips dump: ${part}`);
        const type = Number.parseInt(chunk[1], 16);
        current.chunkTypes?.push(type);
        if (type === 0x000f && !current.jsonWrapped) current.payloadLength = Number(chunk[3]);
      }
      continue;
    }
    const value = /^ {6}0x([0-9a-f]{4}) \S+ = (.*)$/.exec(line);
    if (value) {
      const type = Number.parseInt(value[1], 16);
      if (type === 0x000b) current.payloadType = leadingInt(value[2]);
      else if (type === 0x000c) current.captureId = leadingInt(value[2]);
      else if (type === 0x0011) current.correlationId = unquote(value[2]);
    }
  }
  return result;
}

function opensipsLocation(section: string, n: number): { file: string; messageIndex: number | null } {
  if (section.startsWith('opensips-udp-')) return { file: `opensips-udp-${n}.bin`, messageIndex: null };
  if (section.startsWith('canyan')) {
    const names = ['hep-invite.bin', 'hep-ack.bin', 'hep-bye.bin'];
    return { file: `canyan/${names[n - 1]}`, messageIndex: null };
  }
  const file = section.trim();
  return { file, messageIndex: n - 1 };
}

/** One `recv()` of a captured TCP connection, from a .recv.tsv sidecar. */
export interface RecordedRead {
  offset: number;
  bytes: number;
}

export function readRecvSidecar(streamFile: string): RecordedRead[] {
  const name = streamFile.replace(/\.bin$/, '.recv.tsv');
  const lines = readFileSync(join(HEP_FIXTURES, name), 'utf8').trim().split('\n').slice(1);
  const reads: RecordedRead[] = [];
  for (const line of lines) {
    const [, , event, offset, bytes] = line.split('\t');
    if (event === 'recv') reads.push({ offset: Number(offset), bytes: Number(bytes) });
  }
  return reads;
}

/** The fixture bytes behind an ExpectedHep (a datagram file, or the message cut out of a stream). */
export function fixtureFile(file: string): Buffer {
  if (file.startsWith('canyan/')) return readFileSync(join(CANYAN_FIXTURES, file.slice('canyan/'.length)));
  return readHepFixture(file);
}

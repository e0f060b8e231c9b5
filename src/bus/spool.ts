// The agent's on-disk spool: every event is appended here before it is published (write-ahead),
// and a confirmed watermark records how far the broker has confirmed. Whatever lies beyond the
// watermark is published again after a reconnect or a restart, even after a SIGKILL (the
// engine is idempotent, so a duplicate costs nothing).
//
// Layout of spool_dir:
//   000000000001.jsonl ...  append-only segments, one JSON event per line; a new segment per
//                           process start and whenever the active one reaches segmentBytes
//   confirmed.json          {"segment":N,"offset":M}: everything before is confirmed
// Segments wholly before the watermark are deleted.
//
// fsync policy: each batch is written with one write(2) into the kernel's page cache, which
// outlives the process, so a crash or SIGKILL of the agent loses nothing written. Only a power
// loss or kernel crash can lose what the kernel had not yet written back; fdatasync runs every
// syncIntervalMs (default 1 s), at segment rotation and at close, which bounds that loss to
// about one interval. An fsync per event would cap the agent at the disk's flush rate.
// The watermark file is written at most every syncIntervalMs; a stale watermark only means
// confirmed events are published again (duplicates, never losses).
import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';

export interface SpoolPosition {
  readonly segment: number;
  readonly offset: number;
}

export interface SpoolEntry {
  line: string;
  /** Position just after the line: confirming it confirms everything before. */
  end: SpoolPosition;
}

export interface SpoolOptions {
  dir: string;
  /** Largest total size of the segment files; an append beyond it is refused. */
  maxBytes: number;
  logger: Logger;
  /** Size at which the active segment is closed and a new one started. */
  segmentBytes?: number;
  syncIntervalMs?: number;
}

const SEGMENT_NAME = /^(\d{12})\.jsonl$/;
const WATERMARK_FILE = 'confirmed.json';
const LOCK_FILE = 'owner.pid';

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One process per spool: two appenders would interleave their segments and overwrite each
 * other's watermark. The lock file names its owner; a dead owner's lock (a SIGKILLed agent) is
 * taken over.
 */
function lockSpool(dir: string): void {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(path, 'utf8').trim());
      if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && processIsAlive(owner)) {
        throw new Error(`spool ${dir} is in use by process ${owner}; each agent needs its own spool_dir`);
      }
      rmSync(path, { force: true });
    }
  }
  throw new Error(`could not lock spool ${dir}`);
}

function segmentName(segment: number): string {
  return `${String(segment).padStart(12, '0')}.jsonl`;
}

export function comparePositions(a: SpoolPosition, b: SpoolPosition): number {
  return a.segment !== b.segment ? a.segment - b.segment : a.offset - b.offset;
}

export class Spool {
  /** Size in bytes of each segment file on disk, by segment number (the active one included). */
  private readonly sizes = new Map<number, number>();
  private activeSegment: number;
  private activeFd: number;
  private unsynced = false;
  private watermark: SpoolPosition;
  private watermarkSaved = true;
  /** Watermark writes run one after the other (they share a temporary file). */
  private saving: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  /** Bytes of every segment file. */
  bytes = 0;
  /** Lines found cut short at the end of a segment (the process died in the middle of a write). */
  torn = 0;

  private constructor(
    private readonly options: Required<SpoolOptions>,
    watermark: SpoolPosition,
    existing: Map<number, number>,
  ) {
    for (const [segment, size] of existing) {
      this.sizes.set(segment, size);
      this.bytes += size;
    }
    // Never below the watermark: positions must keep growing even when every segment is gone.
    this.activeSegment = Math.max(0, watermark.segment, ...existing.keys()) + 1;
    this.activeFd = openSync(join(options.dir, segmentName(this.activeSegment)), 'a');
    this.sizes.set(this.activeSegment, 0);
    this.watermark = watermark;
    this.skipFinishedSegments();
    this.timer = setInterval(() => this.sync(), options.syncIntervalMs);
    this.timer.unref();
  }

  static async open(options: SpoolOptions): Promise<Spool> {
    const settings: Required<SpoolOptions> = {
      segmentBytes: Math.min(64 * 1024 * 1024, Math.max(1024, Math.floor(options.maxBytes / 8))),
      syncIntervalMs: 1000,
      ...options,
    };
    mkdirSync(settings.dir, { recursive: true });
    lockSpool(settings.dir);
    const existing = new Map<number, number>();
    for (const name of readdirSync(settings.dir).sort()) {
      const match = SEGMENT_NAME.exec(name);
      if (match !== null) existing.set(Number(match[1]), statSync(join(settings.dir, name)).size);
    }
    const first = Math.min(...existing.keys(), Number.MAX_SAFE_INTEGER);
    let watermark: SpoolPosition = { segment: existing.size === 0 ? 1 : first, offset: 0 };
    try {
      const saved: unknown = JSON.parse(await readFile(join(settings.dir, WATERMARK_FILE), 'utf8'));
      if (
        typeof saved === 'object' && saved !== null && 'segment' in saved && 'offset' in saved &&
        Number.isSafeInteger(saved.segment) && Number.isSafeInteger(saved.offset)
      ) {
        const position = { segment: Number(saved.segment), offset: Number(saved.offset) };
        // A watermark in a segment that no longer exists: that segment was wholly confirmed.
        if (existing.has(position.segment)) watermark = position;
        else if (position.segment > watermark.segment) watermark = { segment: position.segment, offset: 0 };
      } else {
        settings.logger.warn({ dir: settings.dir }, 'spool watermark unreadable: events of the spool will be delivered again');
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        settings.logger.warn({ dir: settings.dir, err: error }, 'spool watermark unreadable: events of the spool will be delivered again');
      }
    }
    // Segments before the watermark were confirmed but not yet deleted when the process stopped.
    for (const segment of [...existing.keys()]) {
      if (segment < watermark.segment) {
        await unlink(join(settings.dir, segmentName(segment)));
        existing.delete(segment);
      }
    }
    const spool = new Spool(settings, watermark, existing);
    const backlog = spool.backlogBytes();
    if (backlog > 0) settings.logger.info({ dir: settings.dir, backlog_bytes: backlog }, 'spool holds undelivered events from an earlier run');
    return spool;
  }

  /** Where the next appended line will start. */
  get end(): SpoolPosition {
    return { segment: this.activeSegment, offset: this.sizes.get(this.activeSegment) ?? 0 };
  }

  get confirmed(): SpoolPosition {
    return this.watermark;
  }

  /** Bytes of events not yet confirmed. */
  backlogBytes(): number {
    let total = 0;
    for (const [segment, size] of this.sizes) {
      if (segment > this.watermark.segment) total += size;
      else if (segment === this.watermark.segment) total += size - this.watermark.offset;
    }
    return total;
  }

  /** Whether `bytes` more fit under maxBytes. */
  fits(bytes: number): boolean {
    return this.bytes + bytes <= this.options.maxBytes;
  }

  /**
   * Appends lines (without their newline) in one write. The caller has checked `fits`. Throws
   * when the disk refuses the write; the segment is then closed so that a partly written line
   * cannot be glued to the next one (it is reported as torn when read).
   */
  append(lines: readonly string[]): void {
    if (this.closed) throw new Error('spool is closed');
    if ((this.sizes.get(this.activeSegment) ?? 0) >= this.options.segmentBytes) this.rotate();
    const buffer = Buffer.from(lines.join('\n') + '\n', 'utf8');
    try {
      let written = 0;
      while (written < buffer.length) written += writeSync(this.activeFd, buffer, written, buffer.length - written);
    } catch (error) {
      const size = fstatSync(this.activeFd).size;
      this.grow(size - (this.sizes.get(this.activeSegment) ?? 0));
      this.rotate();
      throw error;
    }
    this.grow(buffer.length);
    this.unsynced = true;
  }

  /** Reads whole lines from `from` onwards, up to about `maxBytes`. */
  async read(from: SpoolPosition, maxBytes: number): Promise<{ entries: SpoolEntry[]; next: SpoolPosition }> {
    let position = this.normalise(from);
    const entries: SpoolEntry[] = [];
    let budget = maxBytes;
    while (budget > 0) {
      const size = this.sizes.get(position.segment);
      if (size === undefined) break;
      if (position.offset >= size) {
        if (position.segment === this.activeSegment) break;
        position = this.normalise({ segment: position.segment + 1, offset: 0 });
        continue;
      }
      const { lines, consumed, torn } = await this.readLines(position, size, budget);
      if (consumed === 0 && torn === 0) break;
      let offset = position.offset;
      for (const line of lines) {
        offset += Buffer.byteLength(line, 'utf8') + 1;
        entries.push({ line, end: { segment: position.segment, offset } });
      }
      budget -= consumed;
      position = { segment: position.segment, offset: position.offset + consumed };
      if (torn > 0) {
        // Only possible at the end of a closed segment: a write cut short by a crash.
        this.torn++;
        this.options.logger.error(
          { segment: segmentName(position.segment), offset: position.offset, bytes: torn },
          'spool segment ends with an incomplete event (the agent died while writing it); it is skipped',
        );
        position = { segment: position.segment, offset: position.offset + torn };
      }
    }
    return { entries, next: position };
  }

  /** Records that everything before `upTo` is confirmed, and deletes segments wholly confirmed. */
  confirm(upTo: SpoolPosition): void {
    if (comparePositions(upTo, this.watermark) <= 0) return;
    this.watermark = upTo;
    this.watermarkSaved = false;
    this.skipFinishedSegments();
  }

  /** Writes back the active segment and the watermark. */
  sync(): void {
    if (this.unsynced) {
      this.unsynced = false;
      fdatasync(this.activeFd, (error) => {
        // EBADF: the segment was rotated or the spool closed meanwhile (both sync it themselves).
        if (error !== null && error.code !== 'EBADF') this.options.logger.error({ err: error }, 'spool fdatasync failed');
      });
    }
    if (!this.watermarkSaved) void this.saveWatermark();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    fdatasyncSync(this.activeFd);
    closeSync(this.activeFd);
    await this.saveWatermark();
    rmSync(join(this.options.dir, LOCK_FILE), { force: true });
  }

  private grow(bytes: number): void {
    this.sizes.set(this.activeSegment, (this.sizes.get(this.activeSegment) ?? 0) + bytes);
    this.bytes += bytes;
  }

  private rotate(): void {
    fdatasyncSync(this.activeFd);
    closeSync(this.activeFd);
    this.unsynced = false;
    this.activeSegment++;
    this.activeFd = openSync(join(this.options.dir, segmentName(this.activeSegment)), 'a');
    this.sizes.set(this.activeSegment, 0);
    this.skipFinishedSegments();
  }

  /** The first existing position at or after `position`. */
  private normalise(position: SpoolPosition): SpoolPosition {
    if (this.sizes.has(position.segment)) return position;
    const later = [...this.sizes.keys()].filter((segment) => segment > position.segment);
    return later.length === 0 ? this.end : { segment: Math.min(...later), offset: 0 };
  }

  /** Moves the watermark over segments it has reached the end of, and deletes every segment before it. */
  private skipFinishedSegments(): void {
    for (;;) {
      const size = this.sizes.get(this.watermark.segment);
      if (this.watermark.segment >= this.activeSegment) break;
      if (size !== undefined && this.watermark.offset < size) break;
      this.watermark = this.normalise({ segment: this.watermark.segment + 1, offset: 0 });
      this.watermarkSaved = false;
    }
    for (const [segment, size] of this.sizes) {
      if (segment >= this.watermark.segment) continue;
      this.sizes.delete(segment);
      this.bytes -= size;
      const path = join(this.options.dir, segmentName(segment));
      unlink(path).catch((error: unknown) => this.options.logger.error({ err: error, path }, 'could not delete a delivered spool segment'));
    }
  }

  private async readLines(
    from: SpoolPosition,
    size: number,
    budget: number,
  ): Promise<{ lines: string[]; consumed: number; torn: number }> {
    const handle = await open(join(this.options.dir, segmentName(from.segment)), 'r');
    try {
      let length = Math.min(size - from.offset, Math.max(budget, 64 * 1024));
      for (;;) {
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buffer, 0, length, from.offset);
        const lastNewline = buffer.lastIndexOf(10, bytesRead - 1);
        if (lastNewline >= 0) {
          const lines = buffer.toString('utf8', 0, lastNewline).split('\n');
          return { lines, consumed: lastNewline + 1, torn: 0 };
        }
        if (from.offset + bytesRead >= size) {
          // No newline up to the end of the segment. In the active segment we only ever read
          // up to what was written whole, so this is a closed segment's torn tail.
          return { lines: [], consumed: 0, torn: from.segment === this.activeSegment ? 0 : bytesRead };
        }
        length = Math.min(size - from.offset, length * 2); // a line longer than the buffer
      }
    } finally {
      await handle.close();
    }
  }

  private saveWatermark(): Promise<void> {
    this.saving = this.saving.then(() => this.writeWatermark());
    return this.saving;
  }

  private async writeWatermark(): Promise<void> {
    if (this.watermarkSaved) return;
    this.watermarkSaved = true;
    const path = join(this.options.dir, WATERMARK_FILE);
    const temporary = `${path}.tmp`;
    try {
      await writeFile(temporary, JSON.stringify(this.watermark));
      await rename(temporary, path);
    } catch (error) {
      this.watermarkSaved = false;
      this.options.logger.error({ err: error, path }, 'could not save the spool watermark (events would be delivered again after a restart)');
    }
  }
}

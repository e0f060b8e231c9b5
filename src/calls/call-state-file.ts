// The in-memory tracker's calls across a restart (state_url=memory): an agent stopped cleanly
// writes its open calls and tombstones to state_file, and the next start reads them back, so a
// restart in the middle of calls loses none of them.
//
// The file is written to a temporary name and renamed, so a crash while saving leaves either the
// previous file or the new one, never half of one. Once read, it is deleted, so that a later
// start does not apply it again. A file that cannot be used (corrupt, another format version) is
// renamed aside with a clear log line and the agent starts empty: losing the state of a restart is
// better than not starting.
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Micros } from '../domain/types.ts';
import type { CallTrackerSnapshot } from './call-tracker.ts';

const FORMAT = 'canyan-rating agent call state';
const VERSION = 1;

interface StateFileContent extends CallTrackerSnapshot {
  format: string;
  version: number;
  /** Local time of the save (microseconds), for the log. */
  savedAt: Micros;
}

export type CallStateLoad =
  | { status: 'missing' }
  | { status: 'loaded'; snapshot: CallTrackerSnapshot; savedAt: Micros }
  /** Not usable: renamed to `movedTo` (null when even that failed). */
  | { status: 'unusable'; reason: string; movedTo: string | null };

export async function saveCallState(path: string, snapshot: CallTrackerSnapshot, savedAt: Micros): Promise<void> {
  const content: StateFileContent = { format: FORMAT, version: VERSION, savedAt, calls: snapshot.calls, tombstones: snapshot.tombstones };
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, JSON.stringify(content), { flush: true });
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

/** Reads the saved state and removes the file (or moves it aside when it cannot be used). */
export async function takeCallState(path: string, now: () => Date = () => new Date()): Promise<CallStateLoad> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' };
    throw error;
  }
  const parsed = parseContent(text);
  if (typeof parsed === 'string') {
    const aside = `${path}.unusable-${now().toISOString().replace(/[:.]/g, '-')}`;
    try {
      await rename(path, aside);
      return { status: 'unusable', reason: parsed, movedTo: aside };
    } catch {
      return { status: 'unusable', reason: parsed, movedTo: null };
    }
  }
  // Gone already: another process sharing the path took it at the same moment (a configuration
  // mistake: each agent needs its own state_file); this one uses what it read.
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  return { status: 'loaded', snapshot: { calls: parsed.calls, tombstones: parsed.tombstones }, savedAt: parsed.savedAt };
}

/** The content, or why it cannot be used. Records inside are checked one by one on restore. */
function parseContent(text: string): StateFileContent | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `not JSON (${(error as Error).message})`;
  }
  if (typeof value !== 'object' || value === null) return 'not a JSON object';
  const content = value as Partial<StateFileContent>;
  if (content.format !== FORMAT) return `not a call state file (format ${JSON.stringify(content.format)})`;
  if (content.version !== VERSION) return `format version ${String(content.version)}, this version reads ${VERSION}`;
  if (!Array.isArray(content.calls) || !Array.isArray(content.tombstones)) return 'calls or tombstones missing';
  return { format: FORMAT, version: VERSION, savedAt: Number(content.savedAt) || 0, calls: content.calls, tombstones: content.tombstones };
}

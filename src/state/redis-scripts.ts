// The Lua scripts of the shared call state. Each runs atomically in Redis, which is what makes
// the state safe to share: a call's record is only replaced by a writer that read its current
// version (compare-and-set), and an early message is only parked while its call does not exist.
//
// Record value: "<version>|<write id>|<payload>", payload "T" for a finished call's tombstone or
// the call's JSON record. The write id lets a writer whose reply was lost (connection dropped
// after Redis executed the script) recognise its own write when it reads again.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A script sent by SHA1 (EVALSHA), loaded on first use or after a Redis restart (NOSCRIPT). */
export class LuaScript {
  private readonly sha: string;

  constructor(
    private readonly source: string,
    private readonly keyCount: number,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    if (keys.length !== this.keyCount) throw new Error(`script expects ${this.keyCount} keys, got ${keys.length}`);
    try {
      return await redis.evalsha(this.sha, this.keyCount, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await redis.eval(this.source, this.keyCount, ...keys, ...args);
    }
  }
}

/**
 * The record of a call, looked up by its key, then by the Call-ID (a reply traced without the
 * correlation id), then through the Call-ID's alias (a call keyed by a correlation id).
 * KEYS: call:<key>, call:<callId>, alias:<callId>; ARGV: key prefix.
 * Returns [redis key, value] or nil.
 */
export const LOOKUP = new LuaScript(
  `
local v = redis.call('GET', KEYS[1])
if v then return {KEYS[1], v} end
if KEYS[2] ~= KEYS[1] then
  v = redis.call('GET', KEYS[2])
  if v then return {KEYS[2], v} end
end
local target = redis.call('GET', KEYS[3])
if target then
  local k = ARGV[1] .. 'call:' .. target
  v = redis.call('GET', k)
  if v then return {k, v} end
end
return false
`,
  3,
);

/**
 * Compare-and-set of a call's record.
 * KEYS: call record, deadlines (sorted set), alias:<transaction tag>, early list 1, early list 2.
 * ARGV: expected version (0: absent), write id, payload, TTL ms, deadline score ("" removes the
 * call from the deadlines), deadline member (the call key), alias target ("" writes no alias),
 * expected lengths of the early lists ("" when they are not consumed by this write).
 * Returns 1 (written), 0 (version changed), -1 (early messages parked meanwhile).
 */
export const COMPARE_AND_SET = new LuaScript(
  `
local current = redis.call('GET', KEYS[1])
local version = 0
if current then version = tonumber(string.sub(current, 1, string.find(current, '|', 1, true) - 1)) end
if version ~= tonumber(ARGV[1]) then return 0 end
if ARGV[8] ~= '' then
  if redis.call('LLEN', KEYS[4]) ~= tonumber(ARGV[8]) then return -1 end
  if KEYS[5] ~= KEYS[4] and redis.call('LLEN', KEYS[5]) ~= tonumber(ARGV[9]) then return -1 end
  redis.call('DEL', KEYS[4], KEYS[5])
end
redis.call('SET', KEYS[1], (version + 1) .. '|' .. ARGV[2] .. '|' .. ARGV[3], 'PX', ARGV[4])
if ARGV[5] == '' then
  redis.call('ZREM', KEYS[2], ARGV[6])
else
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[6])
end
if ARGV[7] ~= '' then redis.call('SET', KEYS[3], ARGV[7], 'PX', ARGV[4]) end
return 1
`,
  5,
);

/**
 * Parks a message that came before its call's INVITE, unless the call exists by now.
 * KEYS: call:<key>, call:<callId>, alias:<callId>, early:<key>; ARGV: message JSON, TTL ms.
 * Returns 1 (parked) or 0 (the call exists: look it up again).
 */
export const PARK = new LuaScript(
  `
if redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3]) > 0 then return 0 end
redis.call('RPUSH', KEYS[4], ARGV[1])
redis.call('PEXPIRE', KEYS[4], ARGV[2])
return 1
`,
  4,
);

/**
 * Removes a call from the deadlines unless it is a live call (a new call may have reused the key
 * since the sweep read it). KEYS: call:<key>, deadlines; ARGV: the call key.
 */
export const FORGET_DEADLINE = new LuaScript(
  `
local v = redis.call('GET', KEYS[1])
if v then
  local first = string.find(v, '|', 1, true)
  local second = first and string.find(v, '|', first + 1, true)
  if second and string.sub(v, second + 1, second + 1) ~= 'T' then return 0 end
end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`,
  2,
);

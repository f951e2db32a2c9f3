// The Lua scripts of RedisStreamStore, and how a live message looks on its pub/sub channel.
//
// One Redis Stream per topic (https://redis.io/docs/latest/develop/data-types/streams/); a message's position
// is its stream id ("<ms>-<seq>", monotonic per stream). Each entry has these fields:
//   p  the id of the entry before it ("" for the stream's first entry ever): a reader that finds an entry
//      whose p is not the position it asked after knows that entries between were trimmed (a gap), even
//      with MAXLEN ~ trimming whole nodes at a time
//   t  "1" text, "0" binary
//   d  the payload, as is
//   u  the publisher given to append() (a resumable session's id), only when one was given: readAfter
//      hands it back, so a replay leaves out the session's own messages (ResumeStore contract)
//
// append() runs APPEND_SCRIPT: XADD then PUBLISH (or SPUBLISH) in one atomic script, so the order in which
// every process hears the live messages is the stream's order. The live message on the channel:
//
//   size  field
//   1     format version, 1
//   1     flags: bit 0 set = text; bit 1 set = a session publisher follows the id
//   1+U   U, then the publishing store's id (ASCII): a store hands its own appends back only once their
//         append() has settled (the ResumeStore contract), so it must know them
//   1+P   P, then the previous id (ASCII)
//   1+I   I, then the id (ASCII)
//   1+S   (bit 1 only) S, then the session publisher given to append() (the `u` field): a resumed
//         connection of that session on any process must not get it live either
//   n     payload
//
// The previous id lets a subscriber notice a live message it missed (its connection to Redis was down)
// and read it back from the stream.

import type { StoredMessage } from "../server/resume-store.js";

/** The format version in the first byte of every live message. */
export const STREAM_WIRE_VERSION = 1;

/**
 * KEYS[1] the stream. ARGV: channel, MAXLEN, "1"|"0" text, payload, "PUBLISH"|"SPUBLISH", TTL ms ("0": none),
 * publisher id (this store's), the session publisher ("" = none).
 * Returns the new entry's id. MAXLEN ~ keeps at least MAXLEN entries (whole nodes are trimmed), never fewer.
 */
export const APPEND_SCRIPT = `
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local prev = ''
if #last > 0 then prev = last[1][1] end
local id
if ARGV[8] ~= nil and ARGV[8] ~= '' then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'p', prev, 't', ARGV[3], 'd', ARGV[4], 'u', ARGV[8])
else
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'p', prev, 't', ARGV[3], 'd', ARGV[4])
end
if ARGV[6] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[6]) end
local session = ''
local flags = tonumber(ARGV[3])
if ARGV[8] ~= nil and ARGV[8] ~= '' then
  session = string.char(#ARGV[8]) .. ARGV[8]
  flags = flags + 2
end
redis.call(ARGV[5], ARGV[1], string.char(1, flags, #ARGV[7]) .. ARGV[7] .. string.char(#prev) .. prev
  .. string.char(#id) .. id .. session .. ARGV[4])
return id
`;

/**
 * KEYS[1] the stream. ARGV: after ("" = from the first entry ever), COUNT.
 * Returns a flat array id, "1"|"0", payload, publisher ("" = none), … of the entries strictly after `after` (XRANGE with an
 * exclusive start, Redis ≥ 6.2), or nil (a gap) when the stream no longer holds all of them: the first
 * entry found does not follow `after`, or nothing is found and the stream's last entry is not `after`
 * (trimmed, expired, or Redis lost its data).
 */
export const READ_SCRIPT = `
local after = ARGV[1]
local entries = {}
-- Nothing can follow the last possible id (and XRANGE refuses an exclusive start there): a claim of it
-- is checked as one past the stream's last entry (a gap unless it is that entry).
if after == '' then
  entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', ARGV[2])
elseif after ~= '18446744073709551615-18446744073709551615' then
  entries = redis.call('XRANGE', KEYS[1], '(' .. after, '+', 'COUNT', ARGV[2])
end
if #entries == 0 then
  if after == '' then return {} end
  local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
  if #last == 0 or last[1][1] ~= after then return false end
  return {}
end
local out = {}
for i, entry in ipairs(entries) do
  local fields = entry[2]
  local prev, text, data, publisher = nil, '0', '', ''
  for j = 1, #fields, 2 do
    local name = fields[j]
    if name == 'p' then prev = fields[j + 1]
    elseif name == 't' then text = fields[j + 1]
    elseif name == 'd' then data = fields[j + 1]
    elseif name == 'u' then publisher = fields[j + 1] end
  end
  if i == 1 and prev ~= after then return false end
  out[#out + 1] = entry[1]
  out[#out + 1] = text
  out[#out + 1] = data
  out[#out + 1] = publisher
end
return out
`;

/** READ_SCRIPT's flat reply as messages (null: the gap it reports). */
export function readReplyMessages(reply: Buffer[] | null): StoredMessage[] | null {
  if (reply === null) return null;
  const messages: StoredMessage[] = [];
  for (let i = 0; i + 3 < reply.length; i += 4) {
    const message: StoredMessage = {
      position: reply[i].toString("latin1"),
      isText: reply[i + 1].toString("latin1") === "1",
      payload: reply[i + 2],
    };
    const publisher = reply[i + 3].toString("utf8");
    if (publisher !== "") message.publisher = publisher;
    messages.push(message);
  }
  return messages;
}

export interface LiveMessage {
  /** The publishing store's id ("" when read back). */
  publisher: string;
  /** The session publisher given to append() (StoredMessage.publisher), if any. */
  session?: string;
  previous: string;
  position: string;
  isText: boolean;
  payload: Buffer;
}

/** A live message (the layout above), or null when it is not one of ours. */
export function decodeLiveMessage(message: Buffer): LiveMessage | null {
  if (message.length < 2 || message[0] !== STREAM_WIRE_VERSION) return null;
  const fields: string[] = [];
  let at = 2;
  const fieldCount = (message[1] & 2) !== 0 ? 4 : 3;
  for (let i = 0; i < fieldCount; i++) {
    if (at >= message.length) return null;
    const end = at + 1 + message[at];
    if (end > message.length) return null;
    fields.push(message.toString("latin1", at + 1, end));
    at = end;
  }
  const [publisher, previous, position, session] = fields;
  if (position === "") return null;
  const live: LiveMessage = {
    publisher,
    previous,
    position,
    isText: (message[1] & 1) !== 0,
    payload: message.subarray(at),
  };
  if (session !== undefined && session !== "") live.session = session;
  return live;
}

/** Orders two stream ids "<ms>-<seq>" ("" sorts first): negative, 0 or positive. */
export function compareStreamIds(a: string, b: string): number {
  if (a === b) return 0;
  if (a === "") return -1;
  if (b === "") return 1;
  const [aMs, aSeq = "0"] = a.split("-");
  const [bMs, bSeq = "0"] = b.split("-");
  const byMs = compareDigits(aMs, bMs);
  return byMs !== 0 ? byMs : compareDigits(aSeq, bSeq);
}

/** Compares two unsigned decimal strings of any length (stream ids are 64-bit: beyond Number's precision). */
function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

// Sessions: keys of their own, single use.
/** Marks a taken session id (a JSON record never equals it). */
export const TAKEN = "taken";
/** How an alias's JSON starts (SessionRecord.successor first), for SAVE_SCRIPT to tell it from a record. */
export const ALIAS_PREFIX = '{"successor":';
// Take: return the record and leave the marker in its place; save: write unless the marker is there.
export const TAKE_SCRIPT = `
local value = redis.call('GET', KEYS[1])
if not value or value == '${TAKEN}' then return false end
redis.call('SET', KEYS[1], '${TAKEN}', 'PX', ARGV[1])
return value
`;
// Not over the taken marker, nor over an alias put back there (putBackSession writes "successor" first).
export const SAVE_SCRIPT = `
local value = redis.call('GET', KEYS[1])
if value == '${TAKEN}' or (value and string.sub(value, 1, 13) == '${ALIAS_PREFIX}') then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;
// Put back: a take that timed out ran late (issue 19 item 3); only over the marker, never over a newer save.
export const PUT_BACK_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= '${TAKEN}' then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

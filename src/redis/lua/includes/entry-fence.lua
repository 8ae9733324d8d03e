--[[
  The entry fence: whether a run (or a first sighting) of a runtime entry may touch the entry's
  state, by the fence the caller read the entry with (every script's "revision" column):
    ''              not checked (an entry of the config file)
    <digits>        the version of the entry's record in the entries hash (tsbeat's own store):
                    any other stored version, or no record, and the run is superseded
    '@' <incarnation>  an entry with no record in tsbeat's hash (RedBeat, django-celery-beat): its
                    state belongs to the incarnation in its `g` member (includes/entry-state.lua).
                    An incarnation is a kind letter and a whole number that only grows for one name
                    ("r<µs>" RedBeat's creation marker, "d<id>" a django row's id). A state of an
                    older incarnation, or of another kind (another source's entry of the name), is
                    none: the new incarnation starts afresh. A state of a newer one supersedes the
                    run: the caller read the entry before it was deleted and created again. A state
                    without `g` (written before incarnations, or by the migration seed) is adopted.

  fenceOf(fence)                      '@' fences: the incarnation; other fences: nil
  isOlderIncarnation(stored, mine)    whether incarnation `stored` is older than `mine` (or of another kind)
  incarnationFence(fence, state)      for an '@' fence and a decoded state (or nil):
                                      'superseded', or the state to use (nil when it is none)
  recordFenceRefuses(fence, record)   for a digits fence and the record's text: true when superseded
  incarnationHolds(fence, record, state)  whether a run read under `fence` (any revision) belongs to
                                      the entry stored now, edits allowed: its record's text (or
                                      false) and decoded state (or nil). A digits fence holds while
                                      a record is stored whose incarnation `i` is not newer than the
                                      fence (an incarnation is the version that created it, so a
                                      re-creation after the read has a larger one; a record without
                                      `i` was never re-created); an '@' fence while the state is of
                                      that incarnation (or of none, adopted). What outcomes may be
                                      written under: a deleted or re-created entry's run writes nothing
  storedIncarnationHolds(fence, stateKey, entriesKey, entry)
                                      incarnationHolds on what is stored now: the entry's state in
                                      stateKey for an '@' fence, its record in entriesKey for a
                                      digits one (needs includes/entry-state.lua before this one)
]]
--- @include "entry-record"

local function fenceOf(fence)
  if string.byte(fence, 1) == 64 then return string.sub(fence, 2) end
  return nil
end

-- Whole numbers compared as digit strings (no leading zeros are written): exact for any length.
local function digitsLess(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end

local function isOlderIncarnation(stored, mine)
  local kind, number = string.match(stored, '^(%a)(%d+)$')
  local myKind, myNumber = string.match(mine, '^(%a)(%d+)$')
  if not kind or not myKind or kind ~= myKind then return true end
  return digitsLess(number, myNumber)
end

local function incarnationFence(fence, state)
  local mine = fenceOf(fence)
  if not state or state.g == nil or state.g == mine then return state end
  if isOlderIncarnation(state.g, mine) then return nil end
  return 'superseded'
end

local function recordFenceRefuses(fence, record)
  return recordVersion(record) ~= fence
end

local function incarnationHolds(fence, record, state)
  if fence == '' then return true end
  local mine = fenceOf(fence)
  if mine then return state ~= nil and (state.g == nil or state.g == mine) end
  if not recordVersion(record) then return false end
  local created = string.match(record, '^{"v":%d+,"i":(%d+),')
  return created == nil or not digitsLess(fence, created)
end

local function storedIncarnationHolds(fence, stateKey, entriesKey, entry)
  if fence == '' then return true end
  if fenceOf(fence) then return incarnationHolds(fence, false, decodeState(redis.call('HGET', stateKey, entry))) end
  return incarnationHolds(fence, redis.call('HGET', entriesKey, entry), nil)
end

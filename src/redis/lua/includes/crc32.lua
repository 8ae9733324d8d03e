--[[
  crc32(text): CRC-32 (IEEE 802.3, zlib's) of the bytes of `text`, a whole number 0 … 2^32 − 1: the
  hash core/partition.ts partitionOf takes of an entry's name (Node's zlib.crc32 of its UTF-8
  bytes, which are the bytes a script receives: ioredis encodes a name as UTF-8, a lone surrogate
  as U+FFFD, as zlib.crc32 does). test/integration/entry-index.test.ts holds the two equal.

  Redis's Lua has the `bit` library, whose results are signed 32-bit numbers. The table of the 256
  byte remainders is built at the first call of a script's run (about 2,000 steps, paid only by a
  run that hashes). The register is kept unsigned and its low byte and shift taken by arithmetic:
  per byte, two calls into `bit` instead of four (a call costs more than the arithmetic, and a write
  of 10,000 entries hashes every name: about 3 µs a name of 20 bytes).
]]

local crc32Table
local function crc32(text)
  local bxor, byte = bit.bxor, string.byte
  if not crc32Table then
    crc32Table = {}
    for i = 0, 255 do
      local c = i
      for _ = 1, 8 do
        if c % 2 == 1 then c = bxor(bit.rshift(c, 1), 0xEDB88320) else c = bit.rshift(c, 1) end
      end
      crc32Table[i] = c
    end
  end
  local T = crc32Table
  local c = 4294967295
  for i = 1, #text do
    local low = c % 256
    c = bxor((c - low) / 256, T[bxor(low, byte(text, i))])
    if c < 0 then c = c + 4294967296 end
  end
  return 4294967295 - c
end

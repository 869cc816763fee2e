// C2SP tlog-tiles (https://c2sp.org/tlog-tiles): the log served as static resources. A tile at
// level L, index N holds the hashes of Merkle subtrees of 256^L leaves (Merkle level 8L),
// numbers N*256 .. N*256+255; a partial tile holds the first W (1-255) of them. An entry bundle
// holds the entries of a level-0 tile, each prefixed with its length as a big-endian uint16.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chargegrid/ledger/codec.hpp"

namespace chargegrid::ledger {

inline constexpr unsigned kTileHeight = 8;
inline constexpr std::uint64_t kTileWidth = 256;

// N as path elements: 1234067 -> "x001/x234/067", 5 -> "005".
std::string tile_index_path(std::uint64_t index);
// "tile/<L>/<N>[.p/<W>]"; width 256 is a full tile.
std::string tile_path(unsigned level, std::uint64_t index, unsigned width);
// "tile/entries/<N>[.p/<W>]".
std::string entries_path(std::uint64_t index, unsigned width);

struct TileRef {
  bool entries = false;  // an entry bundle (level 0)
  unsigned level = 0;
  std::uint64_t index = 0;
  unsigned width = kTileWidth;  // 1-255 for a partial tile
};
// Parses what follows "tile/" in a tile path, as strictly as the specification spells it
// (no extra leading zeroes, x prefixes where they belong); nullopt otherwise.
std::optional<TileRef> parse_tile_path(std::string_view path);

// The width of the rightmost tile at `level` for a tree of `size` leaves (0: none).
unsigned partial_width(unsigned level, std::uint64_t size);

// Throws std::length_error for an entry of 65536 bytes or more.
std::string encode_bundle(const std::vector<std::string>& entries);
// nullopt when the bytes are not a sequence of length-prefixed entries.
std::optional<std::vector<std::string>> decode_bundle(std::string_view bundle);

// A tile's bytes (width * 32) as hashes; nullopt when the length is not a multiple of 32.
std::optional<std::vector<Hash>> decode_tile(std::string_view tile);

}  // namespace chargegrid::ledger

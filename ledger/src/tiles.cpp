#include "chargegrid/ledger/tiles.hpp"

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace chargegrid::ledger {

namespace {

// A decimal number without extra leading zeroes, or nullopt.
std::optional<std::uint64_t> plain_number(std::string_view text) {
  if (text.empty() || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  std::uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string three_digits(std::uint64_t n) {
  char text[4];
  text[0] = static_cast<char>('0' + n / 100);
  text[1] = static_cast<char>('0' + n / 10 % 10);
  text[2] = static_cast<char>('0' + n % 10);
  text[3] = 0;
  return text;
}

std::string width_suffix(unsigned width) {
  return width >= kTileWidth ? "" : ".p/" + std::to_string(width);
}

}  // namespace

std::string tile_index_path(std::uint64_t index) {
  std::string out = three_digits(index % 1000);
  for (index /= 1000; index > 0; index /= 1000) out = "x" + three_digits(index % 1000) + "/" + out;
  return out;
}

std::string tile_path(unsigned level, std::uint64_t index, unsigned width) {
  return "tile/" + std::to_string(level) + "/" + tile_index_path(index) + width_suffix(width);
}

std::string entries_path(std::uint64_t index, unsigned width) {
  return "tile/entries/" + tile_index_path(index) + width_suffix(width);
}

std::optional<TileRef> parse_tile_path(std::string_view path) {
  TileRef ref;
  const auto slash = path.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto head = path.substr(0, slash);
  if (head == "entries") {
    ref.entries = true;
  } else {
    auto level = plain_number(head);
    if (!level || *level > 63) return std::nullopt;
    ref.level = static_cast<unsigned>(*level);
  }
  path.remove_prefix(slash + 1);
  // The width suffix.
  if (auto p = path.find(".p/"); p != std::string_view::npos) {
    auto width = plain_number(path.substr(p + 3));
    if (!width || *width < 1 || *width > 255) return std::nullopt;
    ref.width = static_cast<unsigned>(*width);
    path = path.substr(0, p);
  }
  // x001/x234/067: all but the last element start with x; each is three digits.
  const std::string_view index_text = path;
  std::uint64_t index = 0;
  for (;;) {
    const auto next = path.find('/');
    auto element = path.substr(0, next);
    const bool last = next == std::string_view::npos;
    if (!last) {
      if (element.empty() || element[0] != 'x') return std::nullopt;
      element.remove_prefix(1);
    }
    if (element.size() != 3) return std::nullopt;
    for (char c : element)
      if (c < '0' || c > '9') return std::nullopt;
    if (index > (~std::uint64_t{0} - 999) / 1000) return std::nullopt;
    index = index * 1000 + static_cast<std::uint64_t>(std::stoi(std::string(element)));
    if (last) break;
    path.remove_prefix(next + 1);
  }
  ref.index = index;
  // The canonical spelling only: no leading "x000/" elements.
  if (tile_index_path(index) != index_text) return std::nullopt;
  return ref;
}

unsigned partial_width(unsigned level, std::uint64_t size) {
  const unsigned shift = kTileHeight * level;
  if (shift >= 64) return 0;
  return static_cast<unsigned>((size >> shift) % kTileWidth);
}

std::string encode_bundle(const std::vector<std::string>& entries) {
  std::string out;
  for (const auto& entry : entries) {
    if (entry.size() > 0xffff)
      throw std::length_error("an entry of " + std::to_string(entry.size()) +
                              " bytes does not fit an entry bundle");
    out += static_cast<char>(entry.size() >> 8);
    out += static_cast<char>(entry.size() & 0xff);
    out += entry;
  }
  return out;
}

std::optional<std::vector<std::string>> decode_bundle(std::string_view bundle) {
  std::vector<std::string> out;
  while (!bundle.empty()) {
    if (bundle.size() < 2) return std::nullopt;
    const std::size_t length =
        (static_cast<unsigned char>(bundle[0]) << 8) | static_cast<unsigned char>(bundle[1]);
    if (bundle.size() < 2 + length) return std::nullopt;
    out.emplace_back(bundle.substr(2, length));
    bundle.remove_prefix(2 + length);
  }
  return out;
}

std::optional<std::vector<Hash>> decode_tile(std::string_view tile) {
  if (tile.size() % 32 != 0) return std::nullopt;
  std::vector<Hash> out(tile.size() / 32);
  for (std::size_t i = 0; i < out.size(); ++i) std::memcpy(out[i].data(), tile.data() + 32 * i, 32);
  return out;
}

}  // namespace chargegrid::ledger

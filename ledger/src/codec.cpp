#include "chargegrid/ledger/codec.hpp"

#include <cstring>

namespace chargegrid::ledger {

std::optional<Hash> to_hash(const Bytes& bytes) {
  if (bytes.size() != Hash{}.size()) return std::nullopt;
  Hash out;
  std::memcpy(out.data(), bytes.data(), out.size());
  return out;
}

}  // namespace chargegrid::ledger

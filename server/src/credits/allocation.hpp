#pragma once
// Splitting a credit among station owners in proportion to their verified energy, in integer
// minor units: each share is rounded once, half to even, and what rounding left over (or took
// too much) is settled one minor unit at a time in a fixed order, so the shares always add up to
// the credit and the same input always gives the same split.

#include <cstdint>
#include <string>
#include <vector>

namespace chargegrid::server::credits {

struct Claim {
  std::string owner;
  std::int64_t verified_wh = 0;  // > 0
};
struct Share {
  std::string owner;
  std::int64_t verified_wh = 0;
  std::int64_t amount_minor = 0;
};

// amount_minor >= 0 and at least one claim with energy. The order of the answer (and of the
// remainder's minor units): more verified energy first, then the owner's name.
std::vector<Share> allocate(std::int64_t amount_minor, std::vector<Claim> claims);

}  // namespace chargegrid::server::credits

#include "credits/allocation.hpp"

#include <algorithm>
#include <stdexcept>

namespace chargegrid::server::credits {
namespace {

__extension__ typedef __int128 Wide;  // amount × energy needs more than 64 bits

// amount × part / whole rounded half to even.
std::int64_t proportional(std::int64_t amount, std::int64_t part, std::int64_t whole) {
  const Wide product = static_cast<Wide>(amount) * part;
  auto quotient = static_cast<std::int64_t>(product / whole);
  const Wide twice_rest = (product % whole) * 2;
  if (twice_rest > whole || (twice_rest == whole && quotient % 2 != 0)) ++quotient;
  return quotient;
}

}  // namespace

std::vector<Share> allocate(std::int64_t amount_minor, std::vector<Claim> claims) {
  std::erase_if(claims, [](const Claim& c) { return c.verified_wh <= 0; });
  if (claims.empty() || amount_minor < 0)
    throw std::invalid_argument("allocate: no verified energy to allocate to");
  std::sort(claims.begin(), claims.end(), [](const Claim& a, const Claim& b) {
    return a.verified_wh != b.verified_wh ? a.verified_wh > b.verified_wh : a.owner < b.owner;
  });
  std::int64_t total_wh = 0;
  for (const auto& c : claims) total_wh += c.verified_wh;
  std::vector<Share> shares;
  std::int64_t given = 0;
  for (const auto& c : claims) {
    shares.push_back({c.owner, c.verified_wh, proportional(amount_minor, c.verified_wh, total_wh)});
    given += shares.back().amount_minor;
  }
  // Rounding each share leaves at most half a unit per owner over or under the credit.
  for (std::size_t i = 0; given < amount_minor; i = (i + 1) % shares.size(), ++given)
    ++shares[i].amount_minor;
  for (std::size_t i = 0; given > amount_minor; i = (i + 1) % shares.size()) {
    if (shares[i].amount_minor == 0) continue;
    --shares[i].amount_minor;
    --given;
  }
  return shares;
}

}  // namespace chargegrid::server::credits

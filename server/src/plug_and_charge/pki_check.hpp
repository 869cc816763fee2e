#pragma once
// `chargegridd pki check`: what the configured Plug & Charge PKI holds (V2G root, CPO sub-CAs
// and their keys, MO roots), each certificate's expiry, and every broken link: a file that
// cannot be read, a sub-CA its issuer did not sign, a key that is not its certificate's, a
// certificate expired or about to.

#include <chrono>
#include <string>
#include <vector>

#include "chargegrid/server/config.hpp"

namespace chargegrid::server::plug_and_charge {

struct PkiFinding {
  enum class Level { kOk, kWarning, kError };
  Level level = Level::kOk;
  std::string what;  // "CPO sub-CA 2 (cpo-sub2.pem)"
  std::string text;  // subject and expiry, or the problem
};

// Certificates expiring within `warn_days` are warnings.
std::vector<PkiFinding> check_pki(const Config& config, std::chrono::system_clock::time_point now,
                                  int warn_days);

}  // namespace chargegrid::server::plug_and_charge

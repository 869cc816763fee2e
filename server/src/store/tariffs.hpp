#pragma once
// site_tariffs (migration 0013): each site's tariff, at most one. The REST API writes it
// (PUT /api/v1/sites/{id}/tariff) after tariff::parse has checked it; smart charging plans with
// it and settlement bills with it, both in the site's time zone.

#include <cstdint>
#include <optional>
#include <string>

#include "store/transaction.hpp"
#include "tariff/tariff.hpp"

namespace chargegrid::server::store::tariffs {

struct SiteTariff {
  std::int64_t site_id = 0;
  tariff::Tariff tariff;
  std::string time_zone;   // the site's IANA time zone, which the import bands are read in
  std::string updated_at;  // RFC 3339, UTC
};

// Stores `tariff` as the site's tariff, replacing the one it had. False when there is no such
// site.
bool put(Tx& tx, std::int64_t site_id, const tariff::Tariff& tariff);
// nullopt when the site has no tariff (or there is no such site).
std::optional<SiteTariff> find(Tx& tx, std::int64_t site_id);
// False when the site had no tariff.
bool remove(Tx& tx, std::int64_t site_id);

}  // namespace chargegrid::server::store::tariffs

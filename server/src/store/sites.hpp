#pragma once
// sites: the one writer of sites (name, address, WGS84 location, time zone, grid limits).
// Values come as the REST API's JSON ({"name", "address", "location": {"latitude",
// "longitude", "altitude_m"}, "time_zone", "import_limit_w", "export_limit_w", and the
// demand-response targets "ven_name" and "power_service_location"); a patch changes only the
// members it has (JSON merge-patch; null clears).

#include <cstdint>
#include <string>

#include "store/transaction.hpp"

namespace chargegrid::server::store::sites {

// Returns the new site's id.
std::int64_t create(Tx& tx, const std::string& site_json);
// False when there is no such site.
bool update(Tx& tx, std::int64_t id, const std::string& patch_json);
// False when there is no such site. Stations must have left it (the caller checks).
bool remove(Tx& tx, std::int64_t id);

}  // namespace chargegrid::server::store::sites

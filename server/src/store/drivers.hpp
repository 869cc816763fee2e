#pragma once
// drivers: the one writer of drivers and their tokens (drivers, id_tokens). Values come as the
// REST API's JSON: a driver {"name", "email", "site_id"}, a token {"id_token", "type",
// "valid_from", "valid_until", "parent_id_tag", "blocked"}; a patch changes only the members it
// has (JSON merge-patch; null clears).

#include <cstdint>
#include <string>

#include "store/transaction.hpp"

namespace chargegrid::server::store::drivers {

// Returns the new driver's id.
std::int64_t create(Tx& tx, const std::string& driver_json);
void update(Tx& tx, std::int64_t id, const std::string& patch_json);
// The driver's tokens stop working; past sessions keep their data.
void remove(Tx& tx, std::int64_t id);

// A new token of the driver.
void enrol_token(Tx& tx, std::int64_t driver_id, const std::string& token_json);
// A token that belonged to nobody (seen at a station) becomes the driver's, with these values.
void adopt_token(Tx& tx, const std::string& id_token, std::int64_t driver_id,
                 const std::string& token_json);
void update_token(Tx& tx, const std::string& id_token, const std::string& patch_json);
void remove_token(Tx& tx, const std::string& id_token);

}  // namespace chargegrid::server::store::drivers

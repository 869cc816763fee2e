#pragma once
// API keys and what they allow. A key is a bearer secret ("cgk_" + 43 characters
// of base64url); only its SHA-256 is stored. Each key has one role:
//   admin             everything;
//   facility_manager  the sites it is given, their stations, drivers, sessions
//                     and commands;
//   utility           reads the sites it is given (grid connection and limits);
//   driver            their own driver record, tokens, sessions and associations.

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <vector>

namespace chargegrid::server::api {

enum class Role { Admin, FacilityManager, Utility, Driver };

std::string_view role_name(Role role);
std::optional<Role> role_from_name(std::string_view name);

struct Principal {
  std::int64_t key_id = 0;
  std::string key_name;
  Role role = Role::Driver;
  std::vector<std::int64_t> sites;  // facility_manager and utility
  std::optional<std::int64_t> driver_id;

  bool admin() const { return role == Role::Admin; }
  bool may_see_site(std::optional<std::int64_t> site_id) const;
  // The sites as a PostgreSQL array literal ("{1,2}"), or nullopt for "all" (admin).
  std::optional<std::string> site_scope() const;
  // The driver filter for driver keys, nullopt for the others.
  std::optional<std::int64_t> driver_scope() const {
    return role == Role::Driver ? driver_id : std::nullopt;
  }
};

struct NewApiKey {
  std::int64_t id;
  std::string secret;  // shown once, never stored
};

// Creates a key; throws std::invalid_argument for a role/scope mismatch (sites
// for admin or driver keys, no driver for a driver key) and pqxx errors for
// unknown sites or drivers.
NewApiKey create_api_key(pqxx::transaction_base& tx, const std::string& name, Role role,
                         const std::vector<std::int64_t>& sites,
                         std::optional<std::int64_t> driver_id);

// The principal a bearer secret stands for, or nullopt for an unknown or revoked key.
std::optional<Principal> authenticate(pqxx::connection& connection, std::string_view secret);

// "{1,2,3}" for a list of ids.
std::string id_array(const std::vector<std::int64_t>& ids);

}  // namespace chargegrid::server::api

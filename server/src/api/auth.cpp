#include "api/auth.hpp"

#include <openssl/rand.h>

#include <array>
#include <stdexcept>

#include "chargegrid/base/sha256.hpp"

namespace chargegrid::server::api {

std::string_view role_name(Role role) {
  switch (role) {
    case Role::Admin:
      return "admin";
    case Role::FacilityManager:
      return "facility_manager";
    case Role::Utility:
      return "utility";
    case Role::Driver:
      return "driver";
  }
  return "driver";
}

std::optional<Role> role_from_name(std::string_view name) {
  for (auto role : {Role::Admin, Role::FacilityManager, Role::Utility, Role::Driver})
    if (role_name(role) == name) return role;
  return std::nullopt;
}

bool Principal::may_see_site(std::optional<std::int64_t> site_id) const {
  if (admin()) return true;
  if (!site_id || (role != Role::FacilityManager && role != Role::Utility)) return false;
  for (auto s : sites)
    if (s == *site_id) return true;
  return false;
}

std::optional<std::string> Principal::site_scope() const {
  if (admin()) return std::nullopt;
  if (role == Role::Driver) return std::string("{}");
  return id_array(sites);
}

std::string id_array(const std::vector<std::int64_t>& ids) {
  std::string out = "{";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(ids[i]);
  }
  return out + "}";
}

NewApiKey create_api_key(pqxx::transaction_base& tx, const std::string& name, Role role,
                         const std::vector<std::int64_t>& sites,
                         std::optional<std::int64_t> driver_id) {
  const bool scoped = role == Role::FacilityManager || role == Role::Utility;
  if (scoped && sites.empty())
    throw std::invalid_argument(std::string(role_name(role)) + " keys need at least one site");
  if (!scoped && !sites.empty())
    throw std::invalid_argument(std::string(role_name(role)) + " keys take no sites");
  if ((role == Role::Driver) != driver_id.has_value())
    throw std::invalid_argument(role == Role::Driver ? "driver keys need a driver"
                                                     : "only driver keys take a driver");
  std::array<unsigned char, 32> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1)
    throw std::runtime_error("no randomness for an API key");
  NewApiKey key{0, "cgk_" + base::base64url_encode(random)};
  auto rows = tx.exec_params(
      "INSERT INTO api_keys (name, role, driver_id, secret_sha256) "
      "VALUES ($1, $2, $3, decode($4, 'hex')) RETURNING id",
      name, std::string(role_name(role)), driver_id, base::sha256_hex(key.secret));
  key.id = rows[0][0].as<std::int64_t>();
  if (!sites.empty())
    tx.exec_params(
        "INSERT INTO api_key_sites (api_key_id, site_id) SELECT $1, unnest($2::bigint[])", key.id,
        id_array(sites));
  return key;
}

std::optional<Principal> authenticate(pqxx::connection& connection, std::string_view secret) {
  if (secret.size() < 8 || secret.size() > 200) return std::nullopt;
  pqxx::work tx(connection);
  auto rows = tx.exec_params(
      R"(SELECT k.id, k.name, k.role, k.driver_id,
                (SELECT coalesce(array_agg(site_id ORDER BY site_id), '{}')::text
                   FROM api_key_sites WHERE api_key_id = k.id),
                k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute'
         FROM api_keys k
         WHERE k.secret_sha256 = decode($1, 'hex') AND k.revoked_at IS NULL)",
      base::sha256_hex(secret));
  if (rows.empty()) return std::nullopt;
  const auto& row = rows[0];
  Principal principal;
  principal.key_id = row[0].as<std::int64_t>();
  principal.key_name = row[1].as<std::string>();
  principal.role = role_from_name(row[2].as<std::string>()).value_or(Role::Driver);
  if (!row[3].is_null()) principal.driver_id = row[3].as<std::int64_t>();
  auto sites = row[4].as_array();
  for (auto [kind, text] = sites.get_next(); kind != pqxx::array_parser::done;
       std::tie(kind, text) = sites.get_next())
    if (kind == pqxx::array_parser::string_value) principal.sites.push_back(std::stoll(text));
  // Last use is kept to the minute, so a busy key does not write on every request.
  if (row[5].as<bool>())
    tx.exec_params("UPDATE api_keys SET last_used_at = now() WHERE id = $1", principal.key_id);
  tx.commit();
  return principal;
}

}  // namespace chargegrid::server::api

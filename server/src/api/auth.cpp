#include "api/auth.hpp"

#include <openssl/rand.h>

#include <array>
#include <stdexcept>

#include "chargegrid/base/enum_names.hpp"
#include "chargegrid/base/sha256.hpp"
#include "store/api_keys.hpp"

namespace chargegrid::server::api {

namespace {

constexpr auto kRoleNames = base::enum_names<Role>({{Role::Admin, "admin"},
                                                    {Role::FacilityManager, "facility_manager"},
                                                    {Role::Utility, "utility"},
                                                    {Role::Driver, "driver"}});

}  // namespace

std::string_view role_name(Role role) {
  return kRoleNames.name(role);
}

std::optional<Role> role_from_name(std::string_view name) {
  return kRoleNames.parse(name);
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
  key.id = store::api_keys::insert(tx, name, std::string(role_name(role)), driver_id,
                                   base::sha256_hex(key.secret), sites);
  return key;
}

std::optional<Principal> authenticate(pqxx::connection& connection, std::string_view secret) {
  if (secret.size() < 8 || secret.size() > 200) return std::nullopt;
  pqxx::work tx(connection);
  const auto key = store::api_keys::use(tx, base::sha256_hex(secret));
  if (!key) return std::nullopt;
  Principal principal;
  principal.key_id = key->id;
  principal.key_name = key->name;
  principal.role = role_from_name(key->role).value_or(Role::Driver);
  principal.driver_id = key->driver_id;
  principal.sites = key->sites;
  tx.commit();
  return principal;
}

}  // namespace chargegrid::server::api

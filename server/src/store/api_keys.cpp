#include "store/api_keys.hpp"

#include <pqxx/pqxx>

#include "store/sql_arrays.hpp"

namespace chargegrid::server::store::api_keys {

std::int64_t insert(Tx& tx, const std::string& name, const std::string& role,
                    std::optional<std::int64_t> driver_id, const std::string& secret_sha256_hex,
                    const std::vector<std::int64_t>& sites) {
  const auto id = tx.exec_params1(
                        "INSERT INTO api_keys (name, role, driver_id, secret_sha256) "
                        "VALUES ($1, $2, $3, decode($4, 'hex')) RETURNING id",
                        name, role, driver_id, secret_sha256_hex)[0]
                      .as<std::int64_t>();
  if (!sites.empty())
    tx.exec_params(
        "INSERT INTO api_key_sites (api_key_id, site_id) SELECT $1, unnest($2::bigint[])", id,
        integer_array(sites));
  return id;
}

std::optional<StoredKey> use(Tx& tx, const std::string& secret_sha256_hex) {
  auto rows = tx.exec_params(
      R"(SELECT k.id, k.name, k.role, k.driver_id,
                (SELECT coalesce(array_agg(site_id ORDER BY site_id), '{}')::text
                   FROM api_key_sites WHERE api_key_id = k.id),
                k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute'
         FROM api_keys k
         WHERE k.secret_sha256 = decode($1, 'hex') AND k.revoked_at IS NULL)",
      secret_sha256_hex);
  if (rows.empty()) return std::nullopt;
  const auto& row = rows[0];
  StoredKey key;
  key.id = row[0].as<std::int64_t>();
  key.name = row[1].as<std::string>();
  key.role = row[2].as<std::string>();
  if (!row[3].is_null()) key.driver_id = row[3].as<std::int64_t>();
  auto sites = row[4].as_array();
  for (auto [kind, text] = sites.get_next(); kind != pqxx::array_parser::done;
       std::tie(kind, text) = sites.get_next())
    if (kind == pqxx::array_parser::string_value) key.sites.push_back(std::stoll(text));
  if (row[5].as<bool>())
    tx.exec_params("UPDATE api_keys SET last_used_at = now() WHERE id = $1", key.id);
  return key;
}

bool revoke(Tx& tx, std::int64_t id) {
  return tx.exec_params(
               "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1", id)
             .affected_rows() > 0;
}

}  // namespace chargegrid::server::store::api_keys

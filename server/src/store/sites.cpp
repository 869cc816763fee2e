#include "store/sites.hpp"

#include <pqxx/pqxx>

#include "store/sql_arrays.hpp"

namespace chargegrid::server::store::sites {

std::int64_t create(Tx& tx, const std::string& site_json) {
  return tx
      .exec_params1(
          R"(INSERT INTO sites (name, address, latitude, longitude, altitude_m,
                                           time_zone, import_limit_w, export_limit_w,
                                           ven_name, power_service_location)
                        SELECT $1::jsonb->>'name', $1::jsonb->>'address',
                               ($1::jsonb->'location'->>'latitude')::float8,
                               ($1::jsonb->'location'->>'longitude')::float8,
                               ($1::jsonb->'location'->>'altitude_m')::float8,
                               coalesce($1::jsonb->>'time_zone', 'UTC'),
                               ($1::jsonb->>'import_limit_w')::bigint,
                               ($1::jsonb->>'export_limit_w')::bigint,
                               $1::jsonb->>'ven_name', $1::jsonb->>'power_service_location'
                        RETURNING id)",
          site_json)[0]
      .as<std::int64_t>();
}

bool update(Tx& tx, std::int64_t id, const std::string& patch_json) {
  static const std::string sql = "UPDATE sites SET " + patch_column("name", "name", "text") + ", " +
                                 patch_column("address", "address", "text") + ", " +
                                 patch_column("time_zone", "time_zone", "text") + ", " +
                                 patch_column("import_limit_w", "import_limit_w", "bigint") + ", " +
                                 patch_column("export_limit_w", "export_limit_w", "bigint") +
                                 R"(, latitude = CASE WHEN $2::jsonb ? 'location'
                                 THEN ($2::jsonb->'location'->>'latitude')::float8 ELSE latitude END,
                 longitude = CASE WHEN $2::jsonb ? 'location'
                                  THEN ($2::jsonb->'location'->>'longitude')::float8 ELSE longitude END,
                 altitude_m = CASE WHEN $2::jsonb ? 'location'
                                   THEN ($2::jsonb->'location'->>'altitude_m')::float8 ELSE altitude_m END,
                 updated_at = now()
               WHERE id = $1)";
  // The demand-response targets (migration 0013), from the same patch.
  static const std::string targets =
      "UPDATE sites SET " + patch_column("ven_name", "ven_name", "text") + ", " +
      patch_column("power_service_location", "power_service_location", "text") + " WHERE id = $1";
  if (tx.exec_params(sql, id, patch_json).affected_rows() == 0) return false;
  tx.exec_params(targets, id, patch_json);
  return true;
}

bool remove(Tx& tx, std::int64_t id) {
  return tx.exec_params("DELETE FROM sites WHERE id = $1", id).affected_rows() > 0;
}

}  // namespace chargegrid::server::store::sites

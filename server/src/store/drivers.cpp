#include "store/drivers.hpp"

#include <pqxx/pqxx>

#include "store/sql_arrays.hpp"

namespace chargegrid::server::store::drivers {

namespace {

// "blocked" in the JSON ($2) sets the token's status; without it the status stays.
const std::string kTokenStatus = R"(
  CASE WHEN $2::jsonb ? 'blocked'
       THEN CASE WHEN ($2::jsonb->>'blocked')::boolean THEN 'Blocked' ELSE 'Accepted' END
       ELSE status END)";

// The token's columns a patch ($2) may set.
std::string token_columns() {
  return patch_column("token_type", "type", "text") + ", " +
         patch_column("valid_from", "valid_from", "timestamptz") + ", " +
         patch_column("valid_until", "valid_until", "timestamptz") + ", " +
         patch_column("parent_id_tag", "parent_id_tag", "text") + ", status = " + kTokenStatus;
}

}  // namespace

std::int64_t create(Tx& tx, const std::string& driver_json) {
  return tx
      .exec_params1(
          R"(INSERT INTO drivers (name, email, site_id)
             SELECT $1::jsonb->>'name', $1::jsonb->>'email', ($1::jsonb->>'site_id')::bigint
             RETURNING id)",
          driver_json)[0]
      .as<std::int64_t>();
}

void update(Tx& tx, std::int64_t id, const std::string& patch_json) {
  static const std::string sql = "UPDATE drivers SET " + patch_column("name", "name", "text") +
                                 ", " + patch_column("email", "email", "text") + ", " +
                                 patch_column("site_id", "site_id", "bigint") +
                                 ", updated_at = now() WHERE id = $1";
  tx.exec_params(sql, id, patch_json);
}

void remove(Tx& tx, std::int64_t id) {
  tx.exec_params("DELETE FROM id_tokens WHERE driver_id = $1", id);
  tx.exec_params("DELETE FROM drivers WHERE id = $1", id);
}

void enrol_token(Tx& tx, std::int64_t driver_id, const std::string& token_json) {
  tx.exec_params(
      R"(INSERT INTO id_tokens (id_token, token_type, status, valid_from,
                                valid_until, parent_id_tag, driver_id)
         SELECT $2::jsonb->>'id_token', coalesce($2::jsonb->>'type', 'ISO14443'),
                CASE WHEN coalesce(($2::jsonb->>'blocked')::boolean, false)
                     THEN 'Blocked' ELSE 'Accepted' END,
                ($2::jsonb->>'valid_from')::timestamptz,
                ($2::jsonb->>'valid_until')::timestamptz,
                $2::jsonb->>'parent_id_tag', $1)",
      driver_id, token_json);
}

void adopt_token(Tx& tx, const std::string& id_token, std::int64_t driver_id,
                 const std::string& token_json) {
  static const std::string sql =
      "UPDATE id_tokens SET " + token_columns() + ", driver_id = $3 WHERE id_token = $1";
  tx.exec_params(sql, id_token, token_json, driver_id);
}

void update_token(Tx& tx, const std::string& id_token, const std::string& patch_json) {
  static const std::string sql = "UPDATE id_tokens SET " + token_columns() + " WHERE id_token = $1";
  tx.exec_params(sql, id_token, patch_json);
}

void remove_token(Tx& tx, const std::string& id_token) {
  tx.exec_params("DELETE FROM id_tokens WHERE id_token = $1", id_token);
}

}  // namespace chargegrid::server::store::drivers

#pragma once
// api_keys: the one writer of REST API keys (api_keys, api_key_sites). Only a key's SHA-256
// is stored; the secret is shown once, when it is made.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/transaction.hpp"

namespace chargegrid::server::store::api_keys {

// Stores a new key; returns its id.
std::int64_t insert(Tx& tx, const std::string& name, const std::string& role,
                    std::optional<std::int64_t> driver_id, const std::string& secret_sha256_hex,
                    const std::vector<std::int64_t>& sites);

struct StoredKey {
  std::int64_t id = 0;
  std::string name;
  std::string role;
  std::optional<std::int64_t> driver_id;
  std::vector<std::int64_t> sites;
};
// The live (not revoked) key whose secret has this hash, its use noted (to the minute, so a
// busy key does not write on every request).
std::optional<StoredKey> use(Tx& tx, const std::string& secret_sha256_hex);

// Revokes a key (again: no change); false when there is no such key.
bool revoke(Tx& tx, std::int64_t id);

}  // namespace chargegrid::server::store::api_keys

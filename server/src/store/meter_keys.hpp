#pragma once
// meter_keys: the one writer of the meters' public keys per EVSE (migration 0014), which
// signed meter data is verified with. A key is registered by an operator (replacing what was
// there) or learnt from a session's first signed reading (only where none is pinned).

#include <optional>
#include <string>

#include "store/transaction.hpp"

namespace chargegrid::server::store::meter_keys {

struct MeterKey {
  std::string station_id;
  int evse_id = 0;
  std::string public_key;              // lowercase hex DER SubjectPublicKeyInfo
  std::string source;                  // "registered" or "learnt"
  std::string created_at, updated_at;  // RFC 3339 UTC
};

std::optional<MeterKey> find(Tx& tx, const std::string& station_id, int evse_id);
// An operator's key: replaces any pinned key. Returns the stored row.
MeterKey register_key(Tx& tx, const std::string& station_id, int evse_id,
                      const std::string& public_key_hex);
// Pins a learnt key unless one is pinned already; returns whether it was stored.
bool learn(Tx& tx, const std::string& station_id, int evse_id, const std::string& public_key_hex);

}  // namespace chargegrid::server::store::meter_keys

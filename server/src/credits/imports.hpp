#pragma once
// Credit imports: the credits the authority returns for reported energy (period, station or
// site, amount), read from CSV or JSON, checked row by row, and allocated to the station owners
// in proportion to their verified energy in that period, all in one transaction. A row that is
// malformed, too large, for an open period, for a station or site outside the caller's scope or
// without verified energy refuses the whole import with its number; the same body again is the
// same import.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "store/transaction.hpp"

namespace chargegrid::server::credits {

inline constexpr std::size_t kMaxImportBytes = 1 << 20;
inline constexpr std::size_t kMaxImportRows = 10000;
inline constexpr std::int64_t kMaxAmountMinor = 1'000'000'000'000'000;  // 10^15

enum class ImportFormat { kCsv, kJson };

struct ImportRow {
  std::size_t number = 0;  // 1-based, data rows only
  std::string period;
  std::optional<std::string> station_id;
  std::optional<std::int64_t> site_id;
  std::int64_t amount_minor = 0;
  std::string currency;
};

// A refused import; `row` is 0 when the problem is the body as a whole.
class ImportError : public std::runtime_error {
 public:
  ImportError(std::size_t row, const std::string& message)
      : std::runtime_error(row ? "row " + std::to_string(row) + ": " + message : message),
        row_(row) {}
  std::size_t row() const { return row_; }

 private:
  std::size_t row_;
};

// Throws ImportError. CSV: a header naming period, amount_minor, currency and station_id and/or
// site_id, in any order. JSON: {"rows": [{"period", "station_id" | "site_id", "amount_minor",
// "currency"}]}.
std::vector<ImportRow> parse_import(std::string_view body, ImportFormat format);

struct ImportOutcome {
  std::int64_t import_id = 0;
  bool created = false;  // false: this body had been imported already
};

// Whether the caller may use a site's (or a siteless station's, nullopt) energy.
using SiteScope = std::function<bool(std::optional<std::int64_t>)>;

// Throws ImportError for a row that cannot be imported; nothing is written then.
ImportOutcome import_credits(store::Tx& tx, std::string_view body, ImportFormat format,
                             const SiteScope& in_scope, std::int64_t api_key_id);

}  // namespace chargegrid::server::credits

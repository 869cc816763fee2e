#include "credits/imports.hpp"

#include <map>
#include <nlohmann/json.hpp>

#include "chargegrid/base/encoding.hpp"
#include "chargegrid/base/sha256.hpp"
#include "credits/allocation.hpp"
#include "credits/csv.hpp"
#include "credits/period.hpp"
#include "store/credits.hpp"

namespace chargegrid::server::credits {
namespace {

using nlohmann::json;

std::int64_t amount_of(std::size_t row, const std::string& text) {
  if (text.empty() || text.size() > 16 || text.find_first_not_of("0123456789") != std::string::npos)
    throw ImportError(row, "amount_minor: '" + text + "' is not a whole number of minor units");
  const auto amount = std::stoll(text);
  if (amount <= 0 || amount > kMaxAmountMinor)
    throw ImportError(row, "amount_minor: must be between 1 and 10^15");
  return amount;
}

std::int64_t site_of(std::size_t row, const std::string& text) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
    throw ImportError(row, "site_id: '" + text + "' is not a site id");
  return std::stoll(text);
}

// The checks every row passes whatever its format.
void check_row(const ImportRow& r) {
  if (!parse_period(r.period))
    throw ImportError(r.number,
                      "period: '" + r.period + "' is not a month (YYYY-MM) or a quarter (YYYY-Qn)");
  if (r.station_id.has_value() == r.site_id.has_value())
    throw ImportError(r.number, "give either station_id or site_id");
  if (r.station_id && (r.station_id->empty() || r.station_id->size() > 48))
    throw ImportError(r.number, "station_id: must be 1 to 48 characters");
  if (r.currency.size() != 3 ||
      r.currency.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos)
    throw ImportError(r.number, "currency: '" + r.currency + "' is not an ISO 4217 code");
}

std::vector<ImportRow> parse_csv_rows(std::string_view body) {
  auto parsed = parse_csv(body);
  if (parsed.error) throw ImportError(0, *parsed.error);
  if (parsed.rows.empty()) throw ImportError(0, "the file is empty: expected a header row");
  const auto& header = parsed.rows.front().fields;
  std::map<std::string, std::size_t> column;
  for (std::size_t i = 0; i < header.size(); ++i) {
    const auto& name = header[i];
    if (name != "period" && name != "station_id" && name != "site_id" && name != "amount_minor" &&
        name != "currency")
      throw ImportError(0, "header: unknown column '" + name +
                               "' (period, station_id, site_id, amount_minor, currency)");
    if (!column.emplace(name, i).second) throw ImportError(0, "header: '" + name + "' twice");
  }
  for (const auto* needed : {"period", "amount_minor", "currency"})
    if (!column.count(needed)) throw ImportError(0, std::string("header: no column ") + needed);
  if (!column.count("station_id") && !column.count("site_id"))
    throw ImportError(0, "header: no station_id or site_id column");
  std::vector<ImportRow> rows;
  for (std::size_t i = 1; i < parsed.rows.size(); ++i) {
    const auto& fields = parsed.rows[i].fields;
    ImportRow r;
    r.number = i;
    if (fields.size() != header.size())
      throw ImportError(i, "line " + std::to_string(parsed.rows[i].line) + " has " +
                               std::to_string(fields.size()) + " fields, the header " +
                               std::to_string(header.size()));
    auto field = [&](const char* name) -> std::string {
      auto it = column.find(name);
      return it == column.end() ? std::string() : fields[it->second];
    };
    r.period = field("period");
    if (!field("station_id").empty()) r.station_id = field("station_id");
    if (!field("site_id").empty()) r.site_id = site_of(i, field("site_id"));
    r.amount_minor = amount_of(i, field("amount_minor"));
    r.currency = field("currency");
    check_row(r);
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<ImportRow> parse_json_rows(std::string_view body) {
  json document;
  try {
    document = json::parse(body);
  } catch (const json::parse_error& e) {
    throw ImportError(0, "the body is neither CSV (send Content-Type: text/csv) nor valid JSON");
  }
  if (!document.is_object() || !document.contains("rows") || !document["rows"].is_array() ||
      document.size() != 1)
    throw ImportError(0, "expected {\"rows\": [...]}");
  std::vector<ImportRow> rows;
  std::size_t number = 0;
  for (const auto& item : document["rows"]) {
    ImportRow r;
    r.number = ++number;
    if (!item.is_object()) throw ImportError(number, "must be an object");
    for (const auto& [key, value] : item.items()) {
      if (key == "period" && value.is_string()) {
        r.period = value.get<std::string>();
      } else if (key == "station_id" && value.is_string()) {
        r.station_id = value.get<std::string>();
      } else if (key == "site_id" && value.is_number_unsigned() && value.get<std::int64_t>() > 0) {
        r.site_id = value.get<std::int64_t>();
      } else if (key == "amount_minor" && value.is_number_integer()) {
        r.amount_minor = value.get<std::int64_t>();
        if (r.amount_minor <= 0 || r.amount_minor > kMaxAmountMinor)
          throw ImportError(number, "amount_minor: must be between 1 and 10^15");
      } else if (key == "currency" && value.is_string()) {
        r.currency = value.get<std::string>();
      } else {
        throw ImportError(number, key + ": unknown member or wrong type");
      }
    }
    if (r.amount_minor == 0) throw ImportError(number, "amount_minor: missing");
    check_row(r);
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace

std::vector<ImportRow> parse_import(std::string_view body, ImportFormat format) {
  if (body.size() > kMaxImportBytes)
    throw ImportError(0, "the body exceeds " + std::to_string(kMaxImportBytes) + " bytes");
  auto rows = format == ImportFormat::kCsv ? parse_csv_rows(body) : parse_json_rows(body);
  if (rows.empty()) throw ImportError(0, "no rows to import");
  if (rows.size() > kMaxImportRows)
    throw ImportError(kMaxImportRows + 1,
                      "an import holds at most " + std::to_string(kMaxImportRows) + " rows");
  return rows;
}

ImportOutcome import_credits(store::Tx& tx, std::string_view body, ImportFormat format,
                             const SiteScope& in_scope, std::int64_t api_key_id) {
  namespace repo = store::credits;
  const auto rows = parse_import(body, format);
  const auto digest = base::hex_encode(base::sha256(body));
  repo::lock_import(tx, digest);  // the same body sent twice at once: one import
  if (auto existing = repo::find_import(tx, digest)) return {*existing, false};

  const auto now = repo::now(tx);
  std::vector<repo::Allocation> allocations;
  for (const auto& row : rows) {
    const auto period = *parse_period(row.period);
    const repo::Span span{day_text(period.start), day_text(period.end)};
    if (now < span.to)
      throw ImportError(row.number, "period " + row.period + " has not ended: nothing to credit");
    std::optional<std::int64_t> site = row.site_id;
    if (row.station_id) {
      auto station_site = repo::station_site(tx, *row.station_id);
      if (!station_site || !in_scope(*station_site))
        throw ImportError(row.number, "no station " + *row.station_id + " in this key's sites");
      site = *station_site;
    } else if (!repo::site_exists(tx, *row.site_id) || !in_scope(row.site_id)) {
      throw ImportError(row.number,
                        "no site " + std::to_string(*row.site_id) + " in this key's sites");
    }
    std::vector<Claim> claims;
    for (auto& owner : repo::verified_energy_by_owner(tx, span, row.station_id, row.site_id))
      claims.push_back({std::move(owner.owner), owner.verified_wh});
    if (claims.empty())
      throw ImportError(row.number, "no verified energy of " +
                                        (row.station_id ? "station " + *row.station_id
                                                        : "site " + std::to_string(*row.site_id)) +
                                        " in " + row.period + " to allocate the credit to");
    for (auto& share : allocate(row.amount_minor, std::move(claims))) {
      allocations.push_back({row.number, row.period, row.station_id, site, std::move(share.owner),
                             row.currency, share.verified_wh, share.amount_minor});
    }
  }
  const auto id = repo::insert_import(tx, digest, format == ImportFormat::kCsv ? "csv" : "json",
                                      static_cast<int>(rows.size()), api_key_id, allocations);
  return {id, true};
}

}  // namespace chargegrid::server::credits

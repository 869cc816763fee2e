#include "ocpp/common.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <pqxx/pqxx>

#include "store/station_reports.hpp"
#include "units.hpp"

namespace chargegrid::server::ocpp {

void add_201_and_21(HandlerRegistry& registry, const std::string& action, Handler handler) {
  registry.add(protocols::OcppVersion::v201, action, handler);
  registry.add(protocols::OcppVersion::v21, action, std::move(handler));
}

TokenCheck check_token(pqxx::transaction_base& tx, const std::string& id_token,
                       bool accept_unknown) {
  auto rows = tx.exec_params(
      "SELECT status, "
      "       to_char(valid_until AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
      "       parent_id_tag, driver_id, "
      "       valid_until IS NOT NULL AND valid_until < now(), "
      "       valid_from IS NOT NULL AND valid_from > now() "
      "FROM id_tokens WHERE id_token = $1",
      id_token);
  TokenCheck check;
  if (rows.empty()) {
    check.status = accept_unknown ? "Accepted" : "Unknown";
    return check;
  }
  const auto& row = rows[0];
  check.status = row[0].as<std::string>();
  if (!row[1].is_null()) check.expiry = row[1].as<std::string>();
  if (!row[2].is_null()) check.parent = row[2].as<std::string>();
  if (!row[3].is_null()) check.driver_id = row[3].as<long long>();
  if (check.status == "Accepted" && row[4].as<bool>()) check.status = "Expired";
  if (check.status == "Accepted" && row[5].as<bool>()) check.status = "NotAtThisTime";
  return check;
}

nlohmann::json id_tag_info_16(const TokenCheck& check) {
  // 1.6 knows Accepted, Blocked, Expired, Invalid, ConcurrentTx.
  std::string status = check.status;
  if (status == "Unknown" || status == "NotAtThisTime") status = "Invalid";
  nlohmann::json info{{"status", status}};
  if (check.expiry) info["expiryDate"] = *check.expiry;
  if (check.parent) info["parentIdTag"] = *check.parent;
  return info;
}

nlohmann::json id_token_info_201(const TokenCheck& check) {
  nlohmann::json info{{"status", check.status}};
  if (check.expiry) info["cacheExpiryDateTime"] = *check.expiry;
  return info;
}

namespace {

// Anything larger is no meter reading (a petawatt-hour); it would also not fit the
// integer Wh columns a session's registers are kept in.
constexpr double kMaxMeterMagnitude = 1e15;

// A reading that can be stored and summed: finite, within range, and no negative register.
void check_reading(const MeterRow& row, const SampledValue& sample) {
  const double v = *row.value;
  if (!std::isfinite(v)) throw BadMeterValue(sample.path("/value"), "must be a finite number");
  if (std::abs(v) > kMaxMeterMagnitude)
    throw BadMeterValue(sample.path("/value"), "is out of range (more than 1e15 " + row.unit + ")");
  if (v < 0 && row.measurand.ends_with(".Register"))
    throw BadMeterValue(sample.path("/value"), "a register reading cannot be negative");
}

}  // namespace

std::vector<MeterRow> meter_rows(const std::string& station_id, int evse_id,
                                 std::optional<int> transaction_id,
                                 const std::vector<MeterValue>& values) {
  std::vector<MeterRow> rows;
  std::size_t count = 0;
  for (const auto& value : values) count += value.samples.size();
  rows.reserve(count);
  for (const auto& value : values) {
    for (const auto& sample : value.samples) {
      MeterRow row;
      row.station_id = station_id;
      row.evse_id = evse_id;
      row.sampled_at = value.timestamp;
      row.measurand = sample.measurand;
      row.phase = sample.phase;
      row.location = sample.location;
      row.context = sample.context;
      row.format = sample.format;
      row.transaction_id = transaction_id;
      row.signed_data = sample.signed_data;
      double number = 0;
      std::string_view unit_field = "/unitOfMeasure/unit";
      if (sample.number) {
        number = *sample.number;
      } else if (sample.text) {
        const auto& text = *sample.text;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
        // from_chars also reads "nan" and "inf": not numbers a meter sends.
        if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(number))
          throw BadMeterValue(sample.path("/value"),
                              "'" + text.substr(0, 64) + "' is not a number");
        unit_field = "/unit";
      } else {
        // Signed data only (1.6 SignedData): the reading is inside the signature.
        row.unit = std::string(default_unit(row.measurand));
        rows.push_back(std::move(row));
        continue;
      }
      auto normalised = normalise(row.measurand, sample.unit, number, sample.multiplier);
      if (!normalised)
        throw BadMeterValue(sample.path(unit_field), "unknown unit '" + sample.unit + "'");
      row.value = normalised->value;
      row.unit = normalised->unit;
      check_reading(row, sample);
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

RegisterSpan register_span(const std::vector<MeterRow>& rows) {
  RegisterSpan span;
  auto widen = [](std::optional<double>& low, std::optional<double>& high, double v) {
    low = low ? std::min(*low, v) : v;
    high = high ? std::max(*high, v) : v;
  };
  for (const auto& row : rows) {
    if (!row.value || !row.phase.empty() || (!row.location.empty() && row.location != "Outlet"))
      continue;
    if (row.measurand == "Energy.Active.Import.Register")
      widen(span.import_min, span.import_max, *row.value);
    else if (row.measurand == "Energy.Active.Export.Register")
      widen(span.export_min, span.export_max, *row.value);
  }
  return span;
}

boost::asio::awaitable<void> store_notification(Services& services, const std::string& station_id,
                                                std::string_view kind,
                                                const std::optional<std::string>& status,
                                                std::optional<int> request_id,
                                                const nlohmann::json& payload) {
  const std::string text = payload.dump();
  co_await services.database.run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    store::station_reports::keep_notification(tx, station_id, std::string(kind), status, request_id,
                                              text);
    tx.commit();
  });
}

}  // namespace chargegrid::server::ocpp

#include "chargegrid/testing/stored_once.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <iterator>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <sstream>
#include <tuple>

namespace chargegrid::testing {

namespace {

using nlohmann::json;

bool is_transaction_message(const std::string& action) {
  return action == "StartTransaction" || action == "StopTransaction" || action == "MeterValues" ||
         action == "TransactionEvent";
}

// A sampled value as the station identifies it: who, when, what, where.
using SampleKey = std::tuple<std::string, std::string, std::string, std::string, std::string,
                             std::string>;  // station, timestamp, measurand, phase, location,
                                            // context

std::string describe(const SampleKey& k) {
  const auto& [station, at, measurand, phase, location, context] = k;
  return station + " " + at + " " + measurand + " " + phase + " " + location + " " + context;
}

// What the station said about one sampled value.
struct Sample {
  double value = 0;                  // in the base unit (Wh, W, A, V, %)
  std::optional<long long> tx16;     // 1.6: the transactionId it was sent with
  std::optional<std::string> tx201;  // 2.0.1: the station's transaction id
};

// Values in the base units the database keeps (kWh -> Wh, multiplier applied).
double in_base_unit(double value, const std::string& unit, int multiplier) {
  value *= std::pow(10.0, multiplier);
  if (unit.size() > 1 && unit[0] == 'k') value *= 1000.0;
  return value;
}

struct Expected {
  // 1.6: each distinct StartTransaction (station + payload) -> the ids it was answered with.
  std::map<std::pair<std::string, std::string>, std::set<long long>> starts;
  std::map<std::pair<std::string, long long>, long long> meter_start;  // (station, id)
  std::map<std::pair<std::string, long long>, long long> meter_stop;
  // 2.0.1
  std::set<std::pair<std::string, std::string>> uids;
  std::set<std::pair<std::string, std::string>> ended_uids;
  std::set<std::tuple<std::string, std::string, int>> events;
  std::map<SampleKey, Sample> samples;
  std::size_t sample_conflicts = 0;  // the same key sent with different values
};

void add_samples(Expected& expected, const std::string& station, const json& meter_values, bool v16,
                 std::optional<long long> tx16, std::optional<std::string> tx201) {
  for (const auto& mv : meter_values) {
    const auto at = mv.at("timestamp").get<std::string>();
    for (const auto& sv : mv.at("sampledValue")) {
      SampleKey key{station,
                    at,
                    sv.value("measurand", "Energy.Active.Import.Register"),
                    sv.value("phase", ""),
                    sv.value("location", ""),
                    sv.value("context", "")};
      Sample sample;
      if (v16) {
        sample.value =
            in_base_unit(std::stod(sv.at("value").get<std::string>()), sv.value("unit", "Wh"), 0);
      } else {
        const auto uom = sv.value("unitOfMeasure", json::object());
        sample.value = in_base_unit(sv.at("value").get<double>(), uom.value("unit", "Wh"),
                                    uom.value("multiplier", 0));
      }
      sample.tx16 = tx16;
      sample.tx201 = tx201;
      auto [it, inserted] = expected.samples.emplace(key, sample);
      if (!inserted && std::abs(it->second.value - sample.value) > 1e-6) {
        ++expected.sample_conflicts;
      }
    }
  }
}

Expected expected_from(const std::vector<Exchange>& exchanges, StoredOnceSummary& summary) {
  Expected expected;
  // Every transaction message (station, action, content) must have been acknowledged.
  std::map<std::tuple<std::string, std::string, std::string>, int> acknowledged;
  for (const auto& e : exchanges) {
    if (!is_transaction_message(e.action)) continue;
    ++summary.transaction_calls;
    const auto content = std::make_tuple(e.station_id, e.action, e.payload.dump());
    auto& acks = acknowledged[content];
    if (e.answer == Exchange::Answer::Error) ++summary.refused;
    if (e.answer == Exchange::Answer::None) ++summary.unanswered;
    if (e.answer != Exchange::Answer::Result) continue;
    if (++acks > 1) ++summary.duplicate_answers;
    const auto& p = e.payload;
    if (e.action == "StartTransaction") {
      const long long id = e.result.at("transactionId").get<long long>();
      expected.starts[{e.station_id, p.dump()}].insert(id);
      expected.meter_start[{e.station_id, id}] = p.at("meterStart").get<long long>();
    } else if (e.action == "StopTransaction") {
      const long long id = p.at("transactionId").get<long long>();
      expected.meter_stop[{e.station_id, id}] = p.at("meterStop").get<long long>();
      if (p.contains("transactionData"))
        add_samples(expected, e.station_id, p["transactionData"], true, id, std::nullopt);
    } else if (e.action == "MeterValues" && p.contains("connectorId")) {
      std::optional<long long> id;
      if (p.contains("transactionId")) id = p["transactionId"].get<long long>();
      add_samples(expected, e.station_id, p.at("meterValue"), true, id, std::nullopt);
    } else if (e.action == "MeterValues") {
      add_samples(expected, e.station_id, p.at("meterValue"), false, std::nullopt, std::nullopt);
    } else if (e.action == "TransactionEvent") {
      const auto uid = p.at("transactionInfo").at("transactionId").get<std::string>();
      expected.uids.insert({e.station_id, uid});
      expected.events.insert({e.station_id, uid, p.at("seqNo").get<int>()});
      if (p.at("eventType") == "Ended") expected.ended_uids.insert({e.station_id, uid});
      if (p.contains("meterValue"))
        add_samples(expected, e.station_id, p["meterValue"], false, std::nullopt, uid);
    }
  }
  std::size_t never_acknowledged = 0;
  std::string first_lost;
  for (const auto& [content, acks] : acknowledged) {
    if (acks > 0) continue;
    if (never_acknowledged++ == 0)
      first_lost = std::get<0>(content) + " " + std::get<1>(content) + " " + std::get<2>(content);
  }
  INFO("first transaction message never acknowledged: " << first_lost);
  CHECK(never_acknowledged == 0);
  return expected;
}

template <class Set>
std::string first_of(const Set& set) {
  if (set.empty()) return "";
  std::ostringstream out;
  const auto& first = *set.begin();
  out << std::get<0>(first) << " " << std::get<1>(first);
  return out.str();
}

}  // namespace

StoredOnceSummary check_stored_exactly_once(const std::vector<Exchange>& exchanges,
                                            const std::string& database_url,
                                            const std::string& station_prefix,
                                            const sim::Stats& stats) {
  StoredOnceSummary summary;
  const Expected expected = expected_from(exchanges, summary);
  CHECK(expected.sample_conflicts == 0);
  summary.events = expected.events.size();
  summary.samples = expected.samples.size();

  // 1.6: one transaction per distinct StartTransaction, and one StartTransaction per id.
  std::set<std::pair<std::string, long long>> expected16;
  std::size_t ambiguous_starts = 0;
  for (const auto& [start, ids] : expected.starts) {
    if (ids.size() != 1) ++ambiguous_starts;
    for (auto id : ids)
      if (!expected16.insert({start.first, id}).second) ++ambiguous_starts;
  }
  CHECK(ambiguous_starts == 0);
  summary.transactions = expected16.size() + expected.uids.size();

  pqxx::connection connection(database_url);
  pqxx::read_transaction tx(connection);
  const std::string like = station_prefix + "%";

  std::set<std::pair<std::string, long long>> stored16;
  std::set<std::pair<std::string, std::string>> stored201;
  std::map<std::pair<std::string, std::string>, long long> id_of_uid;
  std::size_t not_ended = 0, wrong_start = 0, wrong_stop = 0;
  for (const auto& row :
       tx.exec_params("SELECT station_id, id, protocol, transaction_uid, state, meter_start_wh, "
                      "meter_stop_wh FROM transactions WHERE station_id LIKE $1",
                      like)) {
    const auto station = row[0].as<std::string>();
    const auto id = row[1].as<long long>();
    const auto uid = row[3].as<std::string>();
    if (row[4].as<std::string>() != "ended") ++not_ended;
    if (row[2].as<std::string>() == "ocpp1.6") {
      stored16.insert({station, id});
      const auto start = expected.meter_start.find({station, id});
      if (start != expected.meter_start.end() &&
          (row[5].is_null() || row[5].as<long long>() != start->second))
        ++wrong_start;
      const auto stop = expected.meter_stop.find({station, id});
      if (stop == expected.meter_stop.end() || row[6].is_null() ||
          row[6].as<long long>() != stop->second)
        ++wrong_stop;
    } else {
      stored201.insert({station, uid});
      id_of_uid[{station, uid}] = id;
    }
  }
  std::set<std::pair<std::string, long long>> missing16, extra16;
  std::set_difference(expected16.begin(), expected16.end(), stored16.begin(), stored16.end(),
                      std::inserter(missing16, missing16.end()));
  std::set_difference(stored16.begin(), stored16.end(), expected16.begin(), expected16.end(),
                      std::inserter(extra16, extra16.end()));
  std::set<std::pair<std::string, std::string>> missing201, extra201;
  std::set_difference(expected.uids.begin(), expected.uids.end(), stored201.begin(),
                      stored201.end(), std::inserter(missing201, missing201.end()));
  std::set_difference(stored201.begin(), stored201.end(), expected.uids.begin(),
                      expected.uids.end(), std::inserter(extra201, extra201.end()));
  {
    INFO("1.6 missing e.g. " << first_of(missing16) << "; 1.6 extra e.g. " << first_of(extra16));
    INFO("2.0.1 missing e.g. " << first_of(missing201) << "; 2.0.1 extra e.g. "
                               << first_of(extra201));
    CHECK(missing16.empty());
    CHECK(extra16.empty());
    CHECK(missing201.empty());
    CHECK(extra201.empty());
    CHECK(not_ended == 0);
    CHECK(wrong_start == 0);
    CHECK(wrong_stop == 0);
    CHECK(expected.ended_uids == expected.uids);  // every 2.0.1 session's end was acknowledged
  }

  // 2.0.1 events: exactly the acknowledged ones.
  std::set<std::tuple<std::string, std::string, int>> stored_events;
  for (const auto& row :
       tx.exec_params("SELECT station_id, transaction_uid, seq_no FROM transaction_events "
                      "WHERE station_id LIKE $1",
                      like))
    stored_events.insert({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<int>()});
  CHECK(stored_events == expected.events);

  // Meter rows: each acknowledged sample once, with its value and transaction; no others.
  std::map<SampleKey, int> stored_count;
  std::size_t missing_samples = 0, extra_samples = 0, wrong_value = 0, wrong_transaction = 0;
  std::string first_problem;
  auto note = [&first_problem](const std::string& what) {
    if (first_problem.empty()) first_problem = what;
  };
  for (const auto& row : tx.exec_params(
           R"(SELECT station_id,
                     to_char(sampled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                     measurand, phase, location, context, value, transaction_id
              FROM meter_values WHERE station_id LIKE $1)",
           like)) {
    SampleKey key{row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                  row[3].as<std::string>(), row[4].as<std::string>(), row[5].as<std::string>()};
    ++stored_count[key];
    const auto it = expected.samples.find(key);
    if (it == expected.samples.end()) {
      ++extra_samples;
      note("extra: " + describe(key));
      continue;
    }
    const Sample& sample = it->second;
    const double value = row[6].is_null() ? std::nan("") : row[6].as<double>();
    if (!(std::abs(value - sample.value) <= 1e-6 * std::max(1.0, std::abs(sample.value)))) {
      ++wrong_value;
      note("value: " + describe(key));
    }
    std::optional<long long> expected_tx = sample.tx16;
    if (sample.tx201) {
      const auto id = id_of_uid.find({std::get<0>(key), *sample.tx201});
      if (id != id_of_uid.end()) expected_tx = id->second;
    }
    const std::optional<long long> stored_tx =
        row[7].is_null() ? std::nullopt : std::optional<long long>(row[7].as<long long>());
    if (stored_tx != expected_tx) {
      ++wrong_transaction;
      note("transaction: " + describe(key));
    }
  }
  tx.commit();
  std::size_t duplicate_samples = 0;
  for (const auto& [key, n] : stored_count)
    if (n > 1) {
      ++duplicate_samples;
      note("duplicate: " + describe(key));
    }
  for (const auto& [key, sample] : expected.samples)
    if (!stored_count.contains(key)) {
      ++missing_samples;
      note("missing: " + describe(key));
    }
  INFO("first meter problem: " << first_problem);
  CHECK(missing_samples == 0);
  CHECK(extra_samples == 0);
  CHECK(duplicate_samples == 0);
  CHECK(wrong_value == 0);
  CHECK(wrong_transaction == 0);

  // The simulator's own count of what it did agrees.
  CHECK(stats.stations_finished == stats.stations);
  CHECK(stats.sessions_completed == stats.sessions_started);
  CHECK(stats.sessions_started == stored16.size() + stored201.size());
  return summary;
}

}  // namespace chargegrid::testing

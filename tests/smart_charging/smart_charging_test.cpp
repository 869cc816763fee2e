// The smart-charging loop end to end: a server with --smart-charging, sites with an import
// limit, and stations on real sockets that answer the profiles they receive.

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <thread>

#include "api/api_fixture.hpp"
#include "chargegrid/base/time_zone.hpp"
#include "chargegrid/scheduler/holidays.hpp"
#include "store/demand_response.hpp"
#include "store/outbox.hpp"

using namespace chargegrid::testing;
using nlohmann::json;
using std::chrono::seconds;

namespace {

constexpr int kSlot = 300;

chargegrid::server::Config smart_config() {
  auto config = free_vend_config();
  config.smart_charging = true;
  config.smart_charging_slot_s = kSlot;
  config.smart_charging_horizon_s = 6 * 3600;
  config.smart_charging_evse_power_w = 11000;
  config.call_timeout_s = 5;
  return config;
}

// A station that answers every CALL the server sends (status `answer`) and keeps them.
class Station {
 public:
  Station(ServerFixture& fx, std::string id, std::string protocol)
      : Station(fx.server().ocpp_port(), std::move(id), std::move(protocol)) {}
  // A station of a server of its own (one started on the fixture's database).
  Station(std::uint16_t ocpp_port, std::string id, std::string protocol)
      : id_(std::move(id)), protocol_(std::move(protocol)), client_(connect(ocpp_port)) {
    const bool v16 = protocol_ == "ocpp1.6";
    REQUIRE(is_result(call("BootNotification", v16 ? boot_16() : boot_201())));
    thread_ = std::thread([this] {
      while (!stop_) {
        std::lock_guard lock(mutex_);
        if (client_->closed()) return;
        if (auto frame = client_->receive(std::chrono::milliseconds(20))) handle(*frame);
      }
    });
  }
  ~Station() {
    stop_ = true;
    thread_.join();
  }

  json call(const std::string& action, const json& payload) {
    std::lock_guard lock(mutex_);
    auto result = client_->call(action, payload);
    for (const auto& frame : client_->take_skipped()) handle(frame);
    return result;
  }
  void answer(const std::string& status) {
    std::lock_guard lock(mutex_);
    answer_ = status;
  }
  void disconnect() {
    std::lock_guard lock(mutex_);
    client_->close();
  }
  // CALLs received of `action`, oldest first.
  std::vector<json> received(const std::string& action) {
    std::lock_guard lock(mutex_);
    std::vector<json> out;
    for (const auto& c : calls_)
      if (c[2] == action) out.push_back(c[3]);
    return out;
  }
  std::size_t count(const std::string& action) { return received(action).size(); }
  // The latest SetChargingProfile of a purpose (2.x names; 1.6's ChargePointMaxProfile too).
  json last_profile(const std::string& purpose) {
    json out;
    for (const auto& p : received("SetChargingProfile")) {
      const auto& profile =
          p.contains("csChargingProfiles") ? p["csChargingProfiles"] : p["chargingProfile"];
      auto name = profile["chargingProfilePurpose"].get<std::string>();
      if (name == "ChargePointMaxProfile") name = "ChargingStationMaxProfile";
      if (name == purpose) out = p;
    }
    return out;
  }
  json last_tx() { return last_profile("TxProfile"); }
  json last(const std::string& action) {
    auto all = received(action);
    return all.empty() ? json() : all.back();
  }

  // Starts a session on EVSE 1 now; its id in the server.
  void start(ServerFixture& fx) {
    const auto now = rfc3339(std::chrono::system_clock::now());
    if (protocol_ == "ocpp1.6") {
      auto started = call("StartTransaction", start_16(1, 1000, now, "TAG-" + id_));
      REQUIRE(is_result(started));
    } else {
      auto started =
          call("TransactionEvent", {{"eventType", "Started"},
                                    {"timestamp", now},
                                    {"triggerReason", "Authorized"},
                                    {"seqNo", 0},
                                    {"transactionInfo", {{"transactionId", "TX-" + id_}}},
                                    {"idToken", {{"idToken", "TAG-" + id_}, {"type", "ISO14443"}}},
                                    {"evse", {{"id", 1}, {"connectorId", 1}}}});
      REQUIRE(is_result(started));
    }
    session_ =
        std::stoll(fx.query_value("SELECT id FROM transactions WHERE station_id = '" + id_ + "'"));
  }
  void end() {
    const auto now = rfc3339(std::chrono::system_clock::now());
    if (protocol_ == "ocpp1.6") {
      REQUIRE(
          is_result(call("StopTransaction",
                         {{"transactionId", session_}, {"meterStop", 9000}, {"timestamp", now}})));
    } else {
      REQUIRE(is_result(call("TransactionEvent", {{"eventType", "Ended"},
                                                  {"timestamp", now},
                                                  {"triggerReason", "EVCommunicationLost"},
                                                  {"seqNo", 1},
                                                  {"transactionInfo",
                                                   {{"transactionId", "TX-" + id_},
                                                    {"stoppedReason", "EVDisconnected"}}},
                                                  {"evse", {{"id", 1}, {"connectorId", 1}}}})));
    }
  }
  long long session() const { return session_; }
  // Takes the server's id of the session running on EVSE 1 (after a reconnect).
  void resume(ServerFixture& fx) {
    session_ = std::stoll(fx.query_value("SELECT id FROM transactions WHERE station_id = '" + id_ +
                                         "' AND state = 'active'"));
  }
  const std::string& id() const { return id_; }
  bool v16() const { return protocol_ == "ocpp1.6"; }

 private:
  std::unique_ptr<chargegrid::sim::OcppTestClient> connect(std::uint16_t port) const {
    auto client = std::make_unique<chargegrid::sim::OcppTestClient>();
    client->connect("127.0.0.1", port, "/ocpp/" + id_, {protocol_});
    return client;
  }
  void handle(const std::string& text) {
    auto frame = json::parse(text, nullptr, false);
    if (!frame.is_array() || frame.size() < 4 || frame[0] != 2) return;
    calls_.push_back(frame);
    client_->send_text(json::array({3, frame[1], {{"status", answer_}}}).dump());
  }

  std::string id_, protocol_;
  std::unique_ptr<chargegrid::sim::OcppTestClient> client_;
  std::mutex mutex_;
  std::vector<json> calls_;
  std::string answer_ = "Accepted";
  std::atomic<bool> stop_{false};
  std::thread thread_;
  long long session_ = 0;
};

// The schedule and its periods of a SetChargingProfile, whichever the version.
json schedule_of(const json& payload) {
  if (payload.contains("csChargingProfiles"))
    return payload["csChargingProfiles"]["chargingSchedule"];
  return payload["chargingProfile"]["chargingSchedule"][0];
}

// The limit in W a profile sets at `at`, or nullopt past its duration (or with no profile yet:
// a station's last profile is null until it has one).
std::optional<double> watts_at(const json& payload, std::chrono::system_clock::time_point at) {
  if (!payload.is_object()) return std::nullopt;
  const auto schedule = schedule_of(payload);
  const auto start = *chargegrid::base::parse_rfc3339(schedule["startSchedule"].get<std::string>());
  const auto offset = std::chrono::duration_cast<seconds>(at - start).count();
  if (schedule.contains("duration") && offset >= schedule["duration"].get<long long>())
    return std::nullopt;
  std::optional<double> limit;
  for (const auto& p : schedule["chargingSchedulePeriod"])
    if (p["startPeriod"].get<long long>() <= offset) limit = p["limit"].get<double>();
  if (limit && schedule["chargingRateUnit"] == "A") *limit *= 230.0 * 3;
  return limit;
}

std::int64_t limited_site(ApiFixture& fx, std::int64_t import_limit_w) {
  auto r = fx.admin().post("/sites", {{"name", "Depot"}, {"import_limit_w", import_limit_w}});
  REQUIRE(r.status == 201);
  return r.data["id"].get<std::int64_t>();
}

}  // namespace

TEST_CASE("Sessions over a site limit share it: declarations, session end and the schedule API",
          "[integration][smart_charging]") {
  ApiFixture fx(smart_config());
  const auto site = limited_site(fx, 16000);
  for (auto id : {"SC-A", "SC-B", "SC-C"}) fx.make_station(id, site);
  Station a(fx, "SC-A", "ocpp2.0.1"), b(fx, "SC-B", "ocpp2.0.1"), c(fx, "SC-C", "ocpp1.6");
  std::vector<Station*> all{&a, &b, &c};

  a.start(fx);
  REQUIRE(fx.eventually([&] { return a.count("SetChargingProfile") >= 1; }));
  b.start(fx);
  c.start(fx);
  REQUIRE(fx.eventually([&] {
    return b.count("SetChargingProfile") >= 1 && c.count("SetChargingProfile") >= 1 &&
           fx.query_value("SELECT count(*) FROM charging_profiles WHERE outcome IS NULL") == "0" &&
           fx.query_value("SELECT jsonb_array_length(plan->'vehicles') FROM site_plans") == "3";
  }));
  // Each station's latest profile: together inside the limit, now and in every later slot.
  const auto now = std::chrono::system_clock::now();
  for (int k = 0; k < 12; ++k) {
    double sum = 0;
    for (auto* s : all) sum += watts_at(s->last_tx(), now + seconds{k * kSlot}).value_or(0);
    INFO("slot " << k);
    CHECK(sum <= 16000);
    if (k == 0) CHECK(sum >= 15000);  // and the limit is used
  }
  const auto a_profile = a.last_tx();
  CHECK(a_profile["chargingProfile"]["transactionId"] == "TX-SC-A");
  CHECK(a_profile["chargingProfile"]["chargingProfilePurpose"] == "TxProfile");
  CHECK(schedule_of(a_profile)["chargingRateUnit"] == "W");
  CHECK(c.last_tx()["csChargingProfiles"]["transactionId"] == c.session());
  CHECK(schedule_of(c.last_tx())["chargingRateUnit"] == "A");

  // Every profile is kept with the station's answer.
  auto profiles = fx.admin().get("/sessions/" + std::to_string(a.session()) + "/charging-profiles");
  REQUIRE(profiles.status == 200);
  REQUIRE(profiles.data["items"].size() >= 1);
  CHECK(profiles.data["items"][0]["status"] == "Accepted");
  CHECK(profiles.data["items"][0]["kind"] == "set");
  // Each answered profile names the command that carried it (ids are taken per batch): the
  // command log's entry for its station, answered, with the same profile id.
  CHECK(fx.query_value(
            "SELECT count(*) FROM charging_profiles p LEFT JOIN command_log c ON c.id = "
            "p.command_id AND c.station_id = p.station_id AND c.outcome = 'answered' AND "
            "c.command = 'set-charging-profile' AND (c.request->>'profile_id')::bigint = "
            "p.profile_id WHERE p.kind = 'set' AND p.status IS NOT NULL AND c.id IS NULL") == "0");
  CHECK(fx.query_value("SELECT count(DISTINCT command_id) = count(*) FROM charging_profiles WHERE "
                       "status IS NOT NULL") == "t");

  // The schedule: JSON and CSV.
  auto schedule = fx.admin().get("/sites/" + std::to_string(site) + "/schedule");
  REQUIRE(schedule.status == 200);
  CHECK(schedule.data["slot_seconds"] == kSlot);
  CHECK(schedule.data["slots"].size() == 24 * 3600 / kSlot);
  CHECK(schedule.data["planned_at"].is_string());
  CHECK(schedule.data["planned_reason"].is_string());
  CHECK(schedule.data["planned_by"].is_null());  // not a cluster
  const auto& first = schedule.data["slots"][0];
  CHECK(first["import_limit_w"] == 16000);
  CHECK(first["planned_import_w"].get<long>() <= 16000);
  CHECK(first["flex_up_w"].get<long>() + first["planned_import_w"].get<long>() == 16000);
  REQUIRE(schedule.data["vehicles"].size() == 3);
  CHECK(schedule.data["vehicles"][0]["departure_source"] == "predicted");
  CHECK(schedule.data["vehicles"][0]["power_w"].size() == schedule.data["slots"].size());
  auto csv = fx.admin().get_csv("/sites/" + std::to_string(site) + "/schedule");
  REQUIRE(csv.status == 200);
  CHECK(csv.content_type.rfind("text/csv", 0) == 0);
  CHECK(csv.body.rfind("start,end,import_limit_w,export_limit_w,baseline_w,planned_import_w,", 0) ==
        0);
  CHECK(std::count(csv.body.begin(), csv.body.end(), '\n') == 1 + 24 * 3600 / kSlot);
  CHECK(fx.admin()
            .get("/sites/" + std::to_string(site) +
                 "/schedule?from=2026-12-01T00:00:00Z&to=2026-11-30T00:00:00Z")
            .status == 422);
  CHECK(fx.admin().get("/sites/" + std::to_string(site) + "/schedule?from=yesterday").status ==
        400);
  // A manager of another site sees nothing of this one.
  const auto other = fx.make_site("Elsewhere");
  const auto manager = fx.make_key(chargegrid::server::api::Role::FacilityManager, {other});
  CHECK(fx.client(manager).get("/sites/" + std::to_string(site) + "/schedule").status == 404);

  // Bad declarations answer 422 and store nothing.
  const auto session_path = "/sessions/" + std::to_string(a.session());
  CHECK(fx.admin().patch(session_path, {{"departure_time", "2020-01-01T00:00:00Z"}}).status == 422);
  CHECK(fx.admin().patch(session_path, {{"energy_wh", -5}}).status == 422);
  CHECK(fx.admin().patch(session_path, {{"target_soc", 140}}).status == 422);
  CHECK(fx.admin().patch(session_path, json::object()).status == 422);
  CHECK(fx.query_value("SELECT count(*) FROM charging_declarations") == "0");

  // A departure declared earlier than predicted: A's energy comes sooner, its planned power ends
  // then.
  const auto sent_before = a.count("SetChargingProfile");
  const auto departure = std::chrono::system_clock::now() + seconds{3 * kSlot + 30};
  auto declared = fx.admin().patch(session_path,
                                   {{"departure_time", rfc3339(departure)}, {"energy_wh", 20000}});
  REQUIRE(declared.status == 200);
  CHECK(declared.data["energy_wh"] == 20000);
  REQUIRE(fx.eventually([&] { return a.count("SetChargingProfile") > sent_before; }));
  REQUIRE(fx.eventually([&] {
    auto s = fx.admin().get("/sites/" + std::to_string(site) + "/schedule");
    for (const auto& v : s.data["vehicles"])
      if (v["session_id"] == a.session()) return v["departure_source"] == "declared";
    return false;
  }));
  const auto declared_profile = a.last_tx();
  // After the declared departure A's EVSE counts as free: should A stay, it draws no more than
  // the plan leaves there.
  {
    const auto after = departure + seconds{kSlot};
    const auto plan = fx.admin().get("/sites/" + std::to_string(site) + "/schedule");
    for (const auto& slot : plan.data["slots"]) {
      const auto start = *chargegrid::base::parse_rfc3339(slot["start"].get<std::string>());
      const auto end = *chargegrid::base::parse_rfc3339(slot["end"].get<std::string>());
      if (start <= after && after < end)
        CHECK(watts_at(declared_profile, after).value_or(0) <= slot["flex_up_w"].get<double>() + 1);
    }
  }
  // 20 kWh in under 20 minutes is more than 11 kW can give: A gets its full power now.
  CHECK(watts_at(declared_profile, std::chrono::system_clock::now()).value_or(0) == 11000);

  // The session ends: its profile is cleared, and the others share the limit again.
  b.end();
  REQUIRE(fx.eventually([&] { return b.count("ClearChargingProfile") == 1; }));
  CHECK(b.last("ClearChargingProfile")["chargingProfileId"].is_number_integer());
  REQUIRE(fx.eventually([&] {
    return fx.query_value(
               "SELECT count(*) FROM charging_profiles WHERE kind = 'clear' AND "
               "status = 'Accepted'") == "1";
  }));
  REQUIRE(fx.eventually([&] {
    return fx.query_value("SELECT jsonb_array_length(plan->'vehicles') FROM site_plans") == "2";
  }));
}

TEST_CASE("Free EVSEs hold an arrival limit inside what the plan leaves, until the limit goes",
          "[integration][smart_charging]") {
  ApiFixture fx(smart_config());
  const auto site = limited_site(fx, 16000);
  for (auto id : {"SD-A", "SD-B", "SD-C"}) fx.make_station(id, site);
  Station a(fx, "SD-A", "ocpp2.0.1"), b(fx, "SD-B", "ocpp1.6"), c(fx, "SD-C", "ocpp2.0.1");
  a.start(fx);
  // A charges under its TxProfile; B and C, free, each hold a TxDefaultProfile for the next
  // vehicle to arrive.
  REQUIRE(fx.eventually([&] {
    return a.count("SetChargingProfile") >= 1 && b.last_profile("TxDefaultProfile").is_object() &&
           c.last_profile("TxDefaultProfile").is_object() &&
           fx.query_value("SELECT count(*) FROM charging_profiles WHERE outcome IS NULL") == "0";
  }));
  const auto b_default = b.last_profile("TxDefaultProfile");
  CHECK(b_default["connectorId"] == 0);
  CHECK(b_default["csChargingProfiles"]["stackLevel"] == 0);
  CHECK_FALSE(b_default["csChargingProfiles"].contains("transactionId"));
  CHECK(schedule_of(b_default)["chargingRateUnit"] == "A");
  const auto c_default = c.last_profile("TxDefaultProfile");
  CHECK(c_default["evseId"] == 0);
  CHECK(schedule_of(c_default)["chargingRateUnit"] == "W");
  // Vehicles arriving at B and C at once leave the site inside its limit in every slot (A as
  // planned; past its planned departure it is gone), and the room A leaves is offered.
  const auto now = std::chrono::system_clock::now();
  for (int k = 0; k < 12; ++k) {
    const auto at = now + seconds{k * kSlot};
    const double sum = watts_at(a.last_tx(), at).value_or(0) +
                       watts_at(b_default, at).value_or(11000) +
                       watts_at(c_default, at).value_or(11000);
    INFO("slot " << k);
    CHECK(sum <= 16000);
    if (k == 0) CHECK(sum >= 13500);  // the room A leaves is offered, in whole kW
  }

  // The site's limit goes: A's TxProfile and the arrival limits are cleared (A holds one too
  // when the replan of its station's connection came before its session).
  const std::size_t a_defaults = a.last_profile("TxDefaultProfile").is_object() ? 1 : 0;
  REQUIRE(
      fx.admin().patch("/sites/" + std::to_string(site), {{"import_limit_w", nullptr}}).status ==
      200);
  REQUIRE(fx.eventually([&] {
    return a.count("ClearChargingProfile") == 1 + a_defaults &&
           b.count("ClearChargingProfile") == 1 && c.count("ClearChargingProfile") == 1;
  }));
  CHECK(b.last("ClearChargingProfile")["id"] ==
        b_default["csChargingProfiles"]["chargingProfileId"]);
  CHECK(c.last("ClearChargingProfile")["chargingProfileId"] == c_default["chargingProfile"]["id"]);
  REQUIRE(fx.eventually([&] {
    return fx.query_value(
               "SELECT count(*) FROM charging_profiles WHERE kind = 'clear' AND "
               "purpose = 'TxDefaultProfile' AND status = 'Accepted'") ==
           std::to_string(2 + a_defaults);
  }));
}

TEST_CASE("A rejected profile and an offline station are planned around at full power",
          "[integration][smart_charging]") {
  ApiFixture fx(smart_config());
  const auto site = limited_site(fx, 16000);
  for (auto id : {"SR-A", "SR-B", "SR-C"}) fx.make_station(id, site);
  Station a(fx, "SR-A", "ocpp2.0.1"), b(fx, "SR-B", "ocpp2.0.1");
  auto c = std::make_unique<Station>(fx, "SR-C", "ocpp2.0.1");
  a.answer("Rejected");
  a.start(fx);
  b.start(fx);
  c->start(fx);
  const auto control_of = [&](long long session) {
    auto s = fx.admin().get("/sites/" + std::to_string(site) + "/schedule");
    for (const auto& v : s.data["vehicles"])
      if (v["session_id"] == session) return v["control"].get<std::string>();
    return std::string();
  };
  REQUIRE(fx.eventually([&] { return control_of(a.session()) == "profile_rejected"; }));
  CHECK(fx.query_value("SELECT status FROM charging_profiles WHERE session_id = " +
                       std::to_string(a.session()) + " ORDER BY id LIMIT 1") == "Rejected");
  // A takes 11 kW whatever we send: B and C share the 5 kW left.
  REQUIRE(fx.eventually([&] {
    const auto now = std::chrono::system_clock::now();
    if (b.count("SetChargingProfile") == 0 || c->count("SetChargingProfile") == 0) return false;
    return watts_at(b.last_tx(), now).value_or(1e9) + watts_at(c->last_tx(), now).value_or(1e9) <=
           5000;
  }));
  const auto c_session = c->session();
  c->disconnect();
  c.reset();
  REQUIRE(fx.eventually([&] { return control_of(c_session) == "station_offline"; }));
  // C may draw its 11 kW while away: nothing is left for B.
  REQUIRE(fx.eventually(
      [&] { return watts_at(b.last_tx(), std::chrono::system_clock::now()).value_or(1) == 0; }));
  auto schedule = fx.admin().get("/sites/" + std::to_string(site) + "/schedule");
  CHECK(schedule.data["slots"][0]["baseline_w"] == 22000);
}

TEST_CASE("A demand-response window that halves the limit replans from the window's start",
          "[integration][smart_charging]") {
  ApiFixture fx(smart_config());
  const auto site = limited_site(fx, 20000);
  for (auto id : {"SD-A", "SD-B"}) fx.make_station(id, site);
  Station a(fx, "SD-A", "ocpp2.0.1"), b(fx, "SD-B", "ocpp2.0.1");
  a.start(fx);
  b.start(fx);
  REQUIRE(fx.eventually([&] {
    return a.count("SetChargingProfile") >= 1 && b.count("SetChargingProfile") >= 1 &&
           fx.query_value("SELECT jsonb_array_length(plan->'vehicles') FROM site_plans") == "2";
  }));
  const auto before_a = a.count("SetChargingProfile"), before_b = b.count("SetChargingProfile");
  // The window starts at the next slot boundary and lasts an hour.
  const auto now = std::chrono::floor<seconds>(std::chrono::system_clock::now());
  const auto since = now.time_since_epoch().count();
  const auto window_start = now + seconds{kSlot - since % kSlot};
  {
    auto conn = fx.sql();
    pqxx::work tx(conn);
    chargegrid::server::store::demand_response::Window w;
    w.event_id = "evt-halve";
    w.program_id = "prog-1";
    w.site_id = site;
    w.starts_at = rfc3339(window_start);
    w.ends_at = rfc3339(window_start + seconds{3600});
    w.import_limit_w = 10000.0;
    const auto sites =
        chargegrid::server::store::demand_response::replace_event(tx, "evt-halve", {w});
    chargegrid::server::store::outbox::append(
        tx, chargegrid::server::store::outbox::kDemandResponseChanged, {{"site_ids", sites}});
    tx.commit();
  }
  REQUIRE(fx.eventually([&] {
    return a.count("SetChargingProfile") > before_a && b.count("SetChargingProfile") > before_b;
  }));
  const auto pa = a.last_tx(), pb = b.last_tx();
  // Before the window the site's 20 kW, from its start the window's 10 kW.
  CHECK(watts_at(pa, window_start - seconds{1}).value_or(0) +
            watts_at(pb, window_start - seconds{1}).value_or(0) <=
        20000);
  CHECK(watts_at(pa, window_start - seconds{1}).value_or(0) +
            watts_at(pb, window_start - seconds{1}).value_or(0) >
        10000);
  for (int k = 0; k < 12; ++k) {
    const auto t = window_start + seconds{k * kSlot};
    INFO("slot " << k << " of the window");
    CHECK(watts_at(pa, t).value_or(0) + watts_at(pb, t).value_or(0) <= 10000);
  }
  // Each station also holds its share of the window's limit, sent ahead, for when it loses us.
  REQUIRE(fx.eventually([&] {
    return !a.last_profile("ChargingStationMaxProfile").is_null() &&
           !b.last_profile("ChargingStationMaxProfile").is_null();
  }));
  for (auto* s : {&a, &b}) {
    const auto limit = s->last_profile("ChargingStationMaxProfile");
    CHECK(limit["evseId"] == 0);
    const auto& station_schedule = limit["chargingProfile"]["chargingSchedule"][0];
    CHECK(*chargegrid::base::parse_rfc3339(station_schedule["startSchedule"].get<std::string>()) ==
          window_start);
    CHECK(station_schedule["duration"] == 3600);
    CHECK(watts_at(limit, window_start + seconds{10}) == 5000);
  }
  auto schedule =
      fx.admin().get("/sites/" + std::to_string(site) + "/schedule?from=" + rfc3339(window_start) +
                     "&to=" + rfc3339(window_start + seconds{kSlot}));
  REQUIRE(schedule.status == 200);
  REQUIRE(schedule.data["slots"].size() == 1);
  CHECK(schedule.data["slots"][0]["import_limit_w"] == 10000);
  CHECK(schedule.data["slots"][0]["event_ids"] == json::array({"evt-halve"}));
}

TEST_CASE("Plans price each slot with the site's tariff in its time zone and use the EVSE's power",
          "[integration][smart_charging]") {
  ApiFixture fx(smart_config());
  auto created = fx.admin().post(
      "/sites", {{"name", "Oslo"}, {"import_limit_w", 16000}, {"time_zone", "Europe/Oslo"}});
  REQUIRE(created.status == 201);
  const auto site = created.data["id"].get<std::int64_t>();
  const auto site_path = "/sites/" + std::to_string(site);
  // One cheap local hour two hours from now, every day; 30 the rest of the time.
  const chargegrid::base::TimeZone oslo("Europe/Oslo");
  const int cheap = (oslo.to_local(std::chrono::system_clock::now()).hour + 2) % 24;
  const auto hh = [](int h) { return (h < 10 ? "0" : "") + std::to_string(h) + ":00"; };
  const json all_days = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  json bands = json::array();
  if (cheap > 0)
    bands.push_back(
        {{"days", all_days}, {"from", "00:00"}, {"to", hh(cheap)}, {"price_minor_per_kwh", 30}});
  bands.push_back({{"days", all_days},
                   {"from", hh(cheap)},
                   {"to", cheap == 23 ? "24:00" : hh(cheap + 1)},
                   {"price_minor_per_kwh", 10}});
  if (cheap < 23)
    bands.push_back({{"days", all_days},
                     {"from", hh(cheap + 1)},
                     {"to", "24:00"},
                     {"price_minor_per_kwh", 30}});
  auto tariff = fx.admin().send(
      boost::beast::http::verb::put, site_path + "/tariff",
      json{{"currency", "EUR"}, {"import", bands}, {"export_credit_minor_per_kwh", 8}}.dump());
  REQUIRE(tariff.status == 200);
  fx.make_station("ST-A", site);
  // The EVSE is described at 7.4 kW: the flag's 11 kW no longer counts for it.
  REQUIRE(fx.admin().patch("/stations/ST-A/evses/1", {{"max_power_w", 7400}}).status == 200);
  Station a(fx, "ST-A", "ocpp2.0.1");
  a.start(fx);
  // 5 kWh by five hours from now: all of it fits into the cheap hour.
  const auto departure = std::chrono::system_clock::now() + std::chrono::hours(5);
  REQUIRE(fx.admin()
              .patch("/sessions/" + std::to_string(a.session()),
                     {{"departure_time", rfc3339(departure)}, {"energy_wh", 5000}})
              .status == 200);
  json schedule;
  REQUIRE(fx.eventually([&] {
    schedule = fx.admin().get(site_path + "/schedule").data;
    return schedule["vehicles"].size() == 1 &&
           schedule["vehicles"][0]["departure_source"] == "declared";
  }));
  CHECK(schedule["currency"] == "EUR");
  const auto& vehicle = schedule["vehicles"][0];
  CHECK(vehicle["max_power_w"] == 7400);
  CHECK(vehicle["min_power_w"] == 4140);  // 6 A on the EVSE's three phases (not described)
  for (const auto& p : vehicle["power_w"]) CHECK((p.get<long>() == 0 || p.get<long>() >= 4140));
  std::int64_t cheap_wh = 0, dear_wh = 0;
  for (std::size_t i = 0; i < schedule["slots"].size(); ++i) {
    const auto& slot = schedule["slots"][i];
    const auto start = *chargegrid::base::parse_rfc3339(slot["start"].get<std::string>());
    const bool is_cheap = oslo.to_local(start).hour == cheap;
    INFO("slot " << slot["start"]);
    CHECK(slot["import_price_minor_per_kwh"] == (is_cheap ? 10 : 30));
    CHECK(slot["export_price_minor_per_kwh"] == 8);
    const auto power = vehicle["power_w"][i].get<std::int64_t>();
    CHECK(power <= 7400);
    (is_cheap ? cheap_wh : dear_wh) += power * kSlot / 3600;
  }
  CHECK(cheap_wh >= 4990);
  CHECK(dear_wh == 0);
  // The profile the station holds says the same: nothing now, up to 7.4 kW in the cheap hour.
  REQUIRE(fx.eventually([&] {
    const auto p = a.last_tx();
    return !p.is_null() && schedule_of(p)["duration"].get<long>() > 3 * 3600;
  }));
  CHECK(watts_at(a.last_tx(), std::chrono::system_clock::now()).value_or(-1) == 0);
  double peak = 0;
  const auto held = schedule_of(a.last_tx());
  for (const auto& period : held["chargingSchedulePeriod"])
    peak = std::max(peak, period["limit"].get<double>());
  CHECK(peak > 0);
  CHECK(peak <= 7400);

  // A new tariff replans the site at once (site.changed), not at the next slot boundary.
  const json flat = {
      {"days", all_days}, {"from", "00:00"}, {"to", "24:00"}, {"price_minor_per_kwh", 20}};
  REQUIRE(fx.admin()
              .send(boost::beast::http::verb::put, site_path + "/tariff",
                    json{{"currency", "EUR"}, {"import", json::array({flat})}}.dump())
              .status == 200);
  REQUIRE(fx.eventually([&] {
    const auto s = fx.admin().get(site_path + "/schedule").data;
    return s["planned_reason"] == "site_changed" &&
           s["slots"][0]["import_price_minor_per_kwh"] == 20;
  }));
}

TEST_CASE("An event posted to the built-in VTN lowers the profiles sent, and its end raises them",
          "[integration][smart_charging]") {
  ApiFixture fx(smart_config());
  const auto site = limited_site(fx, 22000);
  for (auto id : {"SV-A", "SV-B"}) fx.make_station(id, site);
  Station a(fx, "SV-A", "ocpp2.0.1"), b(fx, "SV-B", "ocpp2.0.1");
  a.start(fx);
  b.start(fx);
  const auto sum_now = [&] {
    const auto now = std::chrono::system_clock::now();
    return watts_at(a.last_tx(), now).value_or(1e9) + watts_at(b.last_tx(), now).value_or(1e9);
  };
  REQUIRE(fx.eventually([&] {
    return a.count("SetChargingProfile") >= 1 && b.count("SetChargingProfile") >= 1 &&
           sum_now() > 20000 && sum_now() <= 22000;
  }));
  const auto utility = fx.make_key(chargegrid::server::api::Role::Utility, {site});
  const auto vtn = [&](boost::beast::http::verb method, const std::string& path,
                       const json& body = json()) {
    return http_request(fx.server().http_port(), method, "/openadr3/3.0.1" + path, utility,
                        body.is_null() ? "" : body.dump());
  };
  auto program = vtn(boost::beast::http::verb::post, "/programs", {{"programName", "congestion"}});
  REQUIRE(program.status == 201);
  const auto start = std::chrono::floor<seconds>(std::chrono::system_clock::now()) - seconds{60};
  auto event =
      vtn(boost::beast::http::verb::post, "/events",
          {{"programID", program.data["id"]},
           {"intervalPeriod", {{"start", rfc3339(start)}, {"duration", "PT1H"}}},
           {"intervals",
            {{{"id", 0}, {"payloads", {{{"type", "IMPORT_CAPACITY_LIMIT"}, {"values", {8}}}}}}}}});
  REQUIRE(event.status == 201);
  // The outbox brings the change to the loop: both profiles fit the event's 8 kW from now on.
  REQUIRE(fx.eventually([&] { return sum_now() <= 8000; }));
  for (int k = 0; k < 10; ++k) {
    const auto t = std::chrono::system_clock::now() + seconds{k * kSlot};
    INFO("slot " << k);
    CHECK(watts_at(a.last_tx(), t).value_or(0) + watts_at(b.last_tx(), t).value_or(0) <= 8000);
  }
  REQUIRE(fx.eventually([&] {
    const auto la = a.last_profile("ChargingStationMaxProfile");
    const auto lb = b.last_profile("ChargingStationMaxProfile");
    const auto now = std::chrono::system_clock::now();
    return !la.is_null() && !lb.is_null() && watts_at(la, now) == 4000 && watts_at(lb, now) == 4000;
  }));
  auto schedule = fx.admin().get("/sites/" + std::to_string(site) + "/schedule");
  CHECK(schedule.data["slots"][0]["import_limit_w"] == 8000);
  CHECK(schedule.data["slots"][0]["event_ids"] == json::array({event.data["id"]}));

  // The utility withdraws the event: the site's own limit counts again.
  REQUIRE(vtn(boost::beast::http::verb::delete_, "/events/" + event.data["id"].get<std::string>())
              .status == 200);
  REQUIRE(fx.eventually([&] { return sum_now() > 20000 && sum_now() <= 22000; }));
}

TEST_CASE("ChargeGrid restarted during a demand-response window keeps the site inside it",
          "[integration][smart_charging]") {
  ApiFixture fx(smart_config());
  const auto site = limited_site(fx, 22000);
  for (auto id : {"SW-A", "SW-B"}) fx.make_station(id, site);
  auto a = std::make_unique<Station>(fx, "SW-A", "ocpp2.0.1");
  auto b = std::make_unique<Station>(fx, "SW-B", "ocpp2.0.1");
  a->start(fx);
  b->start(fx);
  const auto now = std::chrono::floor<seconds>(std::chrono::system_clock::now());
  {
    auto conn = fx.sql();
    pqxx::work tx(conn);
    chargegrid::server::store::demand_response::Window w;
    w.event_id = "evt-restart";
    w.program_id = "prog-1";
    w.site_id = site;
    w.starts_at = rfc3339(now - seconds{60});
    w.ends_at = rfc3339(now + seconds{3600});
    w.import_limit_w = 8000.0;
    const auto sites =
        chargegrid::server::store::demand_response::replace_event(tx, "evt-restart", {w});
    chargegrid::server::store::outbox::append(
        tx, chargegrid::server::store::outbox::kDemandResponseChanged, {{"site_ids", sites}});
    tx.commit();
  }
  const auto held = [](const json& profile, std::chrono::system_clock::time_point t) {
    return watts_at(profile, t).value_or(1e9);
  };
  REQUIRE(fx.eventually([&] {
    const auto t = std::chrono::system_clock::now();
    return held(a->last_tx(), t) + held(b->last_tx(), t) <= 8000 &&
           held(a->last_profile("ChargingStationMaxProfile"), t) == 4000 &&
           held(b->last_profile("ChargingStationMaxProfile"), t) == 4000;
  }));
  // While ChargeGrid is away each station holds its share of the window to the window's end.
  for (auto* s : {a.get(), b.get()}) {
    const auto limit = s->last_profile("ChargingStationMaxProfile");
    CHECK(held(limit, now + seconds{3000}) == 4000);
  }
  const auto a_profile = a->last_tx(), b_profile = b->last_tx();
  const auto planned_before = fx.query_value("SELECT planned_at FROM site_plans");

  fx.server().stop();
  a.reset();
  b.reset();
  chargegrid::server::Server again(smart_config(), fx.database().url());
  again.start();
  Station a2(again.ocpp_port(), "SW-A", "ocpp2.0.1"), b2(again.ocpp_port(), "SW-B", "ocpp2.0.1");
  a2.resume(fx);
  b2.resume(fx);
  // The restarted server plans from what the database holds: the window still narrows the
  // site, both sessions are still controlled and nothing planned goes over the window.
  // A plan made before the stations were back counts them offline; the one made when they
  // reconnect controls them again.
  REQUIRE(fx.eventually([&] {
    if (fx.query_value("SELECT planned_at > '" + planned_before +
                       "'::timestamptz FROM site_plans") != "t")
      return false;
    const auto current = json::parse(fx.query_value("SELECT plan::text FROM site_plans"));
    for (const auto& v : current["vehicles"])
      if (v["control"] != "controlled") return false;
    return true;
  }));
  REQUIRE(fx.eventually([&] {
    return fx.query_value("SELECT count(*) FROM charging_profiles WHERE outcome IS NULL") == "0";
  }));
  const auto plan = json::parse(fx.query_value("SELECT plan::text FROM site_plans"));
  REQUIRE(plan["vehicles"].size() == 2);
  for (const auto& v : plan["vehicles"]) CHECK(v["control"] == "controlled");
  for (const auto& slot : plan["slots"]) {
    const auto start = *chargegrid::base::parse_rfc3339(slot["start"].get<std::string>());
    if (start >= now + seconds{3600}) break;
    INFO("slot " << slot["start"]);
    CHECK(slot["import_limit_w"] == 8000);
    CHECK(slot["planned_import_w"].get<long>() <= 8000);
  }
  // What each station holds now (a profile sent after the restart, else the one it kept).
  const auto a_held = a2.count("SetChargingProfile") ? a2.last_tx() : a_profile;
  const auto b_held = b2.count("SetChargingProfile") ? b2.last_tx() : b_profile;
  for (int k = 0; k < 10; ++k) {
    const auto t = std::chrono::system_clock::now() + seconds{k * kSlot};
    if (t >= now + seconds{3600}) break;
    INFO("slot " << k);
    CHECK(watts_at(a_held, t).value_or(0) + watts_at(b_held, t).value_or(0) <= 8000);
  }
  again.stop();
}

TEST_CASE("A 2.1 vehicle discharges into an export event and still leaves with its need",
          "[integration][smart_charging]") {
  ApiFixture fx(smart_config());
  auto created = fx.admin().post(
      "/sites", {{"name", "V2G"}, {"import_limit_w", 22000}, {"export_limit_w", 10000}});
  REQUIRE(created.status == 201);
  const auto site = created.data["id"].get<std::int64_t>();
  const auto site_path = "/sites/" + std::to_string(site);
  const json all_days = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  auto tariff = fx.admin().send(
      boost::beast::http::verb::put, site_path + "/tariff",
      json{
          {"currency", "EUR"},
          {"import",
           {{{"days", all_days}, {"from", "00:00"}, {"to", "24:00"}, {"price_minor_per_kwh", 30}}}},
          {"export_credit_minor_per_kwh", 8},
          {"discharge_price_by_soc",
           {{{"soc_from", 20}, {"soc_to", 100}, {"price_minor_per_kwh", 5}}}}}
          .dump());
  REQUIRE(tariff.status == 200);
  fx.make_station("SX-A", site);
  REQUIRE(fx.admin()
              .patch("/stations/SX-A/evses/1", {{"max_power_w", 11000}, {"bidirectional", true}})
              .status == 200);
  Station a(fx, "SX-A", "ocpp2.1");
  a.start(fx);
  REQUIRE(is_result(a.call(
      "NotifyEVChargingNeeds",
      {{"evseId", 1},
       {"chargingNeeds",
        {{"requestedEnergyTransfer", "DC_BPT"},
         {"dcChargingParameters",
          {{"evMaxCurrent", 200},
           {"evMaxVoltage", 450},
           {"stateOfCharge", 60},
           {"evEnergyCapacity", 60000}}},
         {"v2xChargingParameters", {{"maxChargePower", 11000}, {"maxDischargePower", 10000}}}}}})));
  const auto departure = std::chrono::system_clock::now() + std::chrono::hours(4);
  REQUIRE(fx.admin()
              .patch("/sessions/" + std::to_string(a.session()),
                     {{"departure_time", rfc3339(departure)}, {"energy_wh", 5000}})
              .status == 200);
  // The utility pays 1 EUR/kWh exported for an hour from the next slot boundary.
  const auto now = std::chrono::floor<seconds>(std::chrono::system_clock::now());
  const auto event_start = now + seconds{kSlot - now.time_since_epoch().count() % kSlot};
  const auto event_end = event_start + seconds{3600};
  {
    auto conn = fx.sql();
    pqxx::work tx(conn);
    chargegrid::server::store::demand_response::Window w;
    w.event_id = "evt-export";
    w.program_id = "prog-1";
    w.site_id = site;
    w.starts_at = rfc3339(event_start);
    w.ends_at = rfc3339(event_end);
    w.export_price_minor_per_kwh = 100.0;
    w.currency = "EUR";
    const auto sites =
        chargegrid::server::store::demand_response::replace_event(tx, "evt-export", {w});
    chargegrid::server::store::outbox::append(
        tx, chargegrid::server::store::outbox::kDemandResponseChanged, {{"site_ids", sites}});
    tx.commit();
  }
  json schedule;
  REQUIRE(fx.eventually([&] {
    schedule = fx.admin().get(site_path + "/schedule").data;
    if (schedule["vehicles"].size() != 1) return false;
    for (const auto& p : schedule["vehicles"][0]["power_w"])
      if (p.get<long>() < 0) return true;
    return false;
  }));
  const auto& vehicle = schedule["vehicles"][0];
  CHECK(vehicle["departure_source"] == "declared");
  CHECK(vehicle["planned_energy_wh"].get<long>() >= 4990);  // net of what it gives back
  long exported_wh = 0;
  for (std::size_t i = 0; i < schedule["slots"].size(); ++i) {
    const auto& slot = schedule["slots"][i];
    const auto start = *chargegrid::base::parse_rfc3339(slot["start"].get<std::string>());
    const auto power = vehicle["power_w"][i].get<long>();
    INFO("slot " << slot["start"]);
    CHECK(slot["planned_export_w"].get<long>() <= 10000);
    CHECK(power >= -10000);
    if (power < 0) {
      // Only while the export pays.
      CHECK(start >= event_start);
      CHECK(start < event_end);
      CHECK(slot["planned_export_w"] == -power);
      exported_wh += -power * kSlot / 3600;
    }
  }
  CHECK(exported_wh > 0);
  // The station's profile discharges by setpoint (2.1 CentralSetpoint) in the event.
  REQUIRE(fx.eventually([&] {
    const auto p = a.last_tx();
    if (p.is_null()) return false;
    const auto periods = schedule_of(p)["chargingSchedulePeriod"];
    for (const auto& period : periods)
      if (period.contains("setpoint") && period["setpoint"].get<double>() < 0) return true;
    return false;
  }));
  const auto held = schedule_of(a.last_tx());
  for (const auto& period : held["chargingSchedulePeriod"])
    if (period.contains("setpoint")) CHECK(period["operationMode"] == "CentralSetpoint");
}

TEST_CASE("Measured power far from the plan replans the site, at most once a minute",
          "[integration][smart_charging]") {
  ApiFixture fx(smart_config());
  const auto site = limited_site(fx, 11000);
  for (auto id : {"DRIFT-A", "DRIFT-B"}) fx.make_station(id, site);
  Station a(fx, "DRIFT-A", "ocpp2.0.1"), b(fx, "DRIFT-B", "ocpp2.0.1");
  a.start(fx);
  b.start(fx);
  REQUIRE(fx.eventually([&] {
    return a.count("SetChargingProfile") >= 1 &&
           fx.query_value("SELECT count(*) FROM charging_profiles WHERE outcome IS NULL") == "0" &&
           fx.query_value("SELECT jsonb_array_length(plan->'vehicles') FROM site_plans") == "2";
  }));
  const double planned = watts_at(a.last_tx(), std::chrono::system_clock::now()).value_or(0);
  REQUIRE(planned >= 2000);  // a share of the limit to drift from

  int seq = 1;
  const auto reading = [&](const json& sampled) {
    const auto now = rfc3339(std::chrono::system_clock::now());
    REQUIRE(is_result(a.call("TransactionEvent",
                             {{"eventType", "Updated"},
                              {"timestamp", now},
                              {"triggerReason", "MeterValuePeriodic"},
                              {"seqNo", seq++},
                              {"transactionInfo", {{"transactionId", "TX-DRIFT-A"}}},
                              {"evse", {{"id", 1}, {"connectorId", 1}}},
                              {"meterValue", {{{"timestamp", now}, {"sampledValue", sampled}}}}})));
  };
  const auto power = [](double w, const std::string& phase = "") {
    json v{{"value", w}, {"measurand", "Power.Active.Import"}, {"unitOfMeasure", {{"unit", "W"}}}};
    if (!phase.empty()) v["phase"] = phase;
    return v;
  };
  const auto planned_at = [&] { return fx.query_value("SELECT planned_at FROM site_plans"); };

  // Close to the plan: nothing to do.
  const auto before = planned_at();
  reading(json::array({power(planned * 0.95)}));
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  CHECK(planned_at() == before);

  // The vehicle draws next to nothing (per phase here): its site is replanned.
  reading(json::array({power(0, "L1"), power(0, "L2"), power(100, "L3")}));
  REQUIRE(fx.eventually(
      [&] { return fx.query_value("SELECT reason FROM site_plans") == "meter_drift"; }));

  // Drifting again within the minute does not replan again.
  const auto after = planned_at();
  reading(json::array({power(planned * 3)}));
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  CHECK(planned_at() == after);
}

namespace {

// Ten weeks of a site's sessions before Thursday 14 May 2026, on the loop's replay timeline
// (replay instant `origin` at wall instant `wall_origin`), written to the database as stations
// report them: arrivals around 08:00 UTC, gone three hours later on working days, ten hours
// later on Sundays and on Norway's public holidays (Saturdays closed).
void site_history(ApiFixture& fx, const std::string& station, std::chrono::sys_seconds origin,
                  std::chrono::sys_seconds wall_origin) {
  using namespace std::chrono;
  const auto norway = chargegrid::scheduler::public_holidays("NO", 2026, 2026);
  const auto holiday = [&](sys_days day) {
    return std::any_of(norway.begin(), norway.end(),
                       [&](const chargegrid::scheduler::Holiday& h) { return h.date == day; });
  };
  const auto wall = [&](sys_seconds replay) {
    return chargegrid::base::format_rfc3339(wall_origin + (replay - origin),
                                            chargegrid::base::TimePrecision::kSeconds);
  };
  auto c = fx.sql();
  pqxx::work tx(c);
  for (int d = 1; d <= 70; ++d) {
    const sys_days day = floor<days>(origin) - days{d};
    const weekday wd{day};
    if (wd == Saturday) continue;
    const bool day_off = wd == Sunday || holiday(day);
    const auto plugin = day + 8h + minutes{(d * 7) % 40 - 20};
    const auto plugout = plugin + (day_off ? 10h : 3h) + minutes{(d * 11) % 30 - 15};
    tx.exec_params(
        "INSERT INTO transactions (station_id, transaction_uid, protocol, evse_id, connector_id, "
        "id_token, state, started_at, ended_at, meter_start_wh, meter_stop_wh) "
        "VALUES ($1, $2, 'ocpp2.0.1', 1, 1, $3, 'ended', $4, $5, 0, 9000)",
        station, "history-" + std::to_string(d), "HIST-" + std::to_string(d % 5), wall(plugin),
        wall(plugout));
  }
  tx.commit();
}

double predictor_sessions(std::uint16_t port) {
  return chargegrid::testing::metric_value(port, "chargegrid_smart_charging_predictor_sessions");
}

// `count` sessions at `station` that ended on the days before today, each with its
// session.ended event still to be processed (as the session's end writes them).
void ended_sessions(ApiFixture& fx, const std::string& station, const std::string& tag, int count) {
  using namespace std::chrono;
  auto c = fx.sql();
  pqxx::work tx(c);
  for (int d = 1; d <= count; ++d) {
    const auto plugin = floor<seconds>(system_clock::now()) - days{d};
    const auto id =
        tx.exec_params1(
              "INSERT INTO transactions (station_id, transaction_uid, protocol, evse_id, "
              "connector_id, id_token, state, started_at, ended_at, meter_start_wh, "
              "meter_stop_wh) VALUES ($1, $2, 'ocpp2.0.1', 1, 1, 'LEARN', 'ended', $3, "
              "$4, 0, 9000) RETURNING id",
              station, tag + "-" + std::to_string(d), chargegrid::base::format_rfc3339(plugin),
              chargegrid::base::format_rfc3339(plugin + 3h))[0]
            .as<std::int64_t>();
    chargegrid::server::store::outbox::append(tx, chargegrid::server::store::outbox::kSessionEnded,
                                              {{"session_id", id}});
  }
  tx.commit();
}

std::string events_pending(ApiFixture& fx) {
  return fx.query_value(
      "SELECT count(*) FROM outbox WHERE consumer = 'smart-charging' AND done_at IS NULL");
}

}  // namespace

TEST_CASE("A site's holidays reach its departure predictions from the next arrival on",
          "[integration][smart_charging]") {
  using namespace std::chrono;
  // The loop's timeline: Thursday 14 May 2026 08:00 UTC (Ascension Day in Norway) from now on.
  const sys_seconds origin = sys_days{2026y / 5 / 14} + 8h;
  const auto wall_origin = floor<seconds>(system_clock::now());
  auto config = smart_config();
  config.smart_charging_replay_start = "2026-05-14T08:00:00Z";
  config.smart_charging_replay_wall_start_s = wall_origin.time_since_epoch().count();
  ApiFixture fx(config);
  const auto site = limited_site(fx, 100000);
  for (auto id : {"HOL-HISTORY", "HOL-A", "HOL-B", "HOL-C", "HOL-D"}) fx.make_station(id, site);
  site_history(fx, "HOL-HISTORY", origin, wall_origin);

  // Started again on the database that holds the history: its predictors start from it.
  fx.server().stop();
  chargegrid::server::Server server(config, fx.database().url());
  server.start();
  ApiClient manager(server.http_port(),
                    fx.make_key(chargegrid::server::api::Role::FacilityManager, {site}));
  const auto path = "/sites/" + std::to_string(site) + "/holidays";

  // A vehicle plugging in now (on the timeline 08:00 on the Thursday): its predicted stay in
  // hours from 08:00, once its site has been planned.
  std::vector<std::unique_ptr<Station>> stations;
  const auto predicted_stay_h = [&](const std::string& station_id) {
    stations.push_back(std::make_unique<Station>(server.ocpp_port(), station_id, "ocpp2.0.1"));
    stations.back()->start(fx);
    const auto session = std::to_string(stations.back()->session());
    REQUIRE(fx.eventually([&] {
      return fx.query_value("SELECT count(*) FROM session_predictions WHERE session_id = " +
                            session) == "1";
    }));
    CHECK(fx.query_value("SELECT basis FROM session_predictions WHERE session_id = " + session) ==
          "site");
    return std::stod(fx.query_value(
        "SELECT extract(epoch FROM departure_p50 - timestamptz '2026-05-14T08:00:00Z') / 3600 "
        "FROM session_predictions WHERE session_id = " +
        session));
  };

  // Without holidays the Thursday is a working day: a short stay.
  const auto before = predicted_stay_h("HOL-A");
  CHECK(before == Approx(3).margin(1));

  // With Norway's calendar it is Ascension Day, a day off: a Sunday's long stay.
  REQUIRE(manager.put(path, json::parse(R"({"calendar": "NO", "dates": []})")).status == 200);
  CHECK(predicted_stay_h("HOL-B") == Approx(10).margin(1.5));
  // The earlier arrival keeps the prediction it was planned with.
  CHECK(std::stod(fx.query_value(
            "SELECT extract(epoch FROM departure_p50 - timestamptz '2026-05-14T08:00:00Z') / "
            "3600 FROM session_predictions WHERE session_id = " +
            std::to_string(stations[0]->session()))) == Approx(before));

  // A date of the site's own does the same without a calendar.
  REQUIRE(manager
              .put(path, json::parse(R"({"calendar": null,
                                          "dates": [{"date": "2026-05-14", "name": "Closed"}]})"))
              .status == 200);
  CHECK(predicted_stay_h("HOL-C") == Approx(10).margin(1.5));

  // And without any holiday the Thursday is a working day again.
  REQUIRE(manager.put(path, json::parse(R"({"calendar": null, "dates": []})")).status == 200);
  CHECK(predicted_stay_h("HOL-D") == Approx(3).margin(1));
  stations.clear();
  server.stop();
}

TEST_CASE("Sessions whose end is still to be processed when the server starts are learnt once",
          "[integration][smart_charging]") {
  using namespace std::chrono_literals;
  const auto config = smart_config();
  ApiFixture fx(config);
  const auto site = limited_site(fx, 100000);
  fx.make_station("LEARN-A", site);
  // Stopped with 12 sessions ended and their events not yet processed: the start reads them
  // from the database, and the consumer receives their events. The test holds back one or the
  // other with a lock.
  fx.server().stop();
  ended_sessions(fx, "LEARN-A", "before", 12);
  REQUIRE(events_pending(fx) == "12");
  auto locker = fx.sql();
  pqxx::work lock(locker);
  chargegrid::server::Server server(config, fx.database().url());
  const auto port = [&] { return server.http_port(); };

  SECTION("the start reads the database before the events are processed") {
    // The consumer skips rows another transaction holds.
    lock.exec("SELECT id FROM outbox WHERE consumer = 'smart-charging' FOR UPDATE");
    server.start();
    REQUIRE(fx.eventually([&] { return predictor_sessions(port()) == 12; }));
    CHECK(events_pending(fx) == "12");
    lock.abort();
    REQUIRE(fx.eventually([&] { return events_pending(fx) == "0"; }));
    CHECK(predictor_sessions(port()) == 12);
  }
  SECTION("the events are processed before the start reads the database") {
    // The start's read waits for the site holidays table; the consumer does not read it.
    lock.exec0("LOCK TABLE site_holidays IN ACCESS EXCLUSIVE MODE");
    server.start();
    REQUIRE(fx.eventually(
        [&] { return events_pending(fx) == "0" && predictor_sessions(port()) == 12; }));
    const auto start_waiting = [&] {
      return fx.query_value(
          "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = "
          "'site_holidays'::regclass");
    };
    REQUIRE(fx.eventually([&] { return start_waiting() == "1"; }));
    lock.abort();
    REQUIRE(fx.eventually([&] { return start_waiting() == "0"; }));
    std::this_thread::sleep_for(500ms);
    CHECK(predictor_sessions(port()) == 12);
  }
  // One more ends while it runs: learnt from its event.
  ended_sessions(fx, "LEARN-A", "after", 1);
  CHECK(fx.eventually([&] { return predictor_sessions(port()) == 13; }));
  CHECK(events_pending(fx) == "0");
  server.stop();
}

TEST_CASE("A session that ends while its site's predictor is rebuilt is learnt once",
          "[integration][smart_charging]") {
  ApiFixture fx(smart_config());
  const auto site = limited_site(fx, 100000);
  fx.make_station("RELEARN-A", site);
  const auto port = fx.server().http_port();
  ended_sessions(fx, "RELEARN-A", "old", 10);
  REQUIRE(
      fx.eventually([&] { return events_pending(fx) == "0" && predictor_sessions(port) == 10; }));

  // The rebuild's read waits on a lock the test holds, while the site's holidays change (as
  // another node's PUT would) and a replan is asked for.
  auto locker = fx.sql();
  pqxx::work lock(locker);
  lock.exec0("LOCK TABLE site_holidays IN ACCESS EXCLUSIVE MODE");
  {
    auto c = fx.sql();
    pqxx::work tx(c);
    tx.exec_params0("UPDATE sites SET holidays_version = holidays_version + 1 WHERE id = $1", site);
    chargegrid::server::store::outbox::append(tx, chargegrid::server::store::outbox::kSiteChanged,
                                              {{"site_ids", {site}}});
    tx.commit();
  }
  REQUIRE(fx.eventually([&] {
    return fx.query_value(
               "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = "
               "'site_holidays'::regclass") == "1";
  }));
  // A session ends meanwhile: the predictor being replaced learns it from its event, the new
  // one from the database; neither twice.
  ended_sessions(fx, "RELEARN-A", "meanwhile", 1);
  REQUIRE(fx.eventually([&] { return events_pending(fx) == "0"; }));
  CHECK(predictor_sessions(port) == 11);
  lock.abort();
  REQUIRE(fx.eventually([&] {
    return chargegrid::testing::metric_value(
               port, "chargegrid_smart_charging_predictor_rebuilds_total") == 1;
  }));
  CHECK(predictor_sessions(port) == 11);
}

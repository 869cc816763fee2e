#include "chargegrid/protocols/typed_call.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>

#include "chargegrid/protocols/json_limits.hpp"
#include "chargegrid/protocols/rpc.hpp"
#include "chargegrid/protocols/validation.hpp"

using namespace chargegrid::protocols;
using nlohmann::json;

namespace {

// The DOM path's reading of a frame: parse_rpc, validate, from_json. Empty when it refuses.
std::optional<Call> dom_call(std::string_view frame, OcppVersion version) {
  auto parsed = parse_rpc(frame, version);
  auto* message = std::get_if<RpcMessage>(&parsed);
  if (!message) return std::nullopt;
  auto* call = std::get_if<Call>(message);
  if (!call || validate(version, call->action, Direction::Request, call->payload))
    return std::nullopt;
  return *call;
}

bool equals_dom(const TypedCall& typed, const Call& call) {
  return std::visit(
      [&](const auto& request) {
        using Request = std::decay_t<decltype(request)>;
        if constexpr (std::is_same_v<Request, std::monostate>) {
          return false;
        } else {
          return call.payload.get<Request>() == request;
        }
      },
      typed.request);
}

// Read both ways; the typed reading must exist and be the DOM's.
TypedCall expect_typed(std::string_view frame, OcppVersion version) {
  INFO("frame: " << frame);
  auto typed = read_typed_call(frame, version);
  REQUIRE(typed);
  auto call = dom_call(frame, version);
  REQUIRE(call);
  CHECK(typed->message_id == call->message_id);
  CHECK(typed->action == call->action);
  CHECK(equals_dom(*typed, *call));
  CHECK(parse_json(typed->payload_json).value == call->payload);
  return *typed;
}

// Left to the DOM path, which `dom_accepts` or refuses.
void expect_dom_path(std::string_view frame, OcppVersion version, bool dom_accepts) {
  INFO("frame: " << frame);
  CHECK_FALSE(read_typed_call(frame, version));
  CHECK(dom_call(frame, version).has_value() == dom_accepts);
}

constexpr auto kMeter16 =
    R"([2,"m1","MeterValues",{"connectorId":1,"transactionId":7,"meterValue":[{"timestamp":)"
    R"("2026-11-24T12:01:00.000Z","sampledValue":[{"value":"1350.5","context":"Sample.Periodic",)"
    R"("format":"Raw","measurand":"Energy.Active.Import.Register","unit":"Wh"},{"value":"230.1",)"
    R"("measurand":"Voltage","phase":"L1-N","unit":"V","location":"Outlet"}]}]}])";

constexpr auto kTransactionEvent =
    R"([2,"t1","TransactionEvent",{"eventType":"Started","timestamp":"2026-11-24T12:00:00.000Z",)"
    R"("triggerReason":"Authorized","seqNo":0,"transactionInfo":{"transactionId":"T-1",)"
    R"("chargingState":"Charging"},"idToken":{"idToken":"SIMTAG","type":"ISO14443"},)"
    R"("evse":{"id":1,"connectorId":1},"meterValue":[{"timestamp":"2026-11-24T12:00:00.000Z",)"
    R"("sampledValue":[{"value":1200,"measurand":"Energy.Active.Import.Register",)"
    R"("unitOfMeasure":{"unit":"Wh","multiplier":0}}]}]}])";

}  // namespace

TEST_CASE("protocols: the requests stations send most are read straight into their structs",
          "[typed]") {
  SECTION("OCPP 1.6") {
    const auto v = OcppVersion::v16;
    auto meter = expect_typed(kMeter16, v);
    const auto& request = std::get<v16::MeterValuesRequest>(meter.request);
    CHECK(request.connectorId == 1);
    CHECK(request.transactionId == 7);
    REQUIRE(request.meterValue.size() == 1);
    CHECK(request.meterValue[0].sampledValue.size() == 2);
    CHECK(request.meterValue[0].sampledValue[1].phase ==
          v16::MeterValuesRequestMeterValueSampledValuePhase::L1_N);
    expect_typed(R"([2,"b","BootNotification",{"chargePointVendor":"V","chargePointModel":"M",)"
                 R"("firmwareVersion":"1.2"}])",
                 v);
    expect_typed(R"([2,"s","StatusNotification",{"connectorId":0,"errorCode":"NoError",)"
                 R"("status":"Available","timestamp":"2026-11-24T12:00:00Z"}])",
                 v);
    expect_typed(R"([2,"h","Heartbeat",{}])", v);
    expect_typed(R"([2,"a","Authorize",{"idTag":"TAG-1"}])", v);
    expect_typed(R"([2,"1","StartTransaction",{"connectorId":1,"idTag":"SIMTAG",)"
                 R"("meterStart":1200,"timestamp":"2026-11-24T12:00:00.000Z","reservationId":4}])",
                 v);
    expect_typed(R"([2,"2","StopTransaction",{"transactionId":1,"meterStop":20,)"
                 R"("timestamp":"2026-11-24T13:00:00+01:00","reason":"Local","transactionData":)"
                 R"([{"timestamp":"2026-11-24T13:00:00Z","sampledValue":[{"value":"20"}]}]}])",
                 v);
  }
  SECTION("OCPP 2.0.1 and 2.1") {
    for (auto v : {OcppVersion::v201, OcppVersion::v21}) {
      expect_typed(kTransactionEvent, v);
      expect_typed(R"([2,"b","BootNotification",{"chargingStation":{"model":"M",)"
                   R"("vendorName":"V"},"reason":"PowerUp"}])",
                   v);
      expect_typed(R"([2,"s","StatusNotification",{"timestamp":"2026-11-24T12:00:00Z",)"
                   R"("connectorStatus":"Occupied","evseId":1,"connectorId":1}])",
                   v);
      expect_typed(R"([2,"m","MeterValues",{"evseId":1,"meterValue":[{"timestamp":)"
                   R"("2026-11-24T12:00:00Z","sampledValue":[{"value":-1.5e3,)"
                   R"("measurand":"Power.Active.Import","phase":"L1"}]}]}])",
                   v);
      expect_typed(R"([2,"a","Authorize",{"idToken":{"idToken":"T","type":"ISO14443"}}])", v);
      expect_typed(R"([2,"h","Heartbeat",{}])", v);
    }
    auto typed = expect_typed(kTransactionEvent, OcppVersion::v21);
    CHECK(std::holds_alternative<v21::TransactionEventRequest>(typed.request));
  }
}

TEST_CASE("protocols: a typed request reads numbers as the validators count them", "[typed]") {
  const auto v = OcppVersion::v16;
  // A whole number written with a fraction or an exponent is an integer (JSON Schema).
  auto typed = expect_typed(R"([2,"a","StatusNotification",{"connectorId":2.0,)"
                            R"("errorCode":"NoError","status":"Available"}])",
                            v);
  CHECK(std::get<v16::StatusNotificationRequest>(typed.request).connectorId == 2);
  expect_typed(R"([2,"a","StatusNotification",{"connectorId":1e1,"errorCode":"NoError",)"
               R"("status":"Available"}])",
               v);
  expect_typed(R"([2,"a","StatusNotification",{"connectorId":-0,"errorCode":"NoError",)"
               R"("status":"Available"}])",
               v);
  // Fractions, the 32-bit range and the schema's own limits are refused on both paths.
  for (const auto* id : {"1.5", "2147483648", "-2147483649", "18446744073709551615", "1e400",
                         "\"1\"", "true", "null"}) {
    expect_dom_path(std::string(R"([2,"a","StatusNotification",{"connectorId":)") + id +
                        R"(,"errorCode":"NoError","status":"Available"}])",
                    v, false);
  }
  // 2.x numbers take any JSON number, integers included.
  expect_typed(R"([2,"m","MeterValues",{"evseId":1,"meterValue":[{"timestamp":)"
               R"("2026-11-24T12:00:00Z","sampledValue":[{"value":18446744073709551615}]}]}])",
               OcppVersion::v201);
}

TEST_CASE("protocols: anything a typed reader does not accept takes the DOM path", "[typed]") {
  const auto v = OcppVersion::v16;
  SECTION("what the validators refuse, so their error reaches the station") {
    expect_dom_path(R"([2,"a","Authorize",{"idTag":"012345678901234567890"}])", v, false);
    expect_dom_path(R"([2,"a","Authorize",{}])", v, false);
    expect_dom_path(R"([2,"a","Authorize",{"idTag":"T","extra":1}])", v, false);
    expect_dom_path(R"([2,"a","Authorize",{"idTag":7}])", v, false);
    expect_dom_path(R"([2,"a","Authorize",[]])", v, false);
    expect_dom_path(R"([2,"s","StatusNotification",{"connectorId":1,"errorCode":"NoError",)"
                    R"("status":"Sleeping"}])",
                    v, false);
    expect_dom_path(R"([2,"s","StatusNotification",{"connectorId":1,"errorCode":"NoError",)"
                    R"("status":"Available","timestamp":"yesterday"}])",
                    v, false);
    expect_dom_path(R"([2,"h","Heartbeat",{"a":1}])", v, false);
    expect_dom_path(R"([2,"m","MeterValues",{"evseId":1,"meterValue":[]}])", OcppVersion::v201,
                    false);
  }
  SECTION("what the validators accept but the typed reader leaves to the DOM") {
    // A member given twice: the DOM keeps the last one.
    expect_dom_path(R"([2,"a","Authorize",{"idTag":"A","idTag":"B"}])", v, true);
    // Vendor members of an open object (2.x customData) are kept by the DOM path.
    expect_dom_path(R"([2,"h","Heartbeat",{"customData":{"vendorId":"X","hint":1}}])",
                    OcppVersion::v201, true);
    // A NUL is refused after validation, on the DOM path.
    expect_dom_path(R"([2,"a","Authorize",{"idTag":"A\u0000"}])", v, true);
  }
  SECTION("other messages and frames") {
    expect_dom_path(R"([2,"d","DataTransfer",{"vendorId":"V"}])", v, true);
    expect_dom_path(R"([3,"a",{"status":"Accepted"}])", v, false);
    expect_dom_path(R"([2,"a","Authorize",{"idTag":"T"}] x)", v, false);
    expect_dom_path(R"([2.0,"a","Authorize",{"idTag":"T"}])", v, false);
    expect_dom_path(R"([2,"","Authorize",{"idTag":"T"}])", v, false);
    expect_dom_path(R"([2,"0123456789012345678901234567890123456","Authorize",{"idTag":"T"}])", v,
                    false);
    expect_dom_path(R"([2,"a","TransactionEvent",{}])", v, false);  // not a 1.6 action
  }
  SECTION("customData without vendor members is read") {
    expect_typed(R"([2,"h","Heartbeat",{"customData":{"vendorId":"X"}}])", OcppVersion::v201);
  }
}

TEST_CASE("protocols: a typed call keeps its payload's text from the frame", "[typed]") {
  auto typed =
      expect_typed(R"( [ 2 , "i,d\"{[" , "Authorize" , { "idTag" : "T{,}" } ] )", OcppVersion::v16);
  CHECK(typed.message_id == "i,d\"{[");
  CHECK(typed.payload_json == R"({ "idTag" : "T{,}" })");
}

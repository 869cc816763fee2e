#include "chargegrid/protocols/rpc.hpp"

#include <catch2/catch.hpp>
#include <random>
#include <string>

using namespace chargegrid::protocols;
using nlohmann::json;

namespace {

constexpr OcppVersion kAllVersions[] = {OcppVersion::v16, OcppVersion::v201, OcppVersion::v21};

RpcParseError expect_error(std::string_view frame, OcppVersion version) {
  auto result = parse_rpc(frame, version);
  INFO("frame: " << frame.substr(0, 200));
  REQUIRE(std::holds_alternative<RpcParseError>(result));
  return std::get<RpcParseError>(result);
}

RpcMessage expect_message(std::string_view frame, OcppVersion version) {
  auto result = parse_rpc(frame, version);
  INFO("frame: " << frame.substr(0, 200));
  if (auto* error = std::get_if<RpcParseError>(&result)) FAIL(error->description);
  return std::get<RpcMessage>(result);
}

}  // namespace

TEST_CASE("protocols: subprotocol names map both ways", "[rpc]") {
  CHECK(subprotocol(OcppVersion::v16) == "ocpp1.6");
  CHECK(subprotocol(OcppVersion::v201) == "ocpp2.0.1");
  CHECK(subprotocol(OcppVersion::v21) == "ocpp2.1");
  for (auto v : kAllVersions) CHECK(version_from_subprotocol(subprotocol(v)) == v);
  CHECK_FALSE(version_from_subprotocol("ocpp2.0"));
  CHECK_FALSE(version_from_subprotocol("OCPP1.6"));
  CHECK_FALSE(version_from_subprotocol(""));
}

TEST_CASE("protocols: error codes use each version's wire spelling", "[rpc]") {
  CHECK(to_wire(RpcErrorCode::FormatViolation, OcppVersion::v16) == "FormationViolation");
  CHECK(to_wire(RpcErrorCode::FormatViolation, OcppVersion::v201) == "FormatViolation");
  CHECK(to_wire(RpcErrorCode::OccurrenceConstraintViolation, OcppVersion::v16) ==
        "OccurenceConstraintViolation");
  CHECK(to_wire(RpcErrorCode::OccurrenceConstraintViolation, OcppVersion::v21) ==
        "OccurrenceConstraintViolation");
  CHECK(to_wire(RpcErrorCode::RpcFrameworkError, OcppVersion::v16) == "FormationViolation");
  CHECK(to_wire(RpcErrorCode::RpcFrameworkError, OcppVersion::v201) == "RpcFrameworkError");
  CHECK(to_wire(RpcErrorCode::MessageTypeNotSupported, OcppVersion::v16) == "NotSupported");
  CHECK(to_wire(RpcErrorCode::MessageTypeNotSupported, OcppVersion::v201) ==
        "MessageTypeNotSupported");

  const std::vector<std::string_view> v16_codes = {"NotImplemented",
                                                   "NotSupported",
                                                   "InternalError",
                                                   "ProtocolError",
                                                   "SecurityError",
                                                   "FormationViolation",
                                                   "PropertyConstraintViolation",
                                                   "OccurenceConstraintViolation",
                                                   "TypeConstraintViolation",
                                                   "GenericError"};
  const std::vector<std::string_view> v201_codes = {"FormatViolation",
                                                    "GenericError",
                                                    "InternalError",
                                                    "MessageTypeNotSupported",
                                                    "NotImplemented",
                                                    "NotSupported",
                                                    "OccurrenceConstraintViolation",
                                                    "PropertyConstraintViolation",
                                                    "ProtocolError",
                                                    "RpcFrameworkError",
                                                    "SecurityError",
                                                    "TypeConstraintViolation"};
  for (int i = 0; i <= static_cast<int>(RpcErrorCode::TypeConstraintViolation); ++i) {
    const auto code = static_cast<RpcErrorCode>(i);
    INFO("code " << i);
    CHECK(std::find(v16_codes.begin(), v16_codes.end(), to_wire(code, OcppVersion::v16)) !=
          v16_codes.end());
    CHECK(std::find(v201_codes.begin(), v201_codes.end(), to_wire(code, OcppVersion::v201)) !=
          v201_codes.end());
    CHECK(to_wire(code, OcppVersion::v21) == to_wire(code, OcppVersion::v201));
  }
}

TEST_CASE("protocols: every message type parses and round-trips", "[rpc]") {
  const std::vector<std::string> common = {
      R"([2,"19223201","BootNotification",{"chargePointVendor":"VendorX","chargePointModel":"M1"}])",
      R"([3,"19223201",{"status":"Accepted","currentTime":"2024-01-01T00:00:00Z","interval":300}])",
      R"([4,"162376037","NotSupported","SetDisplayMessage not implemented",{"hint":"none"}])",
  };
  for (auto v : kAllVersions) {
    for (const auto& frame : common) {
      const RpcMessage message = expect_message(frame, v);
      CHECK(json::parse(serialize(message)) == json::parse(frame));
    }
  }
  const RpcMessage call = expect_message(common[0], OcppVersion::v16);
  REQUIRE(std::holds_alternative<Call>(call));
  CHECK(std::get<Call>(call).message_id == "19223201");
  CHECK(std::get<Call>(call).action == "BootNotification");
  CHECK(std::get<Call>(call).payload.at("chargePointModel") == "M1");

  const RpcMessage error = expect_message(common[2], OcppVersion::v201);
  REQUIRE(std::holds_alternative<CallError>(error));
  CHECK(std::get<CallError>(error).error_code == "NotSupported");
  CHECK(std::get<CallError>(error).description == "SetDisplayMessage not implemented");
  CHECK(std::get<CallError>(error).details == json{{"hint", "none"}});

  const std::string result_error = R"([5,"abc","InternalError","could not store",{}])";
  const std::string send = R"([6,"s1","NotifyPeriodicEventStream",{"id":1,"pending":0}])";
  const RpcMessage parsed_result_error = expect_message(result_error, OcppVersion::v21);
  REQUIRE(std::holds_alternative<CallResultError>(parsed_result_error));
  CHECK(std::get<CallResultError>(parsed_result_error).error_code == "InternalError");
  const RpcMessage parsed_send = expect_message(send, OcppVersion::v21);
  REQUIRE(std::holds_alternative<Send>(parsed_send));
  CHECK(std::get<Send>(parsed_send).action == "NotifyPeriodicEventStream");
  CHECK(json::parse(serialize(parsed_result_error)) == json::parse(result_error));
  CHECK(json::parse(serialize(parsed_send)) == json::parse(send));

  // Types 5 and 6 exist only in 2.1.
  for (auto v : {OcppVersion::v16, OcppVersion::v201}) {
    for (const auto& frame : {result_error, send}) {
      const auto e = expect_error(frame, v);
      CHECK(e.code == RpcErrorCode::MessageTypeNotSupported);
      CHECK_FALSE(e.message_id.empty());
    }
  }
}

TEST_CASE("protocols: malformed frames get the error the spec names", "[rpc]") {
  struct Case {
    std::string frame;
    RpcErrorCode code;
    std::string message_id;
  };
  const std::vector<Case> cases = {
      {"", RpcErrorCode::RpcFrameworkError, ""},
      {"not json", RpcErrorCode::RpcFrameworkError, ""},
      {R"({"a":1})", RpcErrorCode::RpcFrameworkError, ""},
      {"42", RpcErrorCode::RpcFrameworkError, ""},
      {"[]", RpcErrorCode::RpcFrameworkError, ""},
      {R"(["2","id","Heartbeat",{}])", RpcErrorCode::RpcFrameworkError, ""},
      {R"([2.0,"id","Heartbeat",{}])", RpcErrorCode::RpcFrameworkError, ""},
      {R"([2])", RpcErrorCode::RpcFrameworkError, ""},
      {R"([2,17,"Heartbeat",{}])", RpcErrorCode::RpcFrameworkError, ""},
      {R"([2,"","Heartbeat",{}])", RpcErrorCode::RpcFrameworkError, ""},
      {R"([2,"0123456789012345678901234567890123456","Heartbeat",{}])",
       RpcErrorCode::RpcFrameworkError, ""},
      {R"([2,"id1","Heartbeat"])", RpcErrorCode::RpcFrameworkError, "id1"},
      {R"([2,"id1","Heartbeat",{},{}])", RpcErrorCode::RpcFrameworkError, "id1"},
      {R"([3,"id1"])", RpcErrorCode::RpcFrameworkError, "id1"},
      {R"([4,"id1","GenericError","x"])", RpcErrorCode::RpcFrameworkError, "id1"},
      {R"([2,"id1",7,{}])", RpcErrorCode::RpcFrameworkError, "id1"},
      {R"([2,"id1","",{}])", RpcErrorCode::RpcFrameworkError, "id1"},
      {R"([4,"id1",1,"x",{}])", RpcErrorCode::RpcFrameworkError, "id1"},
      {R"([2,"id1","Heartbeat",[]])", RpcErrorCode::FormatViolation, "id1"},
      {R"([2,"id1","Heartbeat","{}"])", RpcErrorCode::FormatViolation, "id1"},
      {R"([2,"id1","Heartbeat",null])", RpcErrorCode::FormatViolation, "id1"},
      {R"([3,"id1",[1]])", RpcErrorCode::FormatViolation, "id1"},
      {R"([4,"id1","GenericError","x",[]])", RpcErrorCode::FormatViolation, "id1"},
      {R"([7,"id1","Heartbeat",{}])", RpcErrorCode::MessageTypeNotSupported, "id1"},
      {R"([-1,"id1"])", RpcErrorCode::MessageTypeNotSupported, "id1"},
      {R"([18446744073709551615,"id1"])", RpcErrorCode::MessageTypeNotSupported, "id1"},
      // Broken JSON after a readable id: the id is still reported.
      {R"([2,"id9","Heartbeat",{"a": }])", RpcErrorCode::RpcFrameworkError, "id9"},
      {R"([2,"id9","Heartbeat",{)", RpcErrorCode::RpcFrameworkError, "id9"},
  };
  for (auto v : kAllVersions) {
    for (const auto& c : cases) {
      const auto e = expect_error(c.frame, v);
      INFO(subprotocol(v) << " " << c.frame << " -> " << e.description);
      CHECK(e.code == c.code);
      CHECK(e.message_id == c.message_id);
      CHECK_FALSE(e.description.empty());
    }
  }
}

TEST_CASE("protocols: malformed-frame replies carry each version's code", "[rpc]") {
  const auto e = expect_error("[2,", OcppVersion::v16);
  const json v16_reply =
      json::parse(make_call_error(e.message_id, e.code, OcppVersion::v16, e.description));
  CHECK(v16_reply == json::array({4, "-1", "FormationViolation", e.description, json::object()}));
  const json v201_reply =
      json::parse(make_call_error(e.message_id, e.code, OcppVersion::v201, e.description));
  CHECK(v201_reply[2] == "RpcFrameworkError");

  const auto payload_error = expect_error(R"([2,"m-1","Heartbeat",[]])", OcppVersion::v16);
  const json reply = json::parse(make_call_error(payload_error.message_id, payload_error.code,
                                                 OcppVersion::v16, "bad", {{"path", ""}}));
  CHECK(reply == json::array({4, "m-1", "FormationViolation", "bad", {{"path", ""}}}));
}

TEST_CASE("protocols: make_call_error keeps descriptions within 255 characters", "[rpc]") {
  std::string long_text;
  for (int i = 0; i < 300; ++i) long_text += "\xc3\xa9";  // é, two bytes each
  const json reply = json::parse(
      make_call_error("x", RpcErrorCode::GenericError, OcppVersion::v201, long_text, json(5)));
  CHECK(reply[3].get<std::string>().size() == 255 * 2);
  CHECK(reply[4] == json::object());  // details must be an object
}

TEST_CASE("protocols: hostile input never throws", "[rpc]") {
  SECTION("deep nesting is refused without recursion") {
    std::string deep = R"([2,"deep","DataTransfer",)";
    for (int i = 0; i < 100000; ++i) deep += "[";
    const auto e = expect_error(deep, OcppVersion::v201);
    CHECK(e.code == RpcErrorCode::RpcFrameworkError);
    CHECK(e.message_id == "deep");

    std::string nested_envelope(200000, '[');
    CHECK(expect_error(nested_envelope, OcppVersion::v16).code == RpcErrorCode::RpcFrameworkError);

    // Brackets inside strings do not count as nesting.
    std::string in_string =
        R"([2,"s","DataTransfer",{"vendorId":"x","data":")" + std::string(1000, '[') + R"("}])";
    expect_message(in_string, OcppVersion::v16);
  }
  SECTION("nesting at the limit is accepted") {
    std::string payload = "{\"a\":";
    std::string frame = R"([2,"ok","DataTransfer",)";
    for (int i = 0; i < kMaxJsonDepth - 1; ++i) frame += payload;
    frame += "1";
    for (int i = 0; i < kMaxJsonDepth - 1; ++i) frame += "}";
    frame += "]";
    expect_message(frame, OcppVersion::v201);
    frame.insert(frame.find('{'), payload);
    frame.insert(frame.size() - 1, "}");
    CHECK(expect_error(frame, OcppVersion::v201).code == RpcErrorCode::RpcFrameworkError);
  }
  SECTION("huge numbers") {
    // Beyond a double: the value's field is named, as for any value out of range.
    const auto overflow = expect_error(R"([2,"n","X",{"v":[1,{"w~/":-1e400}]}])", OcppVersion::v16);
    CHECK(overflow.code == RpcErrorCode::PropertyConstraintViolation);
    CHECK(overflow.message_id == "n");
    CHECK(overflow.path == "/v/1/w~0~1");
    // Elsewhere in the frame it is a broken frame.
    CHECK(expect_error(R"([2,"n","X",{}, 1e400])", OcppVersion::v16).code ==
          RpcErrorCode::RpcFrameworkError);
    CHECK(expect_error(R"([3,"n",{"v":1e400}])", OcppVersion::v201).path == "/v");
    const RpcMessage m =
        expect_message(R"([2,"n","X",{"v":123456789012345678901234567890}])", OcppVersion::v16);
    CHECK(std::get<Call>(m).payload.at("v").is_number_float());
  }
  SECTION("invalid UTF-8") {
    const std::string frame = "[2,\"u\",\"Authorize\",{\"idTag\":\"\xff\xfe\"}]";
    const auto e = expect_error(frame, OcppVersion::v16);
    CHECK(e.code == RpcErrorCode::RpcFrameworkError);
    CHECK(e.message_id == "u");
    // Serialising a hand-built message with bad UTF-8 does not throw either.
    const std::string out = serialize(Call{"u", "Authorize", {{"idTag", "\xff"}}});
    CHECK(json::parse(out)[3]["idTag"] == "\xef\xbf\xbd");
  }
  SECTION("random bytes") {
    std::mt19937 rng(20240601);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<int> length(0, 300);
    const std::string alphabet = "[]{},:\"0123456789-.eE truefalsn\\/u";
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    for (int i = 0; i < 5000; ++i) {
      std::string frame;
      const int n = length(rng);
      for (int k = 0; k < n; ++k) {
        frame += i % 2 ? static_cast<char>(byte(rng)) : alphabet[pick(rng)];
      }
      for (auto v : kAllVersions) {
        CHECK_NOTHROW(parse_rpc(frame, v));
      }
    }
  }
}

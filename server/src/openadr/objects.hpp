#pragma once
// OpenADR 3.0.1 objects as the built-in VTN accepts them: `program` and `event` with their
// `intervalPeriod`, `interval`, `valuesMap`, `eventPayloadDescriptor` and `reportDescriptor`,
// checked against the specification's schemas (required members, types, objectID and
// ISO 8601 formats, no members the schema does not name). The fields the VTN provisions (id,
// createdDateTime, modificationDateTime, objectType) are dropped from what a client sends.

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace chargegrid::server::openadr {

// The first problem with a program or event, as a sentence naming the member ("intervals/0/
// payloads: ..."), or nullopt when the object is well formed.
// kExtensionsAllowed passes over members the schema does not name (objects read from a
// utility's VTN in VEN mode); the built-in VTN refuses them.
enum class Members { kSchemaOnly, kExtensionsAllowed };
std::optional<std::string> program_problem(const nlohmann::json& program);
std::optional<std::string> event_problem(const nlohmann::json& event,
                                         Members members = Members::kSchemaOnly);

// The object without the members the VTN provisions.
nlohmann::json without_vtn_fields(nlohmann::json object);

// An ISO 8601 duration ("PT1H", "P1DT30M", "PT0.5S", "P2W"). Years count 365 days and months
// 30; "P9999Y" is the specification's "no end" and reads as nullopt with `open_ended` set.
struct Duration {
  std::chrono::milliseconds length{0};
  bool open_ended = false;
};
std::optional<Duration> parse_duration(const std::string& text);

// Whether `text` is an objectID (1..128 of [A-Za-z0-9_-]).
bool is_object_id(const std::string& text);

}  // namespace chargegrid::server::openadr

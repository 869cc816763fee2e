#pragma once
// Checks a JSON value against the subset of JSON Schema (2020-12) that the
// OpenAPI document uses for request bodies: type (one or several), properties,
// required, additionalProperties: false, enum, const, minimum/maximum,
// minLength/maxLength, pattern-free formats (date-time, date, uri), items,
// minItems/maxItems, $ref to #/components/schemas/..., and oneOf/anyOf.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace chargegrid::server::api {

// The first problem found, as "field.path: what is wrong", or nullopt when the
// value conforms. `document` resolves $ref.
std::optional<std::string> check_schema(const nlohmann::json& schema, const nlohmann::json& value,
                                        const nlohmann::json& document);

// "field.path: text must not contain a NUL character (\u0000)" for the first string or
// member name in `value` that holds U+0000 (PostgreSQL text cannot store it), found by
// protocols::find_nul_character as for OCPP payloads; nullopt when there is none.
std::optional<std::string> find_nul_character(const nlohmann::json& value);

// RFC 3339 date-time with a time-zone offset ("2026-11-24T17:00:00Z").
bool is_rfc3339(const std::string& text);

}  // namespace chargegrid::server::api

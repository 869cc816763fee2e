#pragma once
// A JSON value held by generated message structs where the schema allows any
// value (untyped fields, vendor-specific members of CustomDataType). Keeps the
// struct headers free of the full nlohmann/json.hpp.

#include <memory>
#include <nlohmann/json_fwd.hpp>

namespace chargegrid::protocols {

class AnyJson {
 public:
  AnyJson();  // JSON null
  explicit AnyJson(const nlohmann::json& value);
  AnyJson(const AnyJson& other);
  AnyJson(AnyJson&& other) noexcept;
  AnyJson& operator=(const AnyJson& other);
  AnyJson& operator=(AnyJson&& other) noexcept;
  ~AnyJson();

  const nlohmann::json& value() const;
  nlohmann::json& value();

  friend bool operator==(const AnyJson& a, const AnyJson& b);

 private:
  std::unique_ptr<nlohmann::json> value_;  // null after a move: reads as JSON null
};

void to_json(nlohmann::json& j, const AnyJson& value);
void from_json(const nlohmann::json& j, AnyJson& value);

}  // namespace chargegrid::protocols

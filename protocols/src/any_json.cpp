#include "chargegrid/protocols/any_json.hpp"

#include <nlohmann/json.hpp>

namespace chargegrid::protocols {
namespace {
const nlohmann::json kNull;
}

AnyJson::AnyJson() = default;
AnyJson::AnyJson(const nlohmann::json& value) : value_(std::make_unique<nlohmann::json>(value)) {}
AnyJson::AnyJson(const AnyJson& other)
    : value_(other.value_ ? std::make_unique<nlohmann::json>(*other.value_) : nullptr) {}
AnyJson::AnyJson(AnyJson&& other) noexcept = default;
AnyJson& AnyJson::operator=(const AnyJson& other) {
  if (this != &other) {
    value_ = other.value_ ? std::make_unique<nlohmann::json>(*other.value_) : nullptr;
  }
  return *this;
}
AnyJson& AnyJson::operator=(AnyJson&& other) noexcept = default;
AnyJson::~AnyJson() = default;

const nlohmann::json& AnyJson::value() const {
  return value_ ? *value_ : kNull;
}

nlohmann::json& AnyJson::value() {
  if (!value_) value_ = std::make_unique<nlohmann::json>();
  return *value_;
}

bool operator==(const AnyJson& a, const AnyJson& b) {
  return a.value() == b.value();
}

void to_json(nlohmann::json& j, const AnyJson& value) {
  j = value.value();
}
void from_json(const nlohmann::json& j, AnyJson& value) {
  value = AnyJson(j);
}

}  // namespace chargegrid::protocols

#include "chargegrid/ledger/jcs.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <vector>

namespace chargegrid::ledger {
namespace {

constexpr std::int64_t kMaxExactInteger = std::int64_t{1} << 53;

// UTF-16 code units of a UTF-8 string (already validated by the JSON parser).
std::u16string to_utf16(const std::string& text) {
  std::u16string out;
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    std::uint32_t cp;
    int extra;
    if (c < 0x80) {
      cp = c, extra = 0;
    } else if ((c >> 5) == 0x6) {
      cp = c & 0x1f, extra = 1;
    } else if ((c >> 4) == 0xe) {
      cp = c & 0x0f, extra = 2;
    } else {
      cp = c & 0x07, extra = 3;
    }
    for (int k = 1; k <= extra && i + k < text.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3f);
    }
    i += 1 + extra;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xd800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xdc00 + (cp & 0x3ff)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
  }
  return out;
}

void write_string(const std::string& text, std::string& out) {
  out.push_back('"');
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          static constexpr char kDigits[] = "0123456789abcdef";
          out += "\\u00";
          out.push_back(kDigits[c >> 4]);
          out.push_back(kDigits[c & 0xf]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

void write(const nlohmann::json& value, std::string& out) {
  using Type = nlohmann::json::value_t;
  switch (value.type()) {
    case Type::null:
      out += "null";
      return;
    case Type::boolean:
      out += value.get<bool>() ? "true" : "false";
      return;
    case Type::string:
      write_string(value.get_ref<const std::string&>(), out);
      return;
    case Type::number_integer: {
      auto n = value.get<std::int64_t>();
      if (n > kMaxExactInteger || n < -kMaxExactInteger) {
        throw CanonicalJsonError("integer " + std::to_string(n) + " is beyond 2^53");
      }
      out += std::to_string(n);
      return;
    }
    case Type::number_unsigned: {
      auto n = value.get<std::uint64_t>();
      if (n > static_cast<std::uint64_t>(kMaxExactInteger)) {
        throw CanonicalJsonError("integer " + std::to_string(n) + " is beyond 2^53");
      }
      out += std::to_string(n);
      return;
    }
    case Type::number_float:
      out += es6_number(value.get<double>());
      return;
    case Type::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& element : value) {
        if (!first) out.push_back(',');
        first = false;
        write(element, out);
      }
      out.push_back(']');
      return;
    }
    case Type::object: {
      std::vector<std::pair<std::u16string, nlohmann::json::const_iterator>> members;
      members.reserve(value.size());
      for (auto it = value.cbegin(); it != value.cend(); ++it) {
        members.emplace_back(to_utf16(it.key()), it);
      }
      std::sort(members.begin(), members.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      out.push_back('{');
      bool first = true;
      for (const auto& [name, it] : members) {
        if (!first) out.push_back(',');
        first = false;
        write_string(it.key(), out);
        out.push_back(':');
        write(it.value(), out);
      }
      out.push_back('}');
      return;
    }
    case Type::binary:
      throw CanonicalJsonError("binary values have no JSON form");
    case Type::discarded:
      throw CanonicalJsonError("discarded value");
  }
}

}  // namespace

std::string es6_number(double value) {
  if (!std::isfinite(value)) throw CanonicalJsonError("NaN and Infinity are not JSON numbers");
  if (value == 0) return "0";  // also -0
  std::string sign = value < 0 ? "-" : "";
  double magnitude = std::fabs(value);

  // Shortest round-trip digits in scientific form: d[.ddd]e±x.
  char buffer[64];
  auto result =
      std::to_chars(buffer, buffer + sizeof buffer, magnitude, std::chars_format::scientific);
  std::string text(buffer, result.ptr);
  auto e = text.find('e');
  std::string digits;
  for (std::size_t i = 0; i < e; ++i) {
    if (text[i] != '.') digits.push_back(text[i]);
  }
  int exponent = std::stoi(text.substr(e + 1));
  int k = static_cast<int>(digits.size());
  int n = exponent + 1;  // ECMAScript's n: value = 0.digits * 10^n

  std::string out = sign;
  if (k <= n && n <= 21) {
    out += digits + std::string(n - k, '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, n) + "." + digits.substr(n);
  } else if (-6 < n && n <= 0) {
    out += "0." + std::string(-n, '0') + digits;
  } else {
    out += digits.substr(0, 1);
    if (k > 1) out += "." + digits.substr(1);
    out += (n - 1 >= 0 ? "e+" : "e-") + std::to_string(std::abs(n - 1));
  }
  return out;
}

std::string canonical_json(const nlohmann::json& value) {
  std::string out;
  write(value, out);
  return out;
}

std::string canonicalize(std::string_view json_text) {
  return canonical_json(nlohmann::json::parse(json_text));
}

}  // namespace chargegrid::ledger

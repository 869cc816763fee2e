#include "chargegrid/base/percent.hpp"

#include <openssl/crypto.h>

namespace chargegrid::base {
namespace {

// The byte an escape at text[at] ('%' then two hex digits) stands for, or -1.
int escaped_byte(std::string_view text, std::size_t at) {
  if (at + 2 >= text.size()) return -1;
  const int hi = OPENSSL_hexchar2int(static_cast<unsigned char>(text[at + 1]));
  const int lo = OPENSSL_hexchar2int(static_cast<unsigned char>(text[at + 2]));
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text,
                                          const PercentDecodeOptions& options,
                                          PercentError* error) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      const int byte = escaped_byte(text, i);
      if (byte < 0 || (byte == 0 && options.refuse_nul)) {
        if (error) *error = byte < 0 ? PercentError::kMalformedEscape : PercentError::kNul;
        return std::nullopt;
      }
      out += static_cast<char>(byte);
      i += 2;
    } else if (options.plus_is_space && text[i] == '+') {
      out += ' ';
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string percent_decode_lenient(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const int byte = text[i] == '%' ? escaped_byte(text, i) : -1;
    if (byte >= 0) {
      out += static_cast<char>(byte);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string percent_encode(std::string_view text, std::string_view keep) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    const bool unreserved = (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') ||
                            (u >= '0' && u <= '9') || c == '-' || c == '.' || c == '_' ||
                            c == '~' || keep.find(c) != std::string_view::npos;
    if (unreserved) {
      out += c;
    } else {
      out += '%';
      out += kDigits[u >> 4];
      out += kDigits[u & 0xF];
    }
  }
  return out;
}

}  // namespace chargegrid::base

#include "chargegrid/base/encoding.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <climits>
#include <stdexcept>

namespace chargegrid::base {
namespace {

template <class Out>
std::optional<Out> hex_decode_as(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  Out out(text.size() / 2, 0);
  for (std::size_t i = 0; i < out.size(); ++i) {
    // OPENSSL_hexstr2buf would need a NUL-terminated copy and leaves errors on the thread's
    // queue (which TLS code reads); the per-digit helper has neither problem.
    const int hi = OPENSSL_hexchar2int(static_cast<unsigned char>(text[2 * i]));
    const int lo = OPENSSL_hexchar2int(static_cast<unsigned char>(text[2 * i + 1]));
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<typename Out::value_type>(hi * 16 + lo);
  }
  return out;
}

bool is_base64_digit(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// EVP_DecodeBlock takes '=' anywhere and trims whitespace: check the strict form first.
std::size_t strict_base64_padding(std::string_view text, bool& ok) {
  ok = text.size() % 4 == 0;
  if (!ok) return 0;
  std::size_t padding = 0;
  if (text.ends_with("==")) {
    padding = 2;
  } else if (text.ends_with('=')) {
    padding = 1;
  }
  ok =
      std::all_of(text.begin(), text.end() - static_cast<std::ptrdiff_t>(padding), is_base64_digit);
  return padding;
}

template <class Out>
std::optional<Out> base64_decode_as(std::string_view text) {
  bool ok = false;
  const std::size_t padding = strict_base64_padding(text, ok);
  if (!ok) return std::nullopt;
  if (text.empty()) return Out{};
  if (text.size() > INT_MAX) return std::nullopt;
  Out out(text.size() / 4 * 3, 0);
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

}  // namespace

std::string hex_encode(ByteView bytes, HexCase letters) {
  if (bytes.empty()) return {};
  std::string out(bytes.size() * 2 + 1, '\0');
  std::size_t length = 0;
  if (OPENSSL_buf2hexstr_ex(out.data(), out.size(), &length, bytes.data(), bytes.size(), '\0') != 1)
    throw std::runtime_error("hex encoding failed in OpenSSL");
  out.resize(bytes.size() * 2);
  // OpenSSL writes upper case.
  if (letters == HexCase::kLower)
    for (char& c : out)
      if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::optional<Bytes> hex_decode(std::string_view text) {
  return hex_decode_as<Bytes>(text);
}

std::optional<std::string> hex_decode_to_string(std::string_view text) {
  return hex_decode_as<std::string>(text);
}

std::string base64_encode(ByteView bytes) {
  if (bytes.size() > INT_MAX / 4 * 3) throw std::length_error("base64: input too large");
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string base64url_encode(ByteView bytes) {
  std::string out = base64_encode(bytes);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

std::optional<Bytes> base64_decode(std::string_view text) {
  return base64_decode_as<Bytes>(text);
}

std::optional<std::string> base64_decode_to_string(std::string_view text) {
  return base64_decode_as<std::string>(text);
}

}  // namespace chargegrid::base

#pragma once
// Standard base64 (RFC 4648, padded) through OpenSSL.

#include <optional>
#include <string>
#include <string_view>

namespace chargegrid::server::security {

std::string base64_encode(std::string_view bytes);
// nullopt unless `text` is padded base64 with no whitespace.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace chargegrid::server::security

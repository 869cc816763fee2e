#include "chargegrid/db/url.hpp"

#include <stdexcept>

namespace chargegrid::db {
namespace {

struct UriParts {
  std::string_view prefix;  // scheme://authority
  std::string_view path;    // without the leading '/'
  std::string_view rest;    // '?query' or '#fragment' or empty
};

UriParts split(std::string_view url) {
  std::size_t scheme_end = std::string_view::npos;
  for (std::string_view scheme : {"postgresql://", "postgres://"})
    if (url.starts_with(scheme)) scheme_end = scheme.size();
  if (scheme_end == std::string_view::npos)
    throw std::invalid_argument("not a postgresql:// URI: '" + std::string(url) + "'");
  const std::size_t authority_end = url.find_first_of("/?#", scheme_end);
  if (authority_end == std::string_view::npos) return {url, {}, {}};
  UriParts parts{url.substr(0, authority_end), {}, {}};
  if (url[authority_end] != '/') {
    parts.rest = url.substr(authority_end);
    return parts;
  }
  const std::size_t path_end = url.find_first_of("?#", authority_end);
  parts.path = url.substr(authority_end + 1, path_end == std::string_view::npos
                                                 ? std::string_view::npos
                                                 : path_end - authority_end - 1);
  if (path_end != std::string_view::npos) parts.rest = url.substr(path_end);
  return parts;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                            c == '~' || c == '/';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::string url_with_database(std::string_view url, std::string_view database) {
  const auto parts = split(url);
  std::string encoded = percent_encode(database);
  // '/' is fine in a query value but not inside the path segment naming the database.
  std::string path;
  for (char c : encoded) path += c == '/' ? std::string("%2F") : std::string(1, c);
  return std::string(parts.prefix) + "/" + path + std::string(parts.rest);
}

std::string database_of(std::string_view url) {
  const auto path = split(url).path;
  std::string out;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%' && i + 2 < path.size() && hex_value(path[i + 1]) >= 0 &&
        hex_value(path[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(path[i + 1]) * 16 + hex_value(path[i + 2]));
      i += 2;
    } else {
      out += path[i];
    }
  }
  return out;
}

}  // namespace chargegrid::db

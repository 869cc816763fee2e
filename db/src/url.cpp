#include "chargegrid/db/url.hpp"

#include <stdexcept>

#include "chargegrid/base/percent.hpp"

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

}  // namespace

std::string percent_encode(std::string_view text) {
  return base::percent_encode(text, "/");
}

std::string url_with_database(std::string_view url, std::string_view database) {
  const auto parts = split(url);
  // '/' is fine in a query value but not inside the path segment naming the database.
  return std::string(parts.prefix) + "/" + base::percent_encode(database) + std::string(parts.rest);
}

std::string database_of(std::string_view url) {
  return base::percent_decode_lenient(split(url).path);
}

}  // namespace chargegrid::db

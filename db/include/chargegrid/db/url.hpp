// Small helpers for libpq connection URIs (postgresql://...).
#pragma once

#include <string>
#include <string_view>

namespace chargegrid::db {

// Percent-encodes everything but unreserved characters and '/', for a URI query value.
std::string percent_encode(std::string_view text);

// The same URI naming another database: replaces (or adds) its path component, keeping
// host, port, user and query parameters. Throws std::invalid_argument for a string that is
// not a postgresql:// or postgres:// URI.
std::string url_with_database(std::string_view url, std::string_view database);

// The database a URI names (its percent-decoded path), empty when it names none.
std::string database_of(std::string_view url);

}  // namespace chargegrid::db

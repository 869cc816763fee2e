#pragma once
// PostgreSQL array literals for passing many values as one parameter ($1::text[]).

#include <cstdint>
#include <string>
#include <vector>

namespace chargegrid::server::store {

// {"a","b"} with quotes and backslashes escaped.
std::string text_array(const std::vector<std::string>& items);
// {1,2,3}
std::string integer_array(const std::vector<std::int64_t>& items);

}  // namespace chargegrid::server::store

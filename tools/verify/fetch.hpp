// A plain HTTP(S) GET for chargegrid-verify tiles: one request per connection.
#pragma once

#include <string>

namespace chargegrid::verify {

struct Fetched {
  int status = 0;
  std::string body;
};

// Throws std::runtime_error when the server cannot be reached or the URL is not http(s).
Fetched http_get(const std::string& url);

}  // namespace chargegrid::verify

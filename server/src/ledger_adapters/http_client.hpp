#pragma once
// A small blocking HTTP/1.1 client for outgoing requests (webhook deliveries, JSON-RPC, the
// OpenADR VEN's polls): http or https (certificates checked against the system's CAs, or
// SSL_CERT_FILE), one request per connection, every step within the timeout.

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace chargegrid::server::ledger_adapters {

struct HttpAnswer {
  int status = 0;
  std::string body;
};

struct Url {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;  // path and query, "/" at least
};
// Throws std::invalid_argument when the text is not an http:// or https:// URL.
Url parse_url(const std::string& text);

// Throws std::runtime_error when no answer came (connection refused, TLS failure, timeout).
HttpAnswer http_post(const std::string& url,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     const std::string& body, std::chrono::milliseconds timeout,
                     const std::string& content_type = "application/json");
HttpAnswer http_get(const std::string& url,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    std::chrono::milliseconds timeout);

}  // namespace chargegrid::server::ledger_adapters

#pragma once
// A blocking OCPP-J station over wss for the security tests: Beast's SSL WebSocket client with
// a chosen CA, client certificate, TLS versions and cipher suites. Every call returns when done
// or when its timeout passes.

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace chargegrid::testing {

struct TlsOptions {
  std::string ca_file;    // the CA the server's certificate must chain to
  std::string cert_file;  // client certificate (profile 3); empty: none
  std::string key_file;
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
  std::string ciphers;  // TLS 1.2 suites; empty: OpenSSL's defaults
};

// The TLS handshake failed (what() has OpenSSL's reason).
class TlsFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "Basic base64(user:password)".
std::string basic_auth(const std::string& user, const std::string& password);

class TlsStation {
 public:
  TlsStation();
  ~TlsStation();
  TlsStation(const TlsStation&) = delete;
  TlsStation& operator=(const TlsStation&) = delete;

  // wss://127.0.0.1:port/ocpp/{station_id} offering `subprotocol`. Returns the negotiated
  // subprotocol; throws TlsFailed, sim::HandshakeRefused (non-101 answer), sim::Timeout, or
  // boost::system::system_error when the server closes the connection instead.
  std::string connect(std::uint16_t port, const std::string& station_id,
                      const std::string& subprotocol, const TlsOptions& options,
                      const std::map<std::string, std::string>& headers = {},
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Sends a CALL and returns its CALLRESULT/CALLERROR; CALLs from the server that arrive
  // meanwhile are kept for take_server_calls().
  nlohmann::json call(const std::string& action, const nlohmann::json& payload,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // The next CALL from the server (waiting up to `timeout`), answered with `answer`.
  std::optional<nlohmann::json> next_server_call(const nlohmann::json& answer,
                                                 std::chrono::milliseconds timeout);
  std::vector<nlohmann::json> take_server_calls();

  // After connect(): what TLS settled on and what the server showed.
  std::string tls_version() const;
  std::string cipher() const;
  std::string server_certificate_serial() const;  // hexadecimal, as openssl prints it
  bool closed() const;

 private:
  std::optional<std::string> receive(std::chrono::milliseconds timeout);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint64_t next_id_ = 0;
  std::vector<nlohmann::json> server_calls_;
};

}  // namespace chargegrid::testing

#pragma once
// The verifiable log on the HTTP port, without an API key (anyone may audit it):
//   GET /ledger/checkpoint                  the newest signed checkpoint (C2SP tlog-checkpoint)
//   GET /ledger/tile/<L>/<N>[.p/<W>]        Merkle tiles (C2SP tlog-tiles)
//   GET /ledger/tile/entries/<N>[.p/<W>]    entry bundles of the canonical records
//   GET /ledger/verifier-key                the <name>+<id>+<key> verifier key
//   GET /ledger/proof/inclusion?index=I&size=N
//   GET /ledger/proof/consistency?old=M&new=N
//   GET /ledger/entries/{index}             one canonical record
// Tiles, bundles and entries never change once they exist: they are served as immutable;
// the checkpoint may be cached for two seconds.

#include <atomic>
#include <boost/asio/awaitable.hpp>

#include "connections/http_connection.hpp"

namespace chargegrid::server {
class Database;
}

namespace chargegrid::server::ledger_adapters {

class LedgerHttp {
 public:
  explicit LedgerHttp(Database& database) : database_(database) {}
  static bool handles(const HttpRequest& request);
  boost::asio::awaitable<HttpResponse> respond(const HttpRequest& request);

 private:
  Database& database_;
  std::atomic<bool> log_open_{false};  // the log's tables exist (never changes back)
};

}  // namespace chargegrid::server::ledger_adapters

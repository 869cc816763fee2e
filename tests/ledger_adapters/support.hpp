// What the ledger adapter tests share: a key and a folder per test, a stand-in for the
// settlement service (a record appended to the verifiable log, then its "settlement.recorded"
// outbox event), a real HTTP webhook receiver, HTTP GETs of the ledger endpoints, and a local
// EVM chain (ganache in a process of its own; also used by the settlement benchmark).
#pragma once

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../ledger/log_records.hpp"
#include "chargegrid/ledger/postgres_log.hpp"
#include "chargegrid/server/config.hpp"
#include "chargegrid/testing/child_process.hpp"
#include "chargegrid/testing/eventually.hpp"
#include "chargegrid/testing/http_client.hpp"
#include "ledger_adapters/http_client.hpp"
#include "store/outbox.hpp"

namespace chargegrid::ledger_testing {

using namespace std::chrono_literals;

// A fresh folder under the system's temporary folder, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = std::filesystem::temp_directory_path() /
            ("chargegrid-ledger-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The webhook signing secret the tests configure: whsec_ + base64 of 24 bytes.
inline const std::string kWebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// A log key written to `dir`/log.key, for the server (--ledger-key-file) and the test's writer.
inline ledger::NoteSigner make_key(const std::filesystem::path& dir, const std::string& origin) {
  auto signer = ledger::NoteSigner::generate(origin);
  std::ofstream(dir / "log.key") << signer.skey() << "\n";
  return signer;
}

// The benchmarks' server: a signed log whose key and data live in a fresh folder NAME-PID under
// the temporary folder, a checkpoint every second. The log's key.
inline ledger::NoteSigner use_bench_ledger(server::Config& config, const std::string& name) {
  config.checkpoint_interval_s = 1;
  config.data_dir =
      std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()));
  config.ledger_key_file = (std::filesystem::path(config.data_dir) / "log.key").string();
  std::filesystem::create_directories(config.data_dir);
  return make_key(config.data_dir, "bench.example/ledger");
}

inline std::string record_text(const std::string& id) {
  return ledger::canonical_record(ledger::testing::synthetic_record(id));
}

// Plays the settlement service: appends a record to the log, then writes its outbox event.
class SettlementStandIn {
 public:
  SettlementStandIn(const std::string& url, const ledger::NoteSigner& signer)
      : connection_(url), log_(connection_, signer) {}

  std::uint64_t settle(const std::string& settlement_id) {
    const auto record = record_text(settlement_id);
    const auto index = log_.append({record}).indices.at(0);
    pqxx::work tx(connection_);
    server::store::outbox::append(tx, server::store::outbox::kSettlementRecorded,
                                  {{"settlement_id", settlement_id},
                                   {"log_index", index},
                                   {"session_id", "session-" + settlement_id}});
    tx.commit();
    return index;
  }
  ledger::PostgresLog& log() { return log_; }
  pqxx::connection& connection() { return connection_; }

 private:
  pqxx::connection connection_;
  ledger::PostgresLog log_;
};

struct ReceivedHook {
  std::map<std::string, std::string> headers;
  std::string body;
};

// A real HTTP(S) server that takes webhook deliveries: answers `status` (200 by default), or
// refuses connections while down(). With a TLS context it speaks https.
class WebhookReceiver {
 public:
  explicit WebhookReceiver(std::shared_ptr<boost::asio::ssl::context> tls = nullptr)
      : tls_(std::move(tls)) {
    open(0);
  }
  ~WebhookReceiver() { close(); }

  std::uint16_t port() const { return port_; }
  std::string url() const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) +
           "/hooks/ledger";
  }
  void answer(int status) { status_ = status; }
  // Each answer waits this long after the request was recorded (a delivery in flight).
  void delay(std::chrono::milliseconds d) { delay_ms_ = static_cast<int>(d.count()); }
  // Connections refused until up().
  void down() { close(); }
  void up() { open(port_); }

  std::vector<ReceivedHook> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }
  std::size_t count() {
    std::lock_guard lock(mutex_);
    return received_.size();
  }

 private:
  void open(std::uint16_t port) {
    namespace asio = boost::asio;
    acceptor_ = std::make_unique<asio::ip::tcp::acceptor>(io_);
    asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
    acceptor_->open(endpoint.protocol());
    acceptor_->set_option(asio::socket_base::reuse_address(true));
    acceptor_->bind(endpoint);
    acceptor_->listen();
    port_ = acceptor_->local_endpoint().port();
    stop_ = false;
    thread_ = std::thread([this] { serve(); });
  }
  void close() {
    if (!thread_.joinable()) return;
    stop_ = true;
    boost::system::error_code ignored;
    // Wake the blocking accept with a connection of our own.
    boost::asio::ip::tcp::socket poke(io_);
    poke.connect({boost::asio::ip::make_address("127.0.0.1"), port_}, ignored);
    thread_.join();
    acceptor_->close(ignored);
    acceptor_.reset();
  }
  template <class Stream>
  void take(Stream& stream) {
    namespace http = boost::beast::http;
    boost::system::error_code ec;
    boost::beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::read(stream, buffer, request, ec);
    if (ec) return;
    ReceivedHook hook;
    for (const auto& field : request)
      hook.headers[std::string(field.name_string())] = field.value();
    hook.body = request.body();
    const int status = status_;
    if (status >= 200 && status < 300) {
      std::lock_guard lock(mutex_);
      received_.push_back(std::move(hook));
    }
    if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_.load()));
    http::response<http::string_body> response{static_cast<http::status>(status), 11};
    response.body() = "{}";
    response.prepare_payload();
    http::write(stream, response, ec);
  }
  void serve() {
    while (!stop_) {
      boost::asio::ip::tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_->accept(socket, ec);
      if (ec || stop_) return;
      if (!tls_) {
        take(socket);
        continue;
      }
      boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream(std::move(socket), *tls_);
      stream.handshake(boost::asio::ssl::stream_base::server, ec);
      if (ec) continue;
      take(stream);
      stream.shutdown(ec);
    }
  }

  std::shared_ptr<boost::asio::ssl::context> tls_;
  boost::asio::io_context io_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> status_{200};
  std::atomic<int> delay_ms_{0};
  std::uint16_t port_ = 0;
  std::mutex mutex_;
  std::vector<ReceivedHook> received_;
};

inline testing::HttpResult get(std::uint16_t port, const std::string& target,
                               const std::string& key = "") {
  return testing::http_request(port, boost::beast::http::verb::get, target, key);
}

template <class Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds limit = 20s) {
  return testing::eventually(predicate, limit, 50ms);
}

inline std::vector<std::string> file_lines(const std::filesystem::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The chain account's key (funded by Chain) for --evm-key-file.
inline const std::string kChainKey =
    "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

inline std::uint16_t free_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

// ganache's command line under a folder holding its npm install (tests/ledger_adapters).
inline std::filesystem::path ganache_cli(const std::filesystem::path& npm_dir) {
  return npm_dir / "node_modules/ganache/dist/node/cli.js";
}

// ganache (chain id 1337, kChainKey funded) in a process of its own, its chain kept in
// `db_path` across restarts.
class Chain {
 public:
  Chain(std::string node, std::filesystem::path cli, std::uint16_t port,
        std::filesystem::path db_path, std::filesystem::path log)
      : node_(std::move(node)),
        cli_(std::move(cli)),
        port_(port),
        db_path_(std::move(db_path)),
        log_(std::move(log)) {}
  Chain(const Chain&) = delete;
  Chain& operator=(const Chain&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Starts the node and waits until it answers; throws when it cannot start or never answers.
  void start() {
    std::vector<std::string> args{node_,
                                  cli_.string(),
                                  "--server.host",
                                  "127.0.0.1",
                                  "--server.port",
                                  std::to_string(port_),
                                  "--chain.chainId",
                                  "1337",
                                  "--wallet.accounts",
                                  kChainKey + ",0x3635c9adc5dea00000",
                                  "--database.dbPath",
                                  db_path_.string(),
                                  "--logging.quiet"};
    if (!process_.start(std::move(args), log_))
      throw std::runtime_error("cannot start " + node_ + " " + cli_.string());
    if (!eventually([&] { return rpc("eth_chainId").is_string(); }, 60s))
      throw std::runtime_error("the local chain did not answer on " + url() + " (see " +
                               log_.string() + ")");
  }
  void stop() { process_.stop(); }
  // One JSON-RPC call: its result, or null when the node does not answer.
  nlohmann::json rpc(const std::string& method,
                     const nlohmann::json& params = nlohmann::json::array()) const {
    try {
      nlohmann::json request{{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", params}};
      auto answer =
          server::ledger_adapters::http_post(url(), {}, request.dump(), std::chrono::seconds(5));
      return nlohmann::json::parse(answer.body).value("result", nlohmann::json());
    } catch (const std::exception&) {
      return nullptr;
    }
  }

 private:
  std::string node_;
  std::filesystem::path cli_;
  std::uint16_t port_;
  std::filesystem::path db_path_, log_;
  chargegrid::testing::ChildProcess process_;
};

}  // namespace chargegrid::ledger_testing

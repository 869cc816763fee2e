#pragma once
// What the Plug & Charge tests share: the test PKI of scripts/pki in a temporary folder, the
// real `openssl ocsp` responder serving its index on a free loopback port, a one-request-at-
// a-time HTTP server for responders and provisioning services that misbehave, stations that
// answer the server's CALLs, and the server configured with all of it.

#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "chargegrid/base/encoding.hpp"
#include "chargegrid/testing/child_process.hpp"
#include "chargegrid/testing/temp_folder.hpp"
#include "security/password.hpp"
#include "server_fixture.hpp"

namespace chargegrid::testing {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

inline int shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A loopback port nothing listens on (bound and released).
inline std::uint16_t unused_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

inline bool port_open(std::uint16_t port) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
  return !ec;
}

// scripts/pki's hierarchy, its leaves naming the OCSP responder on `ocsp_port`.
class PncPki : public TempFolder {
 public:
  explicit PncPki(std::uint16_t ocsp_port) : ocsp_port_(ocsp_port) {
    REQUIRE(shell(std::string(CHARGEGRID_PKI_SCRIPT) + " " + path().string() +
                  " --ocsp-url http://127.0.0.1:" + std::to_string(ocsp_port) +
                  " --secc-id PNC-201 --secc-id PNC-OTHER > " + file("pki.log") + " 2>&1") == 0);
  }
  std::string file(const std::string& name) const { return (path() / name).string(); }
  std::uint16_t ocsp_port() const { return ocsp_port_; }

  // A CSR made here with openssl: CN, O and the key's curve chosen by the test.
  std::string csr(const std::string& cn, const std::string& curve,
                  const std::string& organisation = "ChargeGrid test") const {
    const auto name = file("csr-" + cn + "-" + curve);
    const std::string key =
        curve == "ED448" ? "-newkey ed448" : "-newkey ec -pkeyopt ec_paramgen_curve:" + curve;
    REQUIRE(shell("openssl req -new " + key + " -nodes -keyout " + name + ".key -out " + name +
                  ".csr -subj '/DC=CPO/O=" + organisation + "/CN=" + cn + "' 2>/dev/null") == 0);
    return read_file(name + ".csr");
  }

  // OCPP's OCSPRequestData for `certificate` (issued by `issuer`), as `openssl ocsp` computes
  // the request, pointing at `responder_url`.
  nlohmann::json hash_data(const std::string& certificate, const std::string& issuer,
                           const std::string& responder_url) const {
    const auto out = file("req-" + certificate + ".txt");
    REQUIRE(shell("openssl ocsp -sha256 -issuer " + file(issuer) + " -cert " + file(certificate) +
                  " -no_nonce -reqout " + out + ".der && openssl ocsp -reqin " + out +
                  ".der -req_text > " + out) == 0);
    const auto text = read_file(out);
    const auto field = [&](const std::string& label) {
      std::smatch m;
      REQUIRE(std::regex_search(text, m, std::regex(label + ": ([0-9A-Fa-f]+)")));
      return m[1].str();
    };
    return {{"hashAlgorithm", "SHA256"},
            {"issuerNameHash", field("Issuer Name Hash")},
            {"issuerKeyHash", field("Issuer Key Hash")},
            {"serialNumber", field("Serial Number")},
            {"responderURL", responder_url}};
  }

 private:
  std::uint16_t ocsp_port_;
};

// `openssl ocsp` serving the PKI's index (ocsp-responder.sh), as a child process.
class OcspResponder {
 public:
  explicit OcspResponder(const PncPki& pki) {
    const auto log = pki.file("ocsp.log");
    std::ofstream(log, std::ios::trunc);  // readiness is read from a fresh log
    REQUIRE(process_.start({pki.file("ocsp-responder.sh"), std::to_string(pki.ocsp_port())}, log));
    // Ready once it says so. A connection that sends nothing (a port probe) would leave
    // `openssl ocsp` waiting on it and deaf to every later request.
    REQUIRE(eventually(
        [&] {
          std::ifstream in(log);
          const std::string text{std::istreambuf_iterator<char>(in), {}};
          return text.find("waiting for OCSP client connections") != std::string::npos;
        },
        std::chrono::seconds(10)));
  }

  void stop() { process_.stop(); }

 private:
  ChildProcess process_;
};

// scripts/test-cps issuing contracts from the PKI, on a free loopback port.
class TestCps {
 public:
  explicit TestCps(const PncPki& pki, const std::string& credentials = "") : port_(unused_port()) {
    const auto log = pki.file("cps.log");
    std::ofstream(log, std::ios::trunc);
    std::vector<std::string> args{
        (std::filesystem::path(CHARGEGRID_PKI_SCRIPT).parent_path() / "test-cps").string(),
        pki.path().string(), std::to_string(port_)};
    if (!credentials.empty()) args.insert(args.end(), {"--credentials", credentials});
    REQUIRE(process_.start(args, log));
    REQUIRE(eventually([&] { return contains(read_file(log), "test CPS listening"); },
                       std::chrono::seconds(10)));
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/cps"; }

 private:
  std::uint16_t port_;
  ChildProcess process_;
};

// An HTTP/1.1 server on a free loopback port that answers each request with what `answer`
// returns for its body (status, content type, body); a negative status never answers.
class TinyHttpServer {
 public:
  struct Reply {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
  };
  using Answer = std::function<Reply(const std::string& head, const std::string& body)>;

  explicit TinyHttpServer(Answer answer)
      : answer_(std::move(answer)),
        acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}),
        thread_([this] { serve(); }) {}
  ~TinyHttpServer() {
    stopping_ = true;
    port_open(port());  // wakes accept()
    thread_.join();
    boost::system::error_code ec;
    acceptor_.close(ec);
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port()) + path;
  }
  std::string last_head() const {
    std::lock_guard lock(mutex_);
    return last_head_;
  }
  std::string last_body() const {
    std::lock_guard lock(mutex_);
    return last_body_;
  }

 private:
  void serve() {
    while (!stopping_) {
      boost::asio::ip::tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      std::string data;
      char buffer[4096];
      std::size_t head_end = std::string::npos, length = 0;
      while (true) {
        const auto n = socket.read_some(boost::asio::buffer(buffer), ec);
        if (ec) break;
        data.append(buffer, n);
        if (head_end == std::string::npos &&
            (head_end = data.find("\r\n\r\n")) != std::string::npos) {
          std::smatch m;
          const std::string head = data.substr(0, head_end);
          if (std::regex_search(head, m, std::regex("[Cc]ontent-[Ll]ength: *([0-9]+)")))
            length = std::stoul(m[1].str());
        }
        if (head_end != std::string::npos && data.size() >= head_end + 4 + length) break;
      }
      if (head_end == std::string::npos) continue;
      const auto head = data.substr(0, head_end);
      const auto body = data.substr(head_end + 4, length);
      {
        std::lock_guard lock(mutex_);
        last_head_ = head;
        last_body_ = body;
      }
      const auto reply = answer_(head, body);
      if (reply.status < 0) {  // silent: hold the connection until the client gives up
        socket.read_some(boost::asio::buffer(buffer), ec);
        continue;
      }
      const std::string response = "HTTP/1.1 " + std::to_string(reply.status) +
                                   " X\r\nContent-Type: " + reply.content_type +
                                   "\r\nContent-Length: " + std::to_string(reply.body.size()) +
                                   "\r\nConnection: close\r\n\r\n" + reply.body;
      boost::asio::write(socket, boost::asio::buffer(response), ec);
    }
  }

  Answer answer_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::string last_head_, last_body_;
  std::thread thread_;
};

// The server's settings for Plug & Charge with this PKI.
inline server::Config pnc_config(const PncPki& pki) {
  auto config = test_config();
  config.mo_roots_dir = pki.file("mo-roots");
  config.cpo_sub_ca1_cert_file = pki.file("cpo-sub1.pem");
  config.cpo_sub_ca1_key_file = pki.file("cpo-sub1.key");
  config.cpo_sub_ca2_cert_file = pki.file("cpo-sub2.pem");
  config.cpo_sub_ca2_key_file = pki.file("cpo-sub2.key");
  config.v2g_root_file = pki.file("v2g-root.pem");
  config.v2g_organisation = "ChargeGrid test";
  config.ocsp_timeout_ms = 1500;
  return config;
}

// A driver holding `emaid` as an eMAID token; the driver's id.
inline long long add_driver_with_token(const ServerFixture& fixture, const std::string& emaid) {
  auto c = fixture.sql();
  pqxx::work tx(c);
  const auto id =
      tx.exec("INSERT INTO drivers (name) VALUES ('Dana') RETURNING id")[0][0].as<long long>();
  tx.exec_params("INSERT INTO id_tokens (id_token, token_type, driver_id) VALUES ($1, 'eMAID', $2)",
                 emaid, id);
  tx.commit();
  return id;
}

// Registers a station with a password (security profile 1).
inline void add_station_with_password(const ServerFixture& fixture, const std::string& id,
                                      const std::string& password) {
  auto c = fixture.sql();
  pqxx::work tx(c);
  tx.exec_params("INSERT INTO stations (id, security_profile, password_hash) VALUES ($1, 1, $2)",
                 id, server::security::hash_station_password(password));
  tx.commit();
}

inline std::unique_ptr<sim::OcppTestClient> connect_with_password(ServerFixture& fixture,
                                                                  const std::string& id,
                                                                  const std::string& password,
                                                                  const std::string& subprotocol) {
  auto client = std::make_unique<sim::OcppTestClient>();
  client->connect("127.0.0.1", fixture.server().ocpp_port(), "/ocpp/" + id, {subprotocol},
                  {{"Authorization", "Basic " + base::base64_encode(id + ":" + password)}});
  return client;
}

// The CALLs the server sends a station, taken in any order: those call() passed over and
// those still to come are kept until a test asks for them.
class ServerCalls {
 public:
  explicit ServerCalls(sim::OcppTestClient& station) : station_(station) {}

  // The next CALL of `action` whose payload satisfies `match`, answered with `answer`;
  // nullopt when none comes within `limit`.
  std::optional<nlohmann::json> next(
      const std::string& action, const nlohmann::json& answer,
      const std::function<bool(const nlohmann::json&)>& match = nullptr,
      std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    for (auto& text : station_.take_skipped()) pending_.push_back(std::move(text));
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      for (auto it = pending_.begin(); it != pending_.end(); ++it) {
        auto frame = nlohmann::json::parse(*it, nullptr, false);
        if (!frame.is_array() || frame.size() < 4 || frame[0] != 2 || frame[2] != action ||
            (match && !match(frame[3])))
          continue;
        pending_.erase(it);
        station_.send_text(nlohmann::json::array({3, frame[1], answer}).dump());
        return frame;
      }
      if (std::chrono::steady_clock::now() >= deadline || station_.closed()) return std::nullopt;
      if (auto text = station_.receive(std::chrono::milliseconds(200)))
        pending_.push_back(std::move(*text));
    }
  }

 private:
  sim::OcppTestClient& station_;
  std::vector<std::string> pending_;
};

// A 1.6 DataTransfer payload's messageId is `id`.
inline std::function<bool(const nlohmann::json&)> message_id(const std::string& id) {
  return [id](const nlohmann::json& payload) { return payload.value("messageId", "") == id; };
}

}  // namespace chargegrid::testing

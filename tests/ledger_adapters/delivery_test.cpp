// Ledger adapters on a real server: each settlement recorded in the log reaches the webhook
// (signed as Standard Webhooks says) and the JSON Lines file once, in log order, and what waits
// shows in GET /api/v1/ledger/adapters and /metrics.

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <catch2/catch.hpp>

#include "../server/server_fixture.hpp"
#include "api/auth.hpp"
#include "security/pki.hpp"
#include "support.hpp"

using namespace chargegrid;
using namespace chargegrid::ledger_testing;

namespace {

// The receiver's side of Standard Webhooks, computed here without the server's code.
std::string expected_signature(const std::string& id, const std::string& timestamp,
                               const std::string& body) {
  const auto key = *ledger::base64_decode(kWebhookSecret.substr(6));
  const std::string message = id + "." + timestamp + "." + body;
  unsigned char mac[32];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &length);
  return "v1," + ledger::base64_encode(mac, length);
}

server::Config delivery_config(const TempDir& dir, const WebhookReceiver& receiver) {
  auto config = testing::test_config();
  config.data_dir = dir.path().string();
  config.ledger_key_file = (dir.path() / "log.key").string();
  config.checkpoint_interval_s = 1;
  config.ledger_adapters = {"file", "webhook"};
  config.webhook_url = receiver.url();
  config.webhook_secret = kWebhookSecret;
  config.ledger_file = (dir.path() / "ledger.jsonl").string();
  config.ledger_alert_after_s = 2;
  return config;
}

std::string admin_key(testing::ServerFixture& fx) {
  auto c = fx.sql();
  pqxx::work tx(c);
  auto key = server::api::create_api_key(tx, "ledger-test", server::api::Role::Admin, {}, {});
  tx.commit();
  return key.secret;
}

// Both dispatchers (file and webhook) have subscribed to the settlements the log records; they
// subscribe as they start.
bool dispatchers_subscribed(testing::ServerFixture& fx) {
  return fx.query_value(
             "SELECT count(*) FROM outbox_consumers WHERE topic = 'settlement.recorded'") == "2";
}

// A server delivering the log to a webhook receiver and a file, its dispatchers subscribed, and
// the settlement service's stand-in appending to the log.
struct DeliveryServer {
  TempDir dir;
  WebhookReceiver receiver;
  const ledger::NoteSigner signer = make_key(dir.path(), "cpms.example/ledger");
  testing::ServerFixture fx{delivery_config(dir, receiver)};
  SettlementStandIn settlement{fx.database().url(), signer};

  DeliveryServer() {
    REQUIRE(eventually([&] { return dispatchers_subscribed(fx); }));
  }
};

}  // namespace

TEST_CASE_METHOD(DeliveryServer,
                 "Each recorded settlement reaches the webhook and the file once, in log order",
                 "[integration][ledger_adapters][webhook][file]") {
  for (int i = 0; i < 20; ++i)
    REQUIRE(settlement.settle("W-" + std::to_string(i)) == static_cast<std::uint64_t>(i));
  REQUIRE(eventually([&] { return receiver.count() >= 20; }));
  REQUIRE(eventually([&] { return file_lines(dir.path() / "ledger.jsonl").size() >= 20; }));
  std::this_thread::sleep_for(1500ms);  // nothing more arrives

  auto hooks = receiver.received();
  REQUIRE(hooks.size() == 20);
  for (int i = 0; i < 20; ++i) {
    auto& hook = hooks[i];
    INFO("delivery " << i);
    CHECK(hook.body == record_text("W-" + std::to_string(i)));
    CHECK(hook.headers["webhook-id"] == "W-" + std::to_string(i));
    CHECK(hook.headers["chargegrid-log-index"] == std::to_string(i));
    CHECK(hook.headers["Content-Type"] == "application/json");
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    CHECK(std::abs(std::stoll(hook.headers["webhook-timestamp"]) - now) < 60);
    CHECK(hook.headers["webhook-signature"] == expected_signature(hook.headers["webhook-id"],
                                                                  hook.headers["webhook-timestamp"],
                                                                  hook.body));
  }
  const auto lines = file_lines(dir.path() / "ledger.jsonl");
  REQUIRE(lines.size() == 20);
  for (int i = 0; i < 20; ++i) CHECK(lines[i] == record_text("W-" + std::to_string(i)));
  CHECK(fx.query_value("SELECT count(*) FROM outbox WHERE done_at IS NULL") == "0");
  CHECK(fx.query_value("SELECT string_agg(adapter || '=' || next_index || '/' || delivered, ',' "
                       "ORDER BY adapter) FROM ledger_adapter_state") ==
        "file=20/20,webhook=20/20");

  testing::ApiClient api(fx.server().http_port(), admin_key(fx));
  auto status = api.get("/ledger/adapters");
  REQUIRE(status.status == 200);
  CHECK(status.data["log"]["size"] == 20);
  CHECK(status.data["log"]["verifier_key"] == signer.verifier().vkey());
  CHECK(status.data["adapters"].size() == 2);
  CHECK(status.data["adapters"][1]["name"] == "webhook");
  CHECK(status.data["adapters"][1]["state"] == "ok");
  CHECK(status.data["adapters"][1]["delivered"] == 20);
  CHECK(status.data["adapters"][1]["target"]["url"] == receiver.url());
}

TEST_CASE_METHOD(DeliveryServer,
                 "While the webhook receiver is down deliveries wait, then resume in order",
                 "[integration][ledger_adapters][webhook]") {
  const auto key = admin_key(fx);
  testing::ApiClient api(fx.server().http_port(), key);

  settlement.settle("D-0");
  REQUIRE(eventually([&] { return receiver.count() == 1; }));

  receiver.down();  // connections refused
  for (int i = 1; i <= 5; ++i) settlement.settle("D-" + std::to_string(i));
  // The file goes on meanwhile; the webhook waits and says so.
  REQUIRE(eventually([&] { return file_lines(dir.path() / "ledger.jsonl").size() == 6; }));
  REQUIRE(eventually([&] {
    auto status = api.get("/ledger/adapters");
    const auto& webhook = status.data["adapters"][1];
    return webhook["state"] == "alert" && webhook["pending"] == 5 &&
           webhook["last_error"].is_string();
  }));
  auto metrics = get(fx.server().http_port(), "/metrics").body;
  REQUIRE(eventually([&] {
    metrics = get(fx.server().http_port(), "/metrics").body;
    return metrics.find("chargegrid_ledger_pending{adapter=\"webhook\"} 5") != std::string::npos &&
           metrics.find("chargegrid_ledger_alert{adapter=\"webhook\"} 1") != std::string::npos;
  }));
  CHECK(metrics.find("chargegrid_ledger_pending{adapter=\"file\"} 0") != std::string::npos);
  CHECK(metrics.find("chargegrid_ledger_oldest_pending_age_seconds{adapter=\"webhook\"}") !=
        std::string::npos);

  receiver.up();
  receiver.answer(503);  // up, but failing
  settlement.settle("D-6");
  std::this_thread::sleep_for(3s);
  CHECK(receiver.count() == 1);
  receiver.answer(200);
  REQUIRE(eventually([&] { return receiver.count() >= 7; }, 90s));
  std::this_thread::sleep_for(1s);
  auto hooks = receiver.received();
  REQUIRE(hooks.size() == 7);
  for (int i = 0; i < 7; ++i) CHECK(hooks[i].headers["webhook-id"] == "D-" + std::to_string(i));
  REQUIRE(
      eventually([&] { return api.get("/ledger/adapters").data["adapters"][1]["state"] == "ok"; }));
}

TEST_CASE("Webhooks go over HTTPS to a receiver whose certificate the server trusts",
          "[integration][ledger_adapters][webhook]") {
  TempDir dir;
  const auto pki = server::security::ensure_development_pki(dir.path() / "pki");
  auto tls = std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
  tls->use_certificate_chain_file(pki.server_cert.string());
  tls->use_private_key_file(pki.server_key.string(), boost::asio::ssl::context::pem);
  WebhookReceiver trusted(tls);
  // The receiver's CA is the one the server's TLS client trusts (SSL_CERT_FILE).
  const char* previous = std::getenv("SSL_CERT_FILE");
  const std::string saved = previous ? previous : "";
  ::setenv("SSL_CERT_FILE", pki.ca_cert.c_str(), 1);
  const auto signer = make_key(dir.path(), "cpms.example/ledger");
  {
    testing::ServerFixture fx(delivery_config(dir, trusted));
    SettlementStandIn settlement(fx.database().url(), signer);
    REQUIRE(eventually([&] { return dispatchers_subscribed(fx); }));
    for (int i = 0; i < 3; ++i) settlement.settle("H-" + std::to_string(i));
    REQUIRE(eventually([&] { return trusted.count() == 3; }));
    auto hooks = trusted.received();
    CHECK(hooks[2].headers["webhook-id"] == "H-2");
    CHECK(hooks[2].headers["webhook-signature"] ==
          expected_signature("H-2", hooks[2].headers["webhook-timestamp"], hooks[2].body));
  }
  // A certificate the server does not trust: nothing is delivered, and the API says why.
  ::unsetenv("SSL_CERT_FILE");
  {
    TempDir other;
    WebhookReceiver untrusted(tls);
    const auto other_signer = make_key(other.path(), "cpms.example/ledger");
    testing::ServerFixture fx(delivery_config(other, untrusted));
    SettlementStandIn settlement(fx.database().url(), other_signer);
    REQUIRE(eventually([&] { return dispatchers_subscribed(fx); }));
    settlement.settle("U-0");
    REQUIRE(eventually([&] {
      return fx.query_value("SELECT last_error FROM outbox WHERE consumer = 'ledger.webhook'")
                 .find("certificate") != std::string::npos;
    }));
    CHECK(untrusted.count() == 0);
  }
  if (!saved.empty()) ::setenv("SSL_CERT_FILE", saved.c_str(), 1);
}

// The database away for a while: the publisher, the dispatchers and the HTTP endpoints come
// back by themselves; settlements recorded before and after reach the file and the webhook in
// order, once, and checkpoints resume.

#include <catch2/catch.hpp>

#include "../server/server_fixture.hpp"
#include "chargegrid/testing/private_postgres.hpp"
#include "support.hpp"

using namespace chargegrid;
using namespace chargegrid::ledger_testing;

TEST_CASE("After a database outage deliveries and checkpoints resume in order",
          "[integration][ledger_adapters][outage]") {
  TempDir dir;
  testing::PrivatePostgres pg("ledger-outage");
  WebhookReceiver receiver;
  const auto signer = make_key(dir.path(), "cpms.example/ledger");
  auto config = testing::test_config();
  config.data_dir = dir.path().string();
  config.ledger_key_file = (dir.path() / "log.key").string();
  config.checkpoint_interval_s = 1;
  config.ledger_adapters = {"file", "webhook"};
  config.ledger_file = (dir.path() / "ledger.jsonl").string();
  config.webhook_url = receiver.url();
  config.webhook_secret = kWebhookSecret;
  server::Server server(config, pg.url());
  server.start();
  const auto port = server.http_port();
  auto checkpoint_size = [&]() -> std::uint64_t {
    try {
      auto got = get(port, "/ledger/checkpoint");
      if (got.status != 200) return 0;
      return ledger::Checkpoint::parse(ledger::parse_note(got.body).text).size;
    } catch (const std::exception&) {
      return 0;
    }
  };
  {
    SettlementStandIn settlement(pg.url(), signer);
    REQUIRE(eventually([&] {
      pqxx::read_transaction tx(settlement.connection());
      return tx.exec1(
                   "SELECT count(*) FROM outbox_consumers WHERE topic = 'settlement.recorded'")[0]
                 .as<int>() == 2;
    }));
    for (int i = 0; i < 5; ++i) settlement.settle("O-" + std::to_string(i));
  }
  REQUIRE(eventually([&] { return receiver.count() == 5 && checkpoint_size() == 5; }));

  pg.stop();
  std::this_thread::sleep_for(3s);
  CHECK(get(port, "/ledger/checkpoint").status == 503);
  pg.start();

  SettlementStandIn settlement(pg.url(), signer);
  for (int i = 5; i < 10; ++i) settlement.settle("O-" + std::to_string(i));
  REQUIRE(eventually([&] { return receiver.count() >= 10 && checkpoint_size() == 10; }, 90s));
  REQUIRE(eventually([&] { return file_lines(dir.path() / "ledger.jsonl").size() == 10; }));
  std::this_thread::sleep_for(1s);
  const auto hooks = receiver.received();
  REQUIRE(hooks.size() == 10);
  const auto lines = file_lines(dir.path() / "ledger.jsonl");
  for (int i = 0; i < 10; ++i) {
    CHECK(hooks[i].headers.at("webhook-id") == "O-" + std::to_string(i));
    CHECK(lines[i] == record_text("O-" + std::to_string(i)));
  }
  server.stop();
}

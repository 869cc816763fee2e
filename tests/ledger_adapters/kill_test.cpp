// kill -9 of chargegridd while its dispatchers deliver, then a restart: every recorded
// settlement reached the file exactly once (line N is entry N, none missing, none twice) and
// the webhook once by idempotency key (a delivery cut short by the kill may come again, with
// the same webhook-id).

#include <catch2/catch.hpp>
#include <set>

#include "chargegrid/testing/database.hpp"
#include "daemon_flags.hpp"

using namespace chargegrid;
using namespace chargegrid::ledger_testing;

TEST_CASE(
    "kill -9 of chargegridd while it delivers: the file and the webhook get each "
    "settlement once",
    "[integration][ledger_adapters][robustness]") {
  TempDir dir;
  testing::TestDatabase db;
  WebhookReceiver receiver;
  receiver.delay(15ms);  // a webhook delivery is in flight most of the time
  const auto signer = make_key(dir.path(), "cpms.example/ledger");
  const auto file = dir.path() / "ledger.jsonl";
  const auto args = delivering_daemon_flags(
      dir, dir.path(), file, receiver, {"--ledger-adapter", "file", "--ledger-adapter", "webhook"});

  auto daemon = std::make_unique<testing::Daemon>(CHARGEGRIDD, db.url(), dir.path(), "first", args);
  SettlementStandIn settlement(db.url(), signer);
  REQUIRE(eventually([&] {
    pqxx::connection c(db.url());
    pqxx::read_transaction tx(c);
    return tx.exec1("SELECT count(*) FROM outbox_consumers WHERE topic = 'settlement.recorded'")[0]
               .as<int>() == 2;
  }));

  constexpr int kRounds = 3, kPerRound = 40;
  int recorded = 0;
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < kPerRound; ++i) settlement.settle("K-" + std::to_string(recorded++));
    // Killed once deliveries of this round are under way, not done.
    const auto target = static_cast<std::size_t>(round * kPerRound + 5);
    REQUIRE(eventually([&] { return receiver.count() >= target; }, 60s));
    daemon->kill_hard();
    daemon = std::make_unique<testing::Daemon>(CHARGEGRIDD, db.url(), dir.path(),
                                               "after-kill-" + std::to_string(round), args);
  }
  std::set<std::string> ids;
  REQUIRE(eventually(
      [&] {
        ids.clear();
        for (const auto& hook : receiver.received()) ids.insert(hook.headers.at("webhook-id"));
        return ids.size() == static_cast<std::size_t>(recorded) &&
               file_lines(file).size() == static_cast<std::size_t>(recorded);
      },
      120s));
  std::this_thread::sleep_for(1500ms);

  const auto lines = file_lines(file);
  REQUIRE(lines.size() == static_cast<std::size_t>(recorded));
  for (int i = 0; i < recorded; ++i) CHECK(lines[i] == record_text("K-" + std::to_string(i)));

  // First deliveries in log order; a repeat only of a delivery the kill cut short.
  const auto hooks = receiver.received();
  std::set<std::string> seen;
  int next = 0, repeats = 0;
  for (const auto& hook : hooks) {
    const auto& id = hook.headers.at("webhook-id");
    if (!seen.insert(id).second) {
      ++repeats;
      continue;
    }
    CHECK(id == "K-" + std::to_string(next));
    CHECK(hook.body == record_text(id));
    ++next;
  }
  CHECK(next == recorded);
  CHECK(repeats <= kRounds);
  pqxx::connection c(db.url());
  pqxx::read_transaction tx(c);
  CHECK(tx.exec1("SELECT count(*) FROM outbox WHERE done_at IS NULL")[0].as<int>() == 0);
}

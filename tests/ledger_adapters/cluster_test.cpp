// Two chargegridd nodes of a cluster on one database: one publishes checkpoints at a time (the
// other takes over when it dies), and each recorded settlement reaches the webhook and the
// file once, in log order, whichever node delivers it.

#include <catch2/catch.hpp>
#include <regex>
#include <set>

#include "chargegrid/testing/database.hpp"
#include "daemon_flags.hpp"

using namespace chargegrid;
using namespace chargegrid::ledger_testing;

namespace {

// The node's chargegrid_ledger_publisher gauge, or -1 before it has one.
int publishing(const testing::Daemon& node) {
  try {
    const auto metrics = get(node.http_port(), "/metrics").body;
    std::smatch match;
    if (std::regex_search(metrics, match, std::regex("\nchargegrid_ledger_publisher (\\d)")))
      return std::stoi(match[1]);
  } catch (const std::exception&) {
  }
  return -1;
}

std::uint64_t checkpoint_size(std::uint16_t port) {
  auto got = get(port, "/ledger/checkpoint");
  if (got.status != 200) return 0;
  return ledger::Checkpoint::parse(ledger::parse_note(got.body).text).size;
}

}  // namespace

TEST_CASE(
    "Two cluster nodes: one publishes checkpoints at a time, each settlement is delivered "
    "once",
    "[integration][ledger_adapters][cluster]") {
  TempDir dir;
  testing::TestDatabase db;
  WebhookReceiver receiver;
  const auto signer = make_key(dir.path(), "cpms.example/ledger");
  const auto file = dir.path() / "ledger.jsonl";
  auto flags = [&](const std::string& node) {
    return delivering_daemon_flags(dir, dir.path() / node, file, receiver,
                                   {"--node-id", node, "--ledger-adapter", "webhook,file"});
  };
  auto a = std::make_unique<testing::Daemon>(CHARGEGRIDD, db.url(), dir.path(), "a", flags("a"));
  auto b = std::make_unique<testing::Daemon>(CHARGEGRIDD, db.url(), dir.path(), "b", flags("b"));
  SettlementStandIn settlement(db.url(), signer);

  REQUIRE(eventually([&] { return publishing(*a) + publishing(*b) == 1; }));
  for (int i = 0; i < 60; ++i) settlement.settle("C-" + std::to_string(i));
  REQUIRE(eventually([&] { return receiver.count() >= 60 && file_lines(file).size() >= 60; }, 60s));
  std::this_thread::sleep_for(1500ms);
  auto hooks = receiver.received();
  REQUIRE(hooks.size() == 60);
  const auto lines = file_lines(file);
  REQUIRE(lines.size() == 60);
  for (int i = 0; i < 60; ++i) {
    CHECK(hooks[i].headers["webhook-id"] == "C-" + std::to_string(i));
    CHECK(lines[i] == record_text("C-" + std::to_string(i)));
  }
  REQUIRE(eventually([&] { return checkpoint_size(a->http_port()) == 60; }));
  CHECK(checkpoint_size(b->http_port()) == 60);  // either node serves the same log
  CHECK(publishing(*a) + publishing(*b) == 1);

  // The publisher dies; the other node takes over and the log goes on.
  auto& publisher = publishing(*a) == 1 ? a : b;
  auto& other = publisher == a ? b : a;
  publisher->kill_hard();
  REQUIRE(eventually([&] { return publishing(*other) == 1; }, 30s));
  for (int i = 60; i < 70; ++i) settlement.settle("C-" + std::to_string(i));
  REQUIRE(eventually([&] { return checkpoint_size(other->http_port()) == 70; }, 30s));
  REQUIRE(eventually([&] { return file_lines(file).size() == 70; }, 60s));
  std::set<std::string> ids;
  REQUIRE(eventually(
      [&] {
        ids.clear();
        for (const auto& hook : receiver.received()) ids.insert(hook.headers.at("webhook-id"));
        return ids.size() == 70;
      },
      60s));
  // Every checkpoint was signed by the one log key.
  pqxx::connection c(db.url());
  pqxx::read_transaction tx(c);
  for (const auto& row : tx.exec("SELECT note FROM ledger_log_checkpoint"))
    CHECK(ledger::verify_checkpoint(row[0].as<std::string>(), signer.verifier()).result.ok);
}

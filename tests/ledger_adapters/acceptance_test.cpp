// Settlement from end to end, as a third party sees it: a simulated 2.0.1 station with signed
// meter values ends a session; the server settles it, appends it to the verifiable log, writes
// it to the JSON Lines file, posts it to a webhook and anchors the checkpoint covering it on a
// local chain (ganache); an auditor holding only the verifier key proves from the HTTP tiles
// that the record is in the log and that the log extends the checkpoint it saved before.

#include <catch2/catch.hpp>

#include "../api/api_fixture.hpp"
#include "../ledger/run_tool.hpp"
#include "../server/station_messages.hpp"
#include "../settlement/test_meter.hpp"
#include "chargegrid/ledger/jcs.hpp"
#include "support.hpp"

using namespace chargegrid;
using namespace chargegrid::ledger_testing;
using chargegrid::ledger::testing::run_verify;
using chargegrid::ledger::testing::write_temp;
using nlohmann::json;

namespace {

// A 2.0.1 session on EVSE 1 from `from` to 30 minutes later ("2026-11-05T08:00:00", UTC), its
// begin and end readings signed by `meter`: import and export (V2G) registers.
void signed_session(sim::OcppTestClient& station, const settlement_testing::TestMeter& meter,
                    const std::string& uid, const std::string& from, const std::string& to,
                    long long import_from, long long import_to) {
  auto started = testing::transaction_event_201("Started", 0, from + "Z", uid, "Authorized");
  started["idToken"] = {{"idToken", "EMAID-1"}, {"type", "eMAID"}};
  started["meterValue"] = json::array(
      {settlement_testing::v2g_meter_value(meter, from, "B", import_from, 100, 100, 1)});
  REQUIRE(testing::is_result(station.call("TransactionEvent", started)));
  auto ended = testing::transaction_event_201("Ended", 1, to + "Z", uid, "StopAuthorized");
  ended["transactionInfo"]["stoppedReason"] = "Local";
  ended["meterValue"] =
      json::array({settlement_testing::v2g_meter_value(meter, to, "E", import_to, 400, 400, 2)});
  REQUIRE(testing::is_result(station.call("TransactionEvent", ended)));
}

}  // namespace

TEST_CASE(
    "A signed 2.0.1 session reaches the log, the file, the webhook and the chain, and an "
    "auditor proves it from the tiles",
    "[integration][ledger_adapters][evm][acceptance]") {
  TempDir dir;
  Chain chain(CHARGEGRID_NODE, ganache_cli(CHARGEGRID_LEDGER_TESTS_DIR), free_port(),
              dir.path() / "chain", dir.path() / "ganache.log");
  chain.start();
  std::ofstream(dir.path() / "evm.key") << kChainKey << "\n";
  make_key(dir.path(), "cpms.example/ledger");
  WebhookReceiver receiver;
  const auto file = dir.path() / "ledger.jsonl";
  auto config = testing::free_vend_config();
  config.data_dir = dir.path().string();
  config.ledger_key_file = (dir.path() / "log.key").string();
  config.checkpoint_interval_s = 2;
  config.ledger_adapters = {"file", "webhook", "evm"};
  config.ledger_file = file.string();
  config.webhook_url = receiver.url();
  config.webhook_secret = kWebhookSecret;
  config.evm_rpc_url = chain.url();
  config.evm_key_file = (dir.path() / "evm.key").string();
  config.evm_chain_id = 1337;
  testing::ApiFixture fx(config);
  const auto port = fx.server().http_port();
  const auto prefix = "http://127.0.0.1:" + std::to_string(port) + "/ledger";
  const auto public_get = [&](const std::string& target) {
    auto got = testing::http_request(port, boost::beast::http::verb::get, target, "");
    INFO(target << ": " << got.body);
    REQUIRE(got.status == 200);
    return got.body;
  };
  // All an auditor holds: the verifier key, published with the log's first checkpoint.
  REQUIRE(testing::eventually([&] {
    return testing::http_request(port, boost::beast::http::verb::get, "/ledger/verifier-key", "")
               .status == 200;
  }));
  const auto vkey = public_get("/ledger/verifier-key");

  fx.make_depot("CS-DONE");
  auto station = fx.connect("CS-DONE", "ocpp2.0.1");
  REQUIRE(testing::is_result(station->call("BootNotification", testing::boot_201())));
  settlement_testing::TestMeter meter;

  // Settles one session and waits for it everywhere: its settlement, log entry, file line,
  // webhook delivery and a chain anchor covering it. Answers the settlement API's view.
  const auto settle_everywhere = [&](const std::string& uid, const std::string& from,
                                     const std::string& to, long long import_from,
                                     long long import_to) {
    signed_session(*station, meter, uid, from, to, import_from, import_to);
    json settled;
    REQUIRE(testing::eventually(
        [&] {
          const auto id = fx.query_value(
              "SELECT coalesce((SELECT id::text FROM transactions WHERE transaction_uid = '" + uid +
              "'), '')");
          if (id.empty()) return false;
          auto got = fx.admin().get("/sessions/" + id + "/settlement");
          if (got.status != 200) return false;
          settled = got.data;
          // Every adapter delivered, the chain's anchor included.
          for (const auto& adapter : settled["adapters"])
            if (adapter["state"] != "delivered") return false;
          return settled["adapters"].size() == 3;
        },
        std::chrono::seconds(90)));
    INFO(settled.dump());
    CHECK(settled["status"] == "verified");
    const auto index = settled["log_index"].get<std::uint64_t>();
    const auto record = ledger::canonical_json(settled["record"]);
    const auto id = settled["id"].get<std::string>();
    // The log: its entry is the record byte for byte.
    CHECK(public_get("/ledger/entries/" + std::to_string(index)) == record);
    // The file: line N is log entry N.
    const auto lines = file_lines(file);
    REQUIRE(lines.size() > index);
    CHECK(lines[index] == record);
    // The webhook: the record, under the settlement's id.
    bool posted = false;
    for (const auto& hook : receiver.received())
      posted = posted || (hook.headers.at("webhook-id") == id && hook.body == record);
    CHECK(posted);
    // The chain: the anchor's transaction mined, for a checkpoint covering the entry.
    const auto tx_hash =
        fx.query_value("SELECT tx_hash FROM ledger_checkpoint_anchor WHERE size > " +
                       std::to_string(index) + " ORDER BY size LIMIT 1");
    const auto receipt = chain.rpc("eth_getTransactionReceipt", {tx_hash});
    REQUIRE(receipt.is_object());
    CHECK(receipt["status"] == "0x1");
    return settled;
  };

  const auto first =
      settle_everywhere("TX-DONE-1", "2026-11-05T08:00:00", "2026-11-05T08:30:00", 1000, 4000);
  CHECK(first["energy_imported_wh"] == 3000);
  CHECK(first["energy_exported_wh"] == 300);
  // The auditor audits the whole log and keeps the checkpoint it verified.
  const auto saved = dir.path() / "auditor.checkpoint";
  auto audit = run_verify({"tiles", "--vkey", vkey, "--save", saved.string(), prefix});
  INFO(audit.output);
  REQUIRE(audit.status == 0);

  const auto second =
      settle_everywhere("TX-DONE-2", "2026-11-05T09:00:00", "2026-11-05T09:30:00", 4000, 5500);
  const auto index = second["log_index"].get<std::uint64_t>();
  // Later: every entry from the tiles, the root, and the log still extends the saved checkpoint.
  auto again = run_verify({"tiles", "--vkey", vkey, "--previous", saved.string(), prefix});
  INFO(again.output);
  CHECK(again.status == 0);
  CHECK(again.output.find("without rewriting it") != std::string::npos);
  // And the second settlement alone, offline: its record, a checkpoint and an inclusion proof.
  const auto note = public_get("/ledger/checkpoint");
  const auto size_line = note.substr(note.find('\n') + 1);
  const auto size = size_line.substr(0, size_line.find('\n'));
  REQUIRE(std::stoull(size) > index);
  auto verified = run_verify(
      {"settlement", "--vkey", vkey, "--checkpoint",
       write_temp(dir.path(), "checkpoint", note).string(), "--record",
       write_temp(dir.path(), "record.json", public_get("/ledger/entries/" + std::to_string(index)))
           .string(),
       "--proof",
       write_temp(
           dir.path(), "proof.json",
           public_get("/ledger/proof/inclusion?index=" + std::to_string(index) + "&size=" + size))
           .string()});
  INFO(verified.output);
  CHECK(verified.status == 0);
  CHECK(verified.output.find("1500 Wh imported, 300 Wh exported") != std::string::npos);
}

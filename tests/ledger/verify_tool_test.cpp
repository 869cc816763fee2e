#include <unistd.h>

#include <catch2/catch.hpp>

#include "chargegrid/ledger/energy_report.hpp"
#include "chargegrid/ledger/merkle.hpp"
#include "chargegrid/ledger/note.hpp"
#include "chargegrid/ledger/ocmf.hpp"
#include "run_tool.hpp"
#include "test_data.hpp"

using namespace chargegrid::ledger;
using namespace chargegrid::ledger::testing;

namespace {

std::filesystem::path temp_dir() {
  return std::filesystem::temp_directory_path() /
         ("chargegrid-verify-test-" + std::to_string(getpid()));
}

std::string sample(const std::string& name) {
  return (data_dir() / "ocmf-samples" / "safe-transparenzsoftware" / name).string();
}

}  // namespace

TEST_CASE("chargegrid-verify ocmf reports every value of a transparency-software file",
          "[verify-tool]") {
  auto ok = run_verify({"ocmf", sample("test_ocmf_ebee_01.xml")});
  CHECK(ok.status == 0);
  CHECK(ok.output.find("Wh") != std::string::npos);
  auto tampered = run_verify({"ocmf", sample("test_ocmf_ebee_02.xml")});
  CHECK(tampered.status == 1);
  CHECK(tampered.output.find("signature invalid") != std::string::npos);
  CHECK(run_verify({"ocmf", sample("keba_test.xml")}).status == 0);
}

TEST_CASE("chargegrid-verify ocmf checks a bare OCMF string against the given key",
          "[verify-tool]") {
  auto values = ocmf::parse_safe_xml(read_file(sample("test_ocmf_keba_kcp30.xml")));
  auto other = ocmf::parse_safe_xml(read_file(sample("VW_OCMF_load.xml")));
  auto file = write_temp(temp_dir(), "keba.ocmf", values.at(0).signed_data + "\n");
  CHECK(run_verify({"ocmf", "--public-key", values[0].public_key, file.string()}).status == 0);
  auto wrong = run_verify({"ocmf", "--public-key", other.at(0).public_key, file.string()});
  CHECK(wrong.status == 1);
  CHECK(wrong.output.find("signature invalid") != std::string::npos);
  CHECK(run_verify({"ocmf", file.string()}).status == 2);  // no key
  auto garbage = write_temp(temp_dir(), "garbage.ocmf", "OCMF|{\"PG\":}|{}");
  CHECK(run_verify({"ocmf", "--public-key", values[0].public_key, garbage.string()}).status == 2);
  auto neither = write_temp(temp_dir(), "neither.txt", "hello");
  CHECK(run_verify({"ocmf", neither.string()}).status == 2);
  std::filesystem::remove_all(temp_dir());
}

TEST_CASE("chargegrid-verify refuses usage errors and malformed input with status 2",
          "[verify-tool]") {
  CHECK(run_verify({}).status == 2);
  CHECK(run_verify({"frobnicate"}).status == 2);
  CHECK(run_verify({"checkpoint"}).status == 2);
  CHECK(run_verify({"checkpoint", "--vkey", "not-a-key", "/nonexistent"}).status == 2);
  auto signer = NoteSigner::generate("example.org/log");
  CHECK(run_verify({"checkpoint", "--vkey", signer.verifier().vkey(), "/nonexistent"}).status == 2);
  auto note = write_temp(temp_dir(), "bad.note", "example.org/log\n1\nAAAA\n\nnot signed\n");
  CHECK(run_verify({"checkpoint", "--vkey", signer.verifier().vkey(), note.string()}).status == 2);
  CHECK(run_verify({"--help"}).status == 0);
  std::filesystem::remove_all(temp_dir());
}

TEST_CASE("chargegrid-verify checks an in-memory log's checkpoints and proofs", "[verify-tool]") {
  auto signer = NoteSigner::generate("example.org/log");
  auto dir = temp_dir();
  auto vkey = write_temp(dir, "log.vkey", signer.verifier().vkey() + "\n");
  MemoryMerkleTree tree;
  for (int i = 0; i < 11; ++i) tree.append("{\"n\":" + std::to_string(i) + "}");
  auto note = [&](std::uint64_t size) {
    return signer.sign(Checkpoint{"example.org/log", size, tree.root(size), {}}.body());
  };
  auto cp7 = write_temp(dir, "7.note", note(7));
  auto cp11 = write_temp(dir, "11.note", note(11));
  CHECK(run_verify({"checkpoint", "--vkey", vkey.string(), cp11.string()}).status == 0);
  // Record 5 spelt differently from its canonical form still verifies.
  auto record = write_temp(dir, "5.json", "{ \"n\" : 5.0 }");
  auto proof_json = [](std::uint64_t index, std::uint64_t size, const std::vector<Hash>& hashes) {
    std::string out = "{\"index\":" + std::to_string(index) + ",\"size\":" + std::to_string(size) +
                      ",\"hashes\":[";
    for (std::size_t i = 0; i < hashes.size(); ++i) {
      out += (i ? ",\"" : "\"") + base64_encode(hashes[i]) + "\"";
    }
    return out + "]}";
  };
  auto proof = write_temp(dir, "5.proof", proof_json(5, 11, tree.inclusion(5, 11)));
  CHECK(run_verify({"inclusion", "--vkey", vkey.string(), "--checkpoint", cp11.string(), "--record",
                    record.string(), "--proof", proof.string()})
            .status == 0);
  auto other = write_temp(dir, "6.json", "{\"n\":6}");
  CHECK(run_verify({"inclusion", "--vkey", vkey.string(), "--checkpoint", cp11.string(), "--record",
                    other.string(), "--proof", proof.string()})
            .status == 1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("chargegrid-verify ocmf checks the meter evidence a settlement record carries",
          "[verify-tool]") {
  auto values = ocmf::parse_safe_xml(read_file(sample("test_ocmf_ebee_01.xml")));
  auto tampered = ocmf::parse_safe_xml(read_file(sample("test_ocmf_ebee_02.xml")));
  auto key = ocmf::decode_key_text(values.at(0).public_key).value();
  nlohmann::json evidence = {{"status", "verified"},
                             {"signed_data", {values[0].signed_data, values.at(1).signed_data}},
                             {"public_key", hex_encode(key)},
                             {"detail", ""}};
  auto record =
      write_temp(temp_dir(), "record.json", nlohmann::json{{"meter_evidence", evidence}}.dump());
  CHECK(run_verify({"ocmf", record.string()}).status == 0);
  evidence["signed_data"][0] = tampered.at(0).signed_data;
  auto bad =
      write_temp(temp_dir(), "bad.json", nlohmann::json{{"meter_evidence", evidence}}.dump());
  CHECK(run_verify({"ocmf", bad.string()}).status == 1);
  auto none = write_temp(temp_dir(), "none.json", R"({"settlement_id": "x"})");
  CHECK(run_verify({"ocmf", none.string()}).status == 2);
  std::filesystem::remove_all(temp_dir());
}

TEST_CASE("chargegrid-verify report checks an energy report's entry, its place and its sums",
          "[verify-tool]") {
  auto signer = NoteSigner::generate("example.org/log");
  auto dir = temp_dir();
  auto vkey = write_temp(dir, "log.vkey", signer.verifier().vkey() + "\n");
  EnergyReport report;
  report.report_id = "rpt-2026-11-3";
  report.period = "2026-11";
  report.period_start = *parse_time("2026-11-01T00:00:00.000Z");
  report.period_end = *parse_time("2026-12-01T00:00:00.000Z");
  report.site_id = "3";
  report.stations = {{"CS-1", "3", {2, 1, 3500, 700, 3000}}, {"CS-2", "3", {1, 0, 1234, 0, 0}}};
  report.generated_at = *parse_time("2026-12-01T00:05:00.000Z");
  const auto canonical = canonical_energy_report(report);
  // Entry 1 of 3: a settlement-like entry before it, another after.
  MemoryMerkleTree tree;
  tree.append("{\"n\":0}");
  tree.append(canonical);
  tree.append("{\"n\":2}");
  auto cp = write_temp(dir, "3.note",
                       signer.sign(Checkpoint{"example.org/log", 3, tree.root(3), {}}.body()));
  auto proof_of = [&](std::uint64_t index) {
    std::string out = "{\"index\":" + std::to_string(index) + ",\"size\":3,\"hashes\":[";
    const auto hashes = tree.inclusion(index, 3);
    for (std::size_t i = 0; i < hashes.size(); ++i)
      out += (i ? ",\"" : "\"") + base64_encode(hashes[i]) + "\"";
    return write_temp(dir, std::to_string(index) + ".proof", out + "]}");
  };
  const auto proof = proof_of(1);
  auto verify = [&](const std::string& name, const std::string& content,
                    const std::filesystem::path& proof_file) {
    return run_verify({"report", "--vkey", vkey.string(), "--checkpoint", cp.string(), "--report",
                       write_temp(dir, name, content).string(), "--proof", proof_file.string()});
  };
  const auto json = nlohmann::json::parse(canonical);
  // As the log holds it, and as GET /api/v1/reports/energy answers it (log_index beside it).
  auto entry = verify("entry.json", canonical, proof);
  INFO(entry.output);
  CHECK(entry.status == 0);
  CHECK(entry.output.find("is entry 1 of the log's tree of size 3") != std::string::npos);
  CHECK(entry.output.find("energy report rpt-2026-11-3 for 2026-11 (2026-11-01T00:00:00.000Z to "
                          "2026-12-01T00:00:00.000Z), site 3, 2 station(s): 3 sessions, 4734 Wh "
                          "delivered, 700 Wh exported, 3000 Wh verified (633714 ppm)") !=
        std::string::npos);
  nlohmann::json answer{{"period", "2026-11"},     {"site_id", 3},
                        {"closed", true},          {"log_index", 1},
                        {"unsettled_sessions", 0}, {"report", json}};
  CHECK(verify("answer.json", answer.dump(2), proof).status == 0);

  // A changed figure (the sums kept right) is no longer the entry.
  auto changed = answer;
  changed["report"]["stations"][1]["energy_delivered_wh"] = 12340;
  changed["report"]["totals"]["energy_delivered_wh"] = 15840;
  changed["report"]["totals"]["verified_share_ppm"] = share_ppm(3000, 15840);
  auto refused = verify("changed.json", changed.dump(), proof);
  INFO(refused.output);
  CHECK(refused.status == 1);
  CHECK(refused.output.find("FAILED: inclusion of the record") != std::string::npos);
  // The answer naming another entry than the proof's; a preview, which no log holds.
  auto moved = answer;
  moved["log_index"] = 2;
  auto misplaced = verify("moved.json", moved.dump(), proof);
  CHECK(misplaced.status == 1);
  CHECK(misplaced.output.find("the proof is for entry 1 but the report says it is entry 2") !=
        std::string::npos);
  auto preview = answer;
  preview["log_index"] = nullptr;
  auto open = verify("preview.json", preview.dump(), proof);
  CHECK(open.status == 1);
  CHECK(open.output.find("preview of an open period") != std::string::npos);
  // Another entry of the log, proven in its place, is not a report.
  auto other = verify("other.json", "{\"n\":0}", proof_of(0));
  CHECK(other.status == 1);
  CHECK(other.output.find("FAILED: the entry is not an energy report") != std::string::npos);
  // Not JSON, and a log_index that is not an index: malformed.
  CHECK(verify("broken.json", "{\"report\": ", proof).status == 2);
  moved["log_index"] = "one";
  CHECK(verify("text-index.json", moved.dump(), proof).status == 2);
  std::filesystem::remove_all(dir);
}

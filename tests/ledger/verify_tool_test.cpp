#include <unistd.h>

#include <catch2/catch.hpp>

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

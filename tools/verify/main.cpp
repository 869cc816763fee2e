// chargegrid-verify: checks the ledger's evidence with nothing but the log's public key.
//
// Exit status: 0 verified; 1 a verification check failed; 2 usage error or malformed input.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "chargegrid/ledger/energy_report.hpp"
#include "chargegrid/ledger/jcs.hpp"
#include "chargegrid/ledger/merkle.hpp"
#include "chargegrid/ledger/note.hpp"
#include "chargegrid/ledger/ocmf.hpp"
#include "chargegrid/ledger/settlement_record.hpp"
#include "chargegrid/ledger/tiles.hpp"
#include "fetch.hpp"

namespace {

using namespace chargegrid::ledger;

constexpr int kVerified = 0;
constexpr int kFailed = 1;
constexpr int kMalformed = 2;

std::string read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw MalformedInput(std::string("cannot read ") + what + " " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// VKEY is the key text itself or a file holding it.
NoteVerifier load_vkey(const std::string& argument) {
  std::error_code error;
  if (std::filesystem::is_regular_file(argument, error)) {
    return NoteVerifier::parse(read_file(argument, "verifier key"));
  }
  return NoteVerifier::parse(argument);
}

std::uint64_t json_size(const nlohmann::json& proof, const char* name) {
  auto it = proof.find(name);
  if (it == proof.end() || !it->is_number_unsigned()) {
    throw MalformedInput(std::string("proof: \"") + name + "\" must be a non-negative integer");
  }
  return it->get<std::uint64_t>();
}

std::vector<Hash> json_hashes(const nlohmann::json& proof) {
  auto it = proof.find("hashes");
  if (it == proof.end() || !it->is_array())
    throw MalformedInput("proof: \"hashes\" must be an array");
  std::vector<Hash> out;
  for (const auto& item : *it) {
    if (!item.is_string()) throw MalformedInput("proof: hashes must be base64 strings");
    auto bytes = base64_decode(item.get<std::string>());
    if (!bytes) throw MalformedInput("proof: a hash is not base64");
    auto hash = to_hash(*bytes);
    if (!hash) throw MalformedInput("proof: a hash is not 32 bytes long");
    out.push_back(*hash);
  }
  return out;
}

nlohmann::json read_json(const std::string& path, const char* what) {
  try {
    return nlohmann::json::parse(read_file(path, what));
  } catch (const nlohmann::json::parse_error& e) {
    throw MalformedInput(std::string(what) + " is not JSON: " + e.what());
  }
}

// A proof file: a JSON object with two sizes, named `first` and `second`, and the hashes.
struct Proof {
  std::uint64_t first = 0;
  std::uint64_t second = 0;
  std::vector<Hash> hashes;
};

Proof read_proof(const std::string& path, const char* first, const char* second) {
  auto proof = read_json(path, "proof");
  if (!proof.is_object()) throw MalformedInput("proof must be a JSON object");
  return {json_size(proof, first), json_size(proof, second), json_hashes(proof)};
}

// Reads and checks a checkpoint; prints why and returns nullopt when it does not verify.
std::optional<Checkpoint> checked_checkpoint(const std::string& path, const NoteVerifier& vkey,
                                             const char* label) {
  auto verified = verify_checkpoint(read_file(path, "checkpoint"), vkey);
  if (!verified.result.ok) {
    std::cout << "FAILED: " << label << " checkpoint: " << verified.result.reason << "\n";
    return std::nullopt;
  }
  return verified.checkpoint;
}

int run_checkpoint(const std::string& vkey_arg, const std::string& path) {
  auto vkey = load_vkey(vkey_arg);
  auto checkpoint = checked_checkpoint(path, vkey, "the");
  if (!checkpoint) return kFailed;
  std::cout << "OK: checkpoint of " << checkpoint->origin << " signed by " << vkey.name()
            << ", tree size " << checkpoint->size << ", root " << base64_encode(checkpoint->root)
            << "\n";
  return kVerified;
}

// A log entry's canonical form (RFC 8785), as its leaf hashes it.
std::string canonical_entry(const std::string& text) {
  try {
    return canonicalize(text);
  } catch (const nlohmann::json::exception& e) {
    throw MalformedInput(std::string("record is not JSON: ") + e.what());
  } catch (const CanonicalJsonError& e) {
    throw MalformedInput(std::string("record has no canonical form: ") + e.what());
  }
}

// That the entry `canonical` is in the tree a checkpoint signs; `expected_index`, when given, is
// where the entry's bearer says it is.
int check_inclusion(const std::string& vkey_arg, const std::string& checkpoint_path,
                    const std::string& canonical, const std::string& proof_path,
                    std::optional<std::uint64_t> expected_index = std::nullopt) {
  auto vkey = load_vkey(vkey_arg);
  const auto [index, size, hashes] = read_proof(proof_path, "index", "size");
  if (expected_index && *expected_index != index) {
    std::cout << "FAILED: the proof is for entry " << index << " but the report says it is entry "
              << *expected_index << "\n";
    return kFailed;
  }

  auto checkpoint = checked_checkpoint(checkpoint_path, vkey, "the");
  if (!checkpoint) return kFailed;
  if (size != checkpoint->size) {
    std::cout << "FAILED: the proof is for tree size " << size << " but the checkpoint has size "
              << checkpoint->size << "\n";
    return kFailed;
  }
  Hash leaf = leaf_hash(canonical);
  auto result = verify_inclusion(leaf, index, size, hashes, checkpoint->root);
  if (!result.ok) {
    std::cout << "FAILED: inclusion of the record (leaf hash " << base64_encode(leaf)
              << ") at index " << index << ": " << result.reason << "\n";
    return kFailed;
  }
  std::cout << "OK: record with leaf hash " << base64_encode(leaf) << " is entry " << index
            << " of the log's tree of size " << size << "\n";
  return kVerified;
}

int run_inclusion(const std::string& vkey_arg, const std::string& checkpoint_path,
                  const std::string& record_path, const std::string& proof_path) {
  return check_inclusion(vkey_arg, checkpoint_path,
                         canonical_entry(read_file(record_path, "record")), proof_path);
}

int run_consistency(const std::string& vkey_arg, const std::string& old_path,
                    const std::string& new_path, const std::string& proof_path) {
  auto vkey = load_vkey(vkey_arg);
  const auto [old_size, new_size, hashes] = read_proof(proof_path, "old_size", "new_size");

  auto old_checkpoint = checked_checkpoint(old_path, vkey, "the old");
  if (!old_checkpoint) return kFailed;
  auto new_checkpoint = checked_checkpoint(new_path, vkey, "the new");
  if (!new_checkpoint) return kFailed;
  if (old_size != old_checkpoint->size || new_size != new_checkpoint->size) {
    std::cout << "FAILED: the proof is between sizes " << old_size << " and " << new_size
              << " but the checkpoints have sizes " << old_checkpoint->size << " and "
              << new_checkpoint->size << "\n";
    return kFailed;
  }
  auto result =
      verify_consistency(old_size, new_size, hashes, old_checkpoint->root, new_checkpoint->root);
  if (!result.ok) {
    std::cout << "FAILED: consistency between tree sizes " << old_size << " and " << new_size
              << ": " << result.reason << "\n";
    return kFailed;
  }
  std::cout << "OK: the tree of size " << new_size << " extends the tree of size " << old_size
            << " without rewriting it\n";
  return kVerified;
}

int report(const std::string& label, const ocmf::Verification& v) {
  std::cout << (v.verified() ? "OK: " : "FAILED: ") << label << ": " << ocmf::to_string(v.outcome);
  if (!v.message.empty()) std::cout << " (" << v.message << ")";
  std::cout << "\n";
  if (v.verified()) {
    for (const auto& r : v.document->payload.readings) {
      std::cout << "    " << r.time_text << "  " << (r.transaction ? *r.transaction : "-") << "  "
                << r.obis << " = " << r.value_text << " " << r.unit;
      if (r.wh()) std::cout << " (" << *r.wh() << " Wh)";
      if (r.has_error()) std::cout << "  ERROR FLAGS " << r.error_flags << "/" << r.status;
      if (!r.time_synchronized()) std::cout << "  time not synchronised";
      std::cout << "\n";
    }
  }
  if (v.verified()) return kVerified;
  return v.outcome == ocmf::Outcome::kMalformed ? kMalformed : kFailed;
}

// A settlement record's meter evidence: every OCMF string it holds, against the key it names
// (or --public-key, the meter's registered key).
int run_record_evidence(const std::optional<std::string>& public_key, const std::string& content) {
  nlohmann::json record;
  try {
    record = nlohmann::json::parse(content);
  } catch (const nlohmann::json::parse_error& e) {
    throw MalformedInput(std::string("record is not JSON: ") + e.what());
  }
  auto evidence = record.find("meter_evidence");
  if (evidence == record.end() || !evidence->is_object() || !evidence->contains("signed_data") ||
      !(*evidence)["signed_data"].is_array()) {
    throw MalformedInput("record has no meter_evidence.signed_data array");
  }
  std::optional<std::string> record_key;
  if (auto key = evidence->find("public_key"); key != evidence->end() && key->is_string()) {
    record_key = key->get<std::string>();
  }
  const auto& signed_data = (*evidence)["signed_data"];
  if (signed_data.empty()) {
    std::cout << "FAILED: the record carries no signed meter data\n";
    return kFailed;
  }
  int worst = kVerified;
  for (std::size_t i = 0; i < signed_data.size(); ++i) {
    if (!signed_data[i].is_string())
      throw MalformedInput("meter_evidence.signed_data holds a non-string");
    std::optional<std::string_view> presented;
    if (record_key) presented = *record_key;
    std::optional<std::string_view> registered;
    if (public_key) registered = *public_key;
    worst = std::max(
        worst, report("signed meter data " + std::to_string(i + 1),
                      ocmf::verify(signed_data[i].get<std::string>(), presented, registered)));
  }
  return worst;
}

int run_ocmf(const std::optional<std::string>& public_key, const std::string& path) {
  std::string content = read_file(path, "OCMF file");
  auto start = content.find_first_not_of(" \t\r\n");
  if (start != std::string::npos && content.compare(start, 5, "OCMF|") == 0) {
    if (!public_key) throw MalformedInput("--public-key is required for a bare OCMF string");
    return report("OCMF", ocmf::verify(content, *public_key));
  }
  if (start != std::string::npos && content[start] == '{')
    return run_record_evidence(public_key, content);
  std::vector<ocmf::SafeValue> values;
  try {
    values = ocmf::parse_safe_xml(content);
  } catch (const ocmf::ParseError& e) {
    throw MalformedInput(std::string("not an OCMF string nor transparency-software XML: ") +
                         e.what());
  }
  int worst = kVerified;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto& value = values[i];
    std::string label = "value " + std::to_string(i + 1) + " (transaction " + value.transaction_id +
                        ", " + value.context + ")";
    std::optional<std::string_view> registered;
    if (public_key) registered = *public_key;
    int status = report(label, ocmf::verify(value.signed_data, value.public_key, registered));
    worst = std::max(worst, status);
  }
  return worst;
}

// One settlement offline: the checkpoint's signature, the record's inclusion in the tree it
// signs, the record's schema and its signed meter data.
int run_settlement(const std::string& vkey_arg, const std::string& checkpoint_path,
                   const std::string& record_path, const std::string& proof_path,
                   const std::optional<std::string>& public_key) {
  int status = run_inclusion(vkey_arg, checkpoint_path, record_path, proof_path);
  if (status != kVerified) return status;
  const auto content = read_file(record_path, "record");
  SettlementRecord record;
  try {
    record = record_from_json(nlohmann::json::parse(content));
  } catch (const RecordError& e) {
    std::cout << "FAILED: the entry is not a settlement record: " << e.what() << "\n";
    return kFailed;
  }
  std::cout << "    settlement " << record.settlement_id << " of session " << record.session_id
            << " at station " << record.station_id << ": " << record.energy_imported_wh()
            << " Wh imported, " << record.energy_exported_wh() << " Wh exported, total "
            << record.total_minor << " (minor units of " << record.currency << ")\n";
  if (record.meter_evidence.signed_data.empty()) {
    std::cout << "    meter data: not signed"
              << (record.meter_evidence.detail.empty() ? ""
                                                       : " (" + record.meter_evidence.detail + ")")
              << "\n";
    return kVerified;
  }
  return run_record_evidence(public_key, content);
}

// One regulator energy report offline: the checkpoint's signature, the report's inclusion in the
// tree it signs, and the report's schema and sums. The report is the log's entry (GET
// /ledger/entries/{index}) or the answer of GET /api/v1/reports/energy, whose log_index must be
// the entry the proof is for.
int run_report(const std::string& vkey_arg, const std::string& checkpoint_path,
               const std::string& report_path, const std::string& proof_path) {
  auto document = read_json(report_path, "report");
  std::optional<std::uint64_t> claimed;
  if (document.is_object() && document.contains("report") && !document.contains("record_type")) {
    const auto log_index = document.value("log_index", nlohmann::json());
    if (log_index.is_null()) {
      std::cout << "FAILED: the report is a preview of an open period: it is not in the log\n";
      return kFailed;
    }
    if (!log_index.is_number_unsigned())
      throw MalformedInput("report: \"log_index\" must be a non-negative integer or null");
    claimed = log_index.get<std::uint64_t>();
    document = document["report"];
  }
  std::string canonical;
  try {
    canonical = canonical_json(document);
  } catch (const CanonicalJsonError& e) {
    throw MalformedInput(std::string("report has no canonical form: ") + e.what());
  }
  const int status = check_inclusion(vkey_arg, checkpoint_path, canonical, proof_path, claimed);
  if (status != kVerified) return status;
  EnergyReport report;
  try {
    report = energy_report_from_json(document);
  } catch (const RecordError& e) {
    std::cout << "FAILED: the entry is not an energy report: " << e.what() << "\n";
    return kFailed;
  }
  const auto totals = report.totals();
  std::cout << "    energy report " << report.report_id << " for " << report.period << " ("
            << format_time(report.period_start) << " to " << format_time(report.period_end) << "), "
            << (report.site_id.empty() ? "every site" : "site " + report.site_id) << ", "
            << report.stations.size() << " station(s): " << totals.sessions << " sessions, "
            << totals.energy_delivered_wh << " Wh delivered, " << totals.energy_exported_wh
            << " Wh exported, " << totals.verified_energy_wh << " Wh verified ("
            << totals.verified_share_ppm() << " ppm)\n";
  return kVerified;
}

// Fetches one resource of the log; throws MalformedInput unless it is there.
std::string fetch(const std::string& prefix, const std::string& path) {
  auto got = chargegrid::verify::http_get(prefix + "/" + path);
  if (got.status != 200)
    throw MalformedInput(prefix + "/" + path + " answered HTTP " + std::to_string(got.status));
  return got.body;
}

// Audits a whole log from its tiles: the checkpoint's signature; every entry bundle hashed and
// matched against the level-0 tiles; every higher tile against the tree the entries make; the
// root against the checkpoint's; and, given an earlier checkpoint, that the log's first entries
// still make the tree that checkpoint signed (it never rewrote history).
int run_tiles(const std::string& vkey_arg, std::string prefix,
              const std::optional<std::string>& previous_path,
              const std::optional<std::string>& save_path) {
  auto vkey = load_vkey(vkey_arg);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  std::optional<Checkpoint> previous;
  if (previous_path) {
    previous = checked_checkpoint(*previous_path, vkey, "the previous");
    if (!previous) return kFailed;
  }
  const auto note = fetch(prefix, "checkpoint");
  auto verified = verify_checkpoint(note, vkey);
  if (!verified.result.ok) {
    std::cout << "FAILED: the log's checkpoint: " << verified.result.reason << "\n";
    return kFailed;
  }
  const auto& checkpoint = verified.checkpoint;
  const std::uint64_t size = checkpoint.size;

  MemoryMerkleTree tree;
  for (std::uint64_t index = 0; index * kTileWidth < size; ++index) {
    const unsigned width = (index + 1) * kTileWidth <= size ? static_cast<unsigned>(kTileWidth)
                                                            : partial_width(0, size);
    auto entries = decode_bundle(fetch(prefix, entries_path(index, width)));
    if (!entries || entries->size() != width) {
      std::cout << "FAILED: " << entries_path(index, width) << " does not hold " << width
                << " entries\n";
      return kFailed;
    }
    auto hashes = decode_tile(fetch(prefix, tile_path(0, index, width)));
    if (!hashes || hashes->size() != width) {
      std::cout << "FAILED: " << tile_path(0, index, width) << " does not hold " << width
                << " hashes\n";
      return kFailed;
    }
    for (unsigned i = 0; i < width; ++i) {
      const std::uint64_t entry = index * kTileWidth + i;
      const Hash leaf = leaf_hash((*entries)[i]);
      if (leaf != (*hashes)[i]) {
        std::cout << "FAILED: entry " << entry << " does not hash to its leaf in "
                  << tile_path(0, index, width) << "\n";
        return kFailed;
      }
      tree.append_leaf_hash(leaf);
    }
  }
  // Higher tiles: each hash is a subtree of 256^level entries that the entries above make.
  const auto reader = tree.reader();
  std::uint64_t higher = 0;
  for (unsigned level = 1; kTileHeight * level < 64 && (size >> (kTileHeight * level)) > 0;
       ++level) {
    const std::uint64_t nodes = size >> (kTileHeight * level);
    for (std::uint64_t index = 0; index * kTileWidth < nodes; ++index) {
      const unsigned width = (index + 1) * kTileWidth <= nodes
                                 ? static_cast<unsigned>(kTileWidth)
                                 : static_cast<unsigned>(nodes % kTileWidth);
      auto hashes = decode_tile(fetch(prefix, tile_path(level, index, width)));
      if (!hashes || hashes->size() != width) {
        std::cout << "FAILED: " << tile_path(level, index, width) << " does not hold " << width
                  << " hashes\n";
        return kFailed;
      }
      for (unsigned i = 0; i < width; ++i) {
        if ((*hashes)[i] != reader(kTileHeight * level, index * kTileWidth + i)) {
          std::cout << "FAILED: " << tile_path(level, index, width) << " hash " << i
                    << " is not the tree the entries make\n";
          return kFailed;
        }
      }
      ++higher;
    }
  }
  if (tree.root() != checkpoint.root) {
    std::cout << "FAILED: the " << size << " entries make root " << base64_encode(tree.root())
              << ", but the checkpoint signs root " << base64_encode(checkpoint.root) << "\n";
    return kFailed;
  }
  std::cout << "OK: " << size << " entries of " << checkpoint.origin << " hashed; their tiles (and "
            << higher << " higher tiles) match; root " << base64_encode(checkpoint.root)
            << " is the one the checkpoint signs\n";
  if (previous) {
    if (previous->size > size) {
      std::cout << "FAILED: the log shrank from " << previous->size << " to " << size
                << " entries\n";
      return kFailed;
    }
    const Hash old_root = previous->size == 0 ? empty_root() : tree.root(previous->size);
    if (old_root != previous->root) {
      std::cout << "FAILED: the log rewrote history: its first " << previous->size
                << " entries now make root " << base64_encode(old_root)
                << ", but the previous checkpoint signed " << base64_encode(previous->root) << "\n";
      return kFailed;
    }
    std::cout << "OK: the log extends the previous checkpoint (size " << previous->size
              << ") without rewriting it\n";
  }
  if (save_path) {
    std::ofstream out(*save_path, std::ios::binary | std::ios::trunc);
    out << note;
    if (!out) throw MalformedInput("cannot write " + *save_path);
  }
  return kVerified;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Verifies ChargeGrid ledger checkpoints, proofs and OCMF meter data offline."};
  app.require_subcommand(1);

  std::string vkey, checkpoint, record, proof, old_checkpoint, new_checkpoint, ocmf_file;
  std::optional<std::string> public_key;
  // The options several subcommands require alike.
  const auto require_vkey = [&](CLI::App* command) {
    command->add_option("--vkey", vkey, "the log's verifier key, inline or a file")->required();
  };
  const auto require_checkpoint = [&](CLI::App* command) {
    command->add_option("--checkpoint", checkpoint, "checkpoint note file")->required();
  };

  auto* checkpoint_cmd = app.add_subcommand("checkpoint", "check a checkpoint's signature");
  require_vkey(checkpoint_cmd);
  checkpoint_cmd->add_option("CHECKPOINT", checkpoint, "checkpoint note file")->required();

  auto* inclusion_cmd = app.add_subcommand("inclusion", "prove a record is in the log");
  require_vkey(inclusion_cmd);
  require_checkpoint(inclusion_cmd);
  inclusion_cmd->add_option("--record", record, "the record's JSON")->required();
  inclusion_cmd->add_option("--proof", proof, "inclusion proof JSON")->required();

  auto* consistency_cmd =
      app.add_subcommand("consistency", "prove a newer checkpoint extends an older one");
  require_vkey(consistency_cmd);
  consistency_cmd->add_option("--old", old_checkpoint, "older checkpoint note file")->required();
  consistency_cmd->add_option("--new", new_checkpoint, "newer checkpoint note file")->required();
  consistency_cmd->add_option("--proof", proof, "consistency proof JSON")->required();

  auto* ocmf_cmd = app.add_subcommand("ocmf", "verify signed meter data (OCMF)");
  ocmf_cmd->add_option("--public-key", public_key,
                       "the meter's public key (hex or base64 DER); for XML files, the key the "
                       "meter is registered with");
  ocmf_cmd
      ->add_option("OCMF_FILE", ocmf_file,
                   "an OCMF string, transparency-software XML, or a settlement record's JSON")
      ->required();

  auto* settlement_cmd =
      app.add_subcommand("settlement", "check one settlement: in the log, well formed, signed");
  require_vkey(settlement_cmd);
  require_checkpoint(settlement_cmd);
  settlement_cmd->add_option("--record", record, "the settlement record's JSON")->required();
  settlement_cmd->add_option("--proof", proof, "inclusion proof JSON (GET /ledger/proof/inclusion)")
      ->required();
  settlement_cmd->add_option("--public-key", public_key,
                             "the meter's registered public key (hex or base64 DER), when the "
                             "record's own is not to be trusted");

  std::string report_file;
  auto* report_cmd = app.add_subcommand(
      "report", "check one regulator energy report: in the log, well formed, its sums right");
  require_vkey(report_cmd);
  require_checkpoint(report_cmd);
  report_cmd
      ->add_option("--report", report_file,
                   "the report's JSON: the log entry, or the answer of GET /api/v1/reports/energy")
      ->required();
  report_cmd->add_option("--proof", proof, "inclusion proof JSON (GET /ledger/proof/inclusion)")
      ->required();

  std::string url;
  std::optional<std::string> previous, save;
  auto* tiles_cmd = app.add_subcommand(
      "tiles", "audit a whole log served as C2SP tlog-tiles: every entry, the root, history");
  require_vkey(tiles_cmd);
  tiles_cmd->add_option("--previous", previous,
                        "a checkpoint saved earlier: the log must still extend it");
  tiles_cmd->add_option("--save", save, "write the checkpoint verified now to this file");
  tiles_cmd->add_option("URL", url, "the log's prefix, e.g. https://cpms.example/ledger")
      ->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kMalformed;
  }

  try {
    if (*checkpoint_cmd) return run_checkpoint(vkey, checkpoint);
    if (*inclusion_cmd) return run_inclusion(vkey, checkpoint, record, proof);
    if (*consistency_cmd) return run_consistency(vkey, old_checkpoint, new_checkpoint, proof);
    if (*ocmf_cmd) return run_ocmf(public_key, ocmf_file);
    if (*settlement_cmd) return run_settlement(vkey, checkpoint, record, proof, public_key);
    if (*report_cmd) return run_report(vkey, checkpoint, report_file, proof);
    if (*tiles_cmd) return run_tiles(vkey, url, previous, save);
  } catch (const MalformedInput& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kMalformed;
  } catch (const std::runtime_error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kMalformed;
  }
  return kMalformed;
}

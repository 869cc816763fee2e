#include "chargegrid/ledger/note.hpp"

#include <catch2/catch.hpp>

using namespace chargegrid::ledger;

namespace {

// The reference vector of golang.org/x/mod/sumdb/note, the implementation transparency
// tooling (witnesses, note verifiers) is built on.
const char* kGoVkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const char* kGoSkey =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const char* kGoText =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
const char* kGoNote =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\xe2\x80\x94 PeterNeumann "
    "x08go/ZJkuBS9UG/"
    "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

}  // namespace

TEST_CASE("signing reproduces the Go sumdb/note reference note byte for byte", "[note]") {
  auto signer = NoteSigner::parse(kGoSkey);
  CHECK(signer.sign(kGoText) == kGoNote);
  CHECK(signer.skey() == kGoSkey);
  CHECK(signer.verifier().vkey() == kGoVkey);
}

TEST_CASE("the Go reference note verifies, and altered notes do not", "[note]") {
  auto verifier = NoteVerifier::parse(kGoVkey);
  CHECK(verifier.name() == "PeterNeumann");
  CHECK(verifier.key_id() == 0xc74f20a3);
  auto note = parse_note(kGoNote);
  CHECK(note.text == kGoText);
  CHECK(verify_note(note, verifier).ok);

  std::string altered = kGoNote;
  altered[3] = 'X';
  CHECK_FALSE(verify_note(parse_note(altered), verifier).ok);

  auto other = NoteSigner::generate("PeterNeumann");
  CHECK_FALSE(verify_note(parse_note(other.sign(kGoText)), verifier).ok);
}

TEST_CASE("malformed verifier keys are refused", "[note]") {
  std::string good = kGoVkey;
  CHECK_THROWS_AS(NoteVerifier::parse(""), MalformedInput);
  CHECK_THROWS_AS(NoteVerifier::parse("PeterNeumann+c74f20a3"), MalformedInput);
  CHECK_THROWS_AS(
      NoteVerifier::parse("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
      MalformedInput);  // wrong key id
  CHECK_THROWS_AS(
      NoteVerifier::parse("PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
      MalformedInput);  // not base64 of 33 bytes
  CHECK_THROWS_AS(
      NoteVerifier::parse("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
      MalformedInput);  // space in the name
  // Every truncation of a valid key is refused.
  for (std::size_t n = 0; n + 1 < good.size(); ++n) {
    CHECK_THROWS_AS(NoteVerifier::parse(good.substr(0, n)), MalformedInput);
  }
}

TEST_CASE("malformed notes are refused", "[note]") {
  CHECK_THROWS_AS(parse_note("no signature block\n"), MalformedInput);
  CHECK_THROWS_AS(parse_note("text\n\n"), MalformedInput);
  CHECK_THROWS_AS(parse_note("text\n\n- name AAAAAAA=\n"), MalformedInput);
  CHECK_THROWS_AS(parse_note("text\n\n\xe2\x80\x94 name AAAA\n"), MalformedInput);  // too short
  CHECK_THROWS_AS(parse_note("te\rxt\n\n\xe2\x80\x94 name AAAAAAAAAAAA\n"), MalformedInput);
  CHECK_THROWS_AS(parse_note("\xff\n\n\xe2\x80\x94 name AAAAAAAAAAAA\n"), MalformedInput);
  std::string missing_newline = kGoNote;
  missing_newline.pop_back();
  CHECK_THROWS_AS(parse_note(missing_newline), MalformedInput);
}

TEST_CASE("checkpoints round-trip and verify only for their own log", "[note][checkpoint]") {
  auto signer = NoteSigner::generate("chargegrid.example/ledger");
  Checkpoint checkpoint;
  checkpoint.origin = "chargegrid.example/ledger";
  checkpoint.size = 12345;
  checkpoint.root = sha256("root");
  checkpoint.extensions = {"Timestamp: 2026-03-01T12:00:00Z"};
  std::string note = signer.sign(checkpoint.body());

  auto verified = verify_checkpoint(note, signer.verifier());
  REQUIRE(verified.result.ok);
  CHECK(verified.checkpoint.size == 12345);
  CHECK(verified.checkpoint.root == checkpoint.root);
  CHECK(verified.checkpoint.extensions == checkpoint.extensions);

  // Another log's key, even under the same name, does not verify it.
  auto impostor = NoteSigner::generate("chargegrid.example/ledger");
  CHECK_FALSE(verify_checkpoint(note, impostor.verifier()).result.ok);
  // A checkpoint of another origin never passes for this log.
  auto other_log = NoteSigner::generate("other.example/log");
  Checkpoint foreign = checkpoint;
  foreign.origin = "other.example/log";
  CHECK_FALSE(verify_checkpoint(other_log.sign(foreign.body()), signer.verifier()).result.ok);
  // Altering the size or the root breaks the signature.
  std::string altered = note;
  altered.replace(altered.find("12345"), 5, "12346");
  CHECK_FALSE(verify_checkpoint(altered, signer.verifier()).result.ok);
}

TEST_CASE("malformed checkpoint bodies are refused", "[note][checkpoint]") {
  CHECK_THROWS_AS(Checkpoint::parse("origin\n10\n"), MalformedInput);
  CHECK_THROWS_AS(Checkpoint::parse("origin\n010\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"),
                  MalformedInput);
  CHECK_THROWS_AS(Checkpoint::parse("origin\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"),
                  MalformedInput);
  CHECK_THROWS_AS(Checkpoint::parse("origin\n10\nAAAA\n"), MalformedInput);  // not 32 bytes
  CHECK_THROWS_AS(Checkpoint::parse("\n10\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"),
                  MalformedInput);
  CHECK_THROWS_AS(Checkpoint::parse("origin\n10\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
                  MalformedInput);
  CHECK_THROWS_AS(
      Checkpoint::parse(
          "origin\n18446744073709551616\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"),
      MalformedInput);
  auto ok = Checkpoint::parse("origin\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
  CHECK(ok.size == 0);
  CHECK(ok.root == empty_root());
}

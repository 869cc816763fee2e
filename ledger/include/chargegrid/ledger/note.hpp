// C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys, and the transparency-log
// checkpoints (https://c2sp.org/tlog-checkpoint) that the verifiable log signs with them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "chargegrid/ledger/codec.hpp"
#include "chargegrid/ledger/merkle.hpp"

namespace chargegrid::ledger {

// Input that does not follow the format it claims (a note, key, checkpoint or proof);
// what() says what is wrong.
class MalformedInput : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An Ed25519 verifier key in signed-note form: <name>+<hex key id>+<base64(0x01 || key)>.
class NoteVerifier {
 public:
  // Throws MalformedInput when the text is not a valid Ed25519 verifier key, including a
  // key id that does not match the name and key.
  static NoteVerifier parse(std::string_view vkey);
  NoteVerifier(std::string name, const std::array<std::uint8_t, 32>& public_key);

  const std::string& name() const { return name_; }
  std::uint32_t key_id() const { return key_id_; }
  const std::array<std::uint8_t, 32>& public_key() const { return public_key_; }
  std::string vkey() const;
  bool verify(std::string_view message, const Bytes& signature) const;

 private:
  std::string name_;
  std::array<std::uint8_t, 32> public_key_;
  std::uint32_t key_id_;
};

// An Ed25519 signer; its private key text is PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>.
class NoteSigner {
 public:
  static NoteSigner generate(std::string name);
  // Throws MalformedInput when the text is not such a key.
  static NoteSigner parse(std::string_view skey);

  const std::string& name() const { return name_; }
  std::string skey() const;
  NoteVerifier verifier() const;
  // The complete signed note: text (which must end in a newline), a blank line, one signature.
  std::string sign(std::string_view text) const;

 private:
  NoteSigner(std::string name, const std::array<std::uint8_t, 32>& seed);
  std::string name_;
  std::array<std::uint8_t, 32> seed_;
  std::array<std::uint8_t, 32> public_key_;
};

struct NoteSignature {
  std::string name;
  std::uint32_t key_id = 0;
  Bytes signature;
};

struct Note {
  std::string text;  // ends in a newline; what the signatures cover
  std::vector<NoteSignature> signatures;
};

// Throws MalformedInput on anything that is not a well-formed signed note.
Note parse_note(std::string_view note);

// The note carries a valid signature by `verifier`. A note that has a signature line under the
// verifier's name and key id that does not verify is rejected; other signers are ignored.
ProofResult verify_note(const Note& note, const NoteVerifier& verifier);

struct Checkpoint {
  std::string origin;
  std::uint64_t size = 0;
  Hash root{};
  std::vector<std::string> extensions;  // extension lines, without their newlines

  std::string body() const;
  // Throws MalformedInput when the text is not a checkpoint body.
  static Checkpoint parse(std::string_view body);
};

// Parses a signed checkpoint note and checks it: the signature by `verifier`, and an origin
// equal to the verifier's name (a checkpoint of another log never passes for this one).
// Throws MalformedInput on a malformed note; returns the failure when a check fails.
struct VerifiedCheckpoint {
  ProofResult result;
  Checkpoint checkpoint;
};
VerifiedCheckpoint verify_checkpoint(std::string_view note, const NoteVerifier& verifier);

}  // namespace chargegrid::ledger

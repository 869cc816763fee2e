#include "chargegrid/ledger/note.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <cstring>
#include <memory>

#include "chargegrid/base/openssl_ptr.hpp"

namespace chargegrid::ledger {
namespace {

constexpr std::uint8_t kEd25519Type = 0x01;
constexpr std::string_view kSignaturePrefix = "\xe2\x80\x94 ";  // U+2014 EM DASH, space
constexpr std::size_t kMaxSignatures = 100;

using Pkey = base::OpenSslPtr<EVP_PKEY, EVP_PKEY_free>;
using MdCtx = base::OpenSslPtr<EVP_MD_CTX, EVP_MD_CTX_free>;

bool valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    int extra;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      extra = 1, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2, cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (next & 0x3f);
    }
    if ((extra == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (extra == 3 && (cp < 0x10000 || cp > 0x10ffff))) {
      return false;
    }
    i += 1 + extra;
  }
  return true;
}

// Key names: non-empty UTF-8 without whitespace, control characters or '+'.
bool valid_key_name(std::string_view name) {
  if (name.empty() || !valid_utf8(name)) return false;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '+') return false;
  }
  return true;
}

std::uint32_t compute_key_id(std::string_view name, const std::array<std::uint8_t, 32>& key) {
  Bytes input(name.begin(), name.end());
  input.push_back('\n');
  input.push_back(kEd25519Type);
  input.insert(input.end(), key.begin(), key.end());
  Hash digest = sha256(input.data(), input.size());
  return (std::uint32_t{digest[0]} << 24) | (std::uint32_t{digest[1]} << 16) |
         (std::uint32_t{digest[2]} << 8) | digest[3];
}

std::string key_id_hex(std::uint32_t id) {
  std::uint8_t bytes[4] = {static_cast<std::uint8_t>(id >> 24), static_cast<std::uint8_t>(id >> 16),
                           static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id)};
  return hex_encode(bytes, 4);
}

// name+id+key, where the key's base64 may itself contain '+'.
std::vector<std::string_view> split_key(std::string_view text) {
  auto first = text.find('+');
  if (first == std::string_view::npos) return {text};
  auto second = text.find('+', first + 1);
  if (second == std::string_view::npos) return {text.substr(0, first), text.substr(first + 1)};
  return {text.substr(0, first), text.substr(first + 1, second - first - 1),
          text.substr(second + 1)};
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    auto pos = text.find(separator, start);
    if (pos == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, pos - start));
    start = pos + 1;
  }
}

// Parses "<name>+<8 hex>+<base64(0x01 || 32-byte key)>" (the tail of a vkey or skey).
void parse_key_fields(std::string_view what, const std::vector<std::string_view>& fields,
                      std::string& name, std::uint32_t& id, std::array<std::uint8_t, 32>& key) {
  if (fields.size() != 3) throw MalformedInput(std::string(what) + ": expected name+id+key");
  if (!valid_key_name(fields[0])) throw MalformedInput(std::string(what) + ": invalid key name");
  auto id_bytes = hex_decode(fields[1]);
  if (fields[1].size() != 8 || !id_bytes) {
    throw MalformedInput(std::string(what) + ": key id is not 8 hex digits");
  }
  auto key_bytes = base64_decode(fields[2]);
  if (!key_bytes) throw MalformedInput(std::string(what) + ": key is not base64");
  if (key_bytes->size() != 33 || (*key_bytes)[0] != kEd25519Type) {
    throw MalformedInput(std::string(what) + ": not an Ed25519 key (type 0x01, 32 bytes)");
  }
  name = std::string(fields[0]);
  id = (std::uint32_t{(*id_bytes)[0]} << 24) | (std::uint32_t{(*id_bytes)[1]} << 16) |
       (std::uint32_t{(*id_bytes)[2]} << 8) | (*id_bytes)[3];
  std::memcpy(key.data(), key_bytes->data() + 1, 32);
}

std::string key_text(std::string_view name, std::uint32_t id, const std::uint8_t* key) {
  Bytes typed{kEd25519Type};
  typed.insert(typed.end(), key, key + 32);
  return std::string(name) + "+" + key_id_hex(id) + "+" + base64_encode(typed);
}

std::uint64_t parse_decimal(std::string_view text, const char* what) {
  if (text.empty() || (text.size() > 1 && text[0] == '0')) {
    throw MalformedInput(std::string(what) + " is not a decimal number without leading zeros");
  }
  std::uint64_t value = 0;
  auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  if (result.ec != std::errc{} || result.ptr != text.data() + text.size()) {
    throw MalformedInput(std::string(what) + " is not a decimal number in range");
  }
  return value;
}

}  // namespace

NoteVerifier::NoteVerifier(std::string name, const std::array<std::uint8_t, 32>& public_key)
    : name_(std::move(name)), public_key_(public_key), key_id_(compute_key_id(name_, public_key)) {
  if (!valid_key_name(name_)) throw MalformedInput("invalid key name: " + name_);
}

NoteVerifier NoteVerifier::parse(std::string_view vkey) {
  while (!vkey.empty() && (vkey.back() == '\n' || vkey.back() == '\r' || vkey.back() == ' ')) {
    vkey.remove_suffix(1);
  }
  std::string name;
  std::uint32_t id = 0;
  std::array<std::uint8_t, 32> key{};
  parse_key_fields("verifier key", split_key(vkey), name, id, key);
  NoteVerifier verifier(std::move(name), key);
  if (verifier.key_id() != id) {
    throw MalformedInput("verifier key: key id does not match the name and public key");
  }
  return verifier;
}

std::string NoteVerifier::vkey() const {
  return key_text(name_, key_id_, public_key_.data());
}

bool NoteVerifier::verify(std::string_view message, const Bytes& signature) const {
  if (signature.size() != 64) return false;
  Pkey key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key_.data(),
                                       public_key_.size()));
  MdCtx ctx(EVP_MD_CTX_new());
  if (!key || !ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

NoteSigner::NoteSigner(std::string name, const std::array<std::uint8_t, 32>& seed)
    : name_(std::move(name)), seed_(seed) {
  if (!valid_key_name(name_)) throw MalformedInput("invalid key name: " + name_);
  Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed_.data(), seed_.size()));
  std::size_t length = public_key_.size();
  if (!key || EVP_PKEY_get_raw_public_key(key.get(), public_key_.data(), &length) != 1 ||
      length != public_key_.size()) {
    throw std::runtime_error("Ed25519 key derivation failed in OpenSSL");
  }
}

NoteSigner NoteSigner::generate(std::string name) {
  std::array<std::uint8_t, 32> seed;
  if (RAND_bytes(seed.data(), static_cast<int>(seed.size())) != 1) {
    throw std::runtime_error("no randomness for an Ed25519 key");
  }
  return NoteSigner(std::move(name), seed);
}

NoteSigner NoteSigner::parse(std::string_view skey) {
  while (!skey.empty() && (skey.back() == '\n' || skey.back() == '\r' || skey.back() == ' ')) {
    skey.remove_suffix(1);
  }
  constexpr std::string_view kPrefix = "PRIVATE+KEY+";
  if (skey.substr(0, kPrefix.size()) != kPrefix) {
    throw MalformedInput("signer key: expected PRIVATE+KEY+name+id+key");
  }
  std::string name;
  std::uint32_t id = 0;
  std::array<std::uint8_t, 32> seed{};
  parse_key_fields("signer key", split_key(skey.substr(kPrefix.size())), name, id, seed);
  NoteSigner signer(std::move(name), seed);
  if (signer.verifier().key_id() != id) {
    throw MalformedInput("signer key: key id does not match the name and key");
  }
  return signer;
}

std::string NoteSigner::skey() const {
  return "PRIVATE+KEY+" + key_text(name_, compute_key_id(name_, public_key_), seed_.data());
}

NoteVerifier NoteSigner::verifier() const {
  return NoteVerifier(name_, public_key_);
}

std::string NoteSigner::sign(std::string_view text) const {
  if (text.empty() || text.back() != '\n') throw MalformedInput("note text must end in a newline");
  Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed_.data(), seed_.size()));
  MdCtx ctx(EVP_MD_CTX_new());
  std::uint8_t signature[64];
  std::size_t length = sizeof signature;
  if (!key || !ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), signature, &length,
                     reinterpret_cast<const unsigned char*>(text.data()), text.size()) != 1) {
    throw std::runtime_error("Ed25519 signing failed in OpenSSL");
  }
  std::uint32_t id = compute_key_id(name_, public_key_);
  Bytes blob{static_cast<std::uint8_t>(id >> 24), static_cast<std::uint8_t>(id >> 16),
             static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id)};
  blob.insert(blob.end(), signature, signature + length);
  return std::string(text) + "\n" + std::string(kSignaturePrefix) + name_ + " " +
         base64_encode(blob) + "\n";
}

Note parse_note(std::string_view note) {
  if (!valid_utf8(note)) throw MalformedInput("note is not valid UTF-8");
  for (char c : note) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n') || u == 0x7f) {
      throw MalformedInput("note contains a control character");
    }
  }
  auto split_at = note.rfind("\n\n");
  if (split_at == std::string_view::npos) throw MalformedInput("note has no signature block");
  Note out;
  out.text = std::string(note.substr(0, split_at + 1));
  std::string_view block = note.substr(split_at + 2);
  if (block.empty() || block.back() != '\n') {
    throw MalformedInput("note signature block is empty or does not end in a newline");
  }
  block.remove_suffix(1);
  for (std::string_view line : split(block, '\n')) {
    if (line.substr(0, kSignaturePrefix.size()) != kSignaturePrefix) {
      throw MalformedInput("note signature line does not start with an em dash");
    }
    line.remove_prefix(kSignaturePrefix.size());
    auto space = line.find(' ');
    if (space == std::string_view::npos)
      throw MalformedInput("note signature line has no key name");
    std::string_view name = line.substr(0, space);
    if (!valid_key_name(name)) throw MalformedInput("note signature line has an invalid key name");
    auto blob = base64_decode(line.substr(space + 1));
    if (!blob || blob->size() < 5) {
      throw MalformedInput("note signature is not base64 of a key id and a signature");
    }
    NoteSignature signature;
    signature.name = std::string(name);
    signature.key_id = (std::uint32_t{(*blob)[0]} << 24) | (std::uint32_t{(*blob)[1]} << 16) |
                       (std::uint32_t{(*blob)[2]} << 8) | (*blob)[3];
    signature.signature.assign(blob->begin() + 4, blob->end());
    out.signatures.push_back(std::move(signature));
    if (out.signatures.size() > kMaxSignatures)
      throw MalformedInput("note has too many signatures");
  }
  return out;
}

ProofResult verify_note(const Note& note, const NoteVerifier& verifier) {
  bool verified = false;
  for (const auto& signature : note.signatures) {
    if (signature.name != verifier.name() || signature.key_id != verifier.key_id()) continue;
    if (!verifier.verify(note.text, signature.signature)) {
      return ProofResult{false, "signature by " + verifier.name() + " does not verify"};
    }
    verified = true;
  }
  if (!verified) {
    return ProofResult{false, "note carries no signature by " + verifier.name() + "+" +
                                  key_id_hex(verifier.key_id())};
  }
  return ProofResult{true, {}};
}

std::string Checkpoint::body() const {
  std::string out = origin + "\n" + std::to_string(size) + "\n" + base64_encode(root) + "\n";
  for (const auto& line : extensions) out += line + "\n";
  return out;
}

Checkpoint Checkpoint::parse(std::string_view body) {
  if (body.empty() || body.back() != '\n') {
    throw MalformedInput("checkpoint does not end in a newline");
  }
  body.remove_suffix(1);
  auto lines = split(body, '\n');
  if (lines.size() < 3) throw MalformedInput("checkpoint needs origin, size and root hash lines");
  Checkpoint out;
  if (lines[0].empty()) throw MalformedInput("checkpoint origin is empty");
  out.origin = std::string(lines[0]);
  out.size = parse_decimal(lines[1], "checkpoint tree size");
  auto root = base64_decode(lines[2]);
  if (!root) throw MalformedInput("checkpoint root hash is not base64");
  auto hash = to_hash(*root);
  if (!hash) throw MalformedInput("checkpoint root hash is not 32 bytes");
  out.root = *hash;
  for (std::size_t i = 3; i < lines.size(); ++i) {
    if (lines[i].empty()) throw MalformedInput("checkpoint has an empty extension line");
    out.extensions.emplace_back(lines[i]);
  }
  return out;
}

VerifiedCheckpoint verify_checkpoint(std::string_view note_text, const NoteVerifier& verifier) {
  Note note = parse_note(note_text);
  VerifiedCheckpoint out{ProofResult{}, Checkpoint::parse(note.text)};
  if (out.checkpoint.origin != verifier.name()) {
    out.result = ProofResult{false, "checkpoint origin \"" + out.checkpoint.origin +
                                        "\" is not the log \"" + verifier.name() + "\""};
    return out;
  }
  out.result = verify_note(note, verifier);
  return out;
}

}  // namespace chargegrid::ledger

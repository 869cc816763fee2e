#pragma once
// What writing to an Ethereum-compatible chain takes, and nothing more: Keccak-256 (the
// original padding, as Ethereum uses it; OpenSSL 3.0 only has SHA-3), RLP, secp256k1 keys and
// recoverable ECDSA signatures (OpenSSL's EC arithmetic), EIP-1559 fee-market transactions
// (EIP-155 legacy ones for chains without a base fee) and the ABI encoding of the anchoring call.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace chargegrid::server::ledger_adapters::evm {

using Bytes = std::vector<std::uint8_t>;
using Hash = std::array<std::uint8_t, 32>;

Hash keccak256(const std::uint8_t* data, std::size_t size);
inline Hash keccak256(std::string_view text) {
  return keccak256(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}
inline Hash keccak256(const Bytes& bytes) {
  return keccak256(bytes.data(), bytes.size());
}

// "0x" + lower-case hex.
std::string hex0x(const std::uint8_t* data, std::size_t size);
inline std::string hex0x(const Bytes& bytes) {
  return hex0x(bytes.data(), bytes.size());
}
inline std::string hex0x(const Hash& hash) {
  return hex0x(hash.data(), hash.size());
}
// "0x1a" for a JSON-RPC quantity.
std::string quantity(std::uint64_t value);
// A JSON-RPC quantity or data string ("0x..."); throws std::invalid_argument otherwise.
Bytes from_hex(std::string_view text);
std::uint64_t to_u64(std::string_view quantity);
// Big-endian, no leading zero bytes (0 is empty), as RLP wants integers.
Bytes be_bytes(std::uint64_t value);
// A quantity of any size ("0x" hex), as minimal big-endian bytes.
Bytes quantity_bytes(std::string_view quantity);

// RLP (Ethereum yellow paper, appendix B): an item is a byte string or a list of items.
struct Rlp {
  std::variant<Bytes, std::vector<Rlp>> value;
  Rlp(Bytes bytes) : value(std::move(bytes)) {}           // NOLINT: implicit by design
  Rlp(std::vector<Rlp> list) : value(std::move(list)) {}  // NOLINT
};
Bytes rlp_encode(const Rlp& item);

// Mixed-case EIP-55 checksum address for 20 bytes.
std::string checksum_address(const Bytes& address);

struct Signature {
  Bytes r, s;  // 32 bytes each, s in the lower half of the order (EIP-2)
  int recovery_id = 0;
};

class PrivateKey {
 public:
  // 32 bytes as 64 hex digits (with or without 0x); throws std::invalid_argument otherwise,
  // or when the number is not a valid secp256k1 private key.
  static PrivateKey from_hex(std::string_view hex);
  PrivateKey(const PrivateKey&) = delete;
  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;
  ~PrivateKey();

  // The 20-byte address: the last 20 bytes of Keccak-256 of the uncompressed public key.
  const Bytes& address() const { return address_; }
  Signature sign(const Hash& digest) const;

 private:
  PrivateKey();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Bytes address_;
};

struct LegacyTransaction {
  std::uint64_t nonce = 0;
  Bytes gas_price;  // minimal big-endian
  std::uint64_t gas = 0;
  Bytes to;  // 20 bytes; empty creates a contract
  Bytes value;
  Bytes data;
};
// EIP-155: signed over (nonce, gasPrice, gas, to, value, data, chainId, 0, 0), with
// v = recovery id + 2 * chainId + 35. The raw transaction for eth_sendRawTransaction.
Bytes sign_transaction(const LegacyTransaction& tx, std::uint64_t chain_id, const PrivateKey& key);

struct FeeMarketTransaction {
  std::uint64_t nonce = 0;
  Bytes max_priority_fee_per_gas;  // minimal big-endian
  Bytes max_fee_per_gas;
  std::uint64_t gas = 0;
  Bytes to;  // 20 bytes; empty creates a contract
  Bytes value;
  Bytes data;
};
// EIP-1559 (transaction type 2, EIP-2718 envelope) with an empty access list: signed over
// keccak256(0x02 || rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gas, to, value,
// data, accessList])); the raw transaction is 0x02 || rlp([..., yParity, r, s]).
Bytes sign_transaction(const FeeMarketTransaction& tx, std::uint64_t chain_id,
                       const PrivateKey& key);

// The calldata of anchor(bytes32 root, uint64 size, string origin).
Bytes anchor_call(const Hash& root, std::uint64_t size, const std::string& origin);
// The topic of Anchored(bytes32,uint64,string).
Hash anchored_topic();

}  // namespace chargegrid::server::ledger_adapters::evm

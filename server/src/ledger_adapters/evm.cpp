#include "ledger_adapters/evm.hpp"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include <cstring>
#include <stdexcept>

#include "chargegrid/base/encoding.hpp"
#include "chargegrid/base/openssl_ptr.hpp"

namespace chargegrid::server::ledger_adapters::evm {

// ---- Keccak-256 -------------------------------------------------------------------------------

namespace {

constexpr std::uint64_t kRoundConstants[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL};
constexpr int kRotations[25] = {0,  1,  62, 28, 27, 36, 44, 6,  55, 20, 3,  10, 43,
                                25, 39, 41, 45, 15, 21, 8,  18, 2,  61, 56, 14};

std::uint64_t rotl(std::uint64_t x, int n) {
  return n == 0 ? x : (x << n) | (x >> (64 - n));
}

void keccak_f(std::uint64_t a[25]) {
  for (int round = 0; round < 24; ++round) {
    std::uint64_t c[5], d[5], b[25];
    for (int x = 0; x < 5; ++x) c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
    for (int x = 0; x < 5; ++x) d[x] = c[(x + 4) % 5] ^ rotl(c[(x + 1) % 5], 1);
    for (int i = 0; i < 25; ++i) a[i] ^= d[i % 5];
    // rho and pi: b[y, 2x + 3y] = rot(a[x, y])
    for (int x = 0; x < 5; ++x)
      for (int y = 0; y < 5; ++y)
        b[y + 5 * ((2 * x + 3 * y) % 5)] = rotl(a[x + 5 * y], kRotations[x + 5 * y]);
    for (int x = 0; x < 5; ++x)
      for (int y = 0; y < 5; ++y)
        a[x + 5 * y] = b[x + 5 * y] ^ (~b[(x + 1) % 5 + 5 * y] & b[(x + 2) % 5 + 5 * y]);
    a[0] ^= kRoundConstants[round];
  }
}

}  // namespace

Hash keccak256(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kRate = 136;
  std::uint64_t state[25] = {};
  auto absorb = [&state](const std::uint8_t* block) {
    for (std::size_t i = 0; i < kRate / 8; ++i) {
      std::uint64_t lane = 0;
      for (int b = 7; b >= 0; --b) lane = (lane << 8) | block[8 * i + b];
      state[i] ^= lane;
    }
    keccak_f(state);
  };
  while (size >= kRate) {
    absorb(data);
    data += kRate;
    size -= kRate;
  }
  std::uint8_t last[kRate] = {};
  if (size > 0) std::memcpy(last, data, size);
  last[size] ^= 0x01;  // Keccak padding (SHA-3 would be 0x06)
  last[kRate - 1] ^= 0x80;
  absorb(last);
  Hash out;
  for (std::size_t i = 0; i < 32; ++i)
    out[i] = static_cast<std::uint8_t>(state[i / 8] >> (8 * (i % 8)));
  return out;
}

// ---- hex and integers ------------------------------------------------------------------------

std::string hex0x(const std::uint8_t* data, std::size_t size) {
  return "0x" + base::hex_encode({data, size});
}

std::string quantity(std::uint64_t value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  if (value == 0) return "0x0";
  std::string digits;
  for (; value > 0; value >>= 4) digits.insert(digits.begin(), kDigits[value & 0xf]);
  return "0x" + digits;
}

Bytes from_hex(std::string_view text) {
  if (text.starts_with("0x") || text.starts_with("0X")) text.remove_prefix(2);
  std::string digits(text);
  if (digits.size() % 2) digits.insert(digits.begin(), '0');  // a quantity such as "0x1"
  auto bytes = base::hex_decode(digits);
  if (!bytes) throw std::invalid_argument("not hex: " + std::string(text));
  return std::move(*bytes);
}

Bytes be_bytes(std::uint64_t value) {
  Bytes out;
  for (; value > 0; value >>= 8) out.insert(out.begin(), static_cast<std::uint8_t>(value & 0xff));
  return out;
}

Bytes quantity_bytes(std::string_view text) {
  auto bytes = from_hex(text);
  std::size_t zeros = 0;
  while (zeros < bytes.size() && bytes[zeros] == 0) ++zeros;
  return Bytes(bytes.begin() + static_cast<std::ptrdiff_t>(zeros), bytes.end());
}

std::uint64_t to_u64(std::string_view text) {
  auto bytes = quantity_bytes(text);
  if (bytes.size() > 8)
    throw std::invalid_argument("quantity beyond 64 bits: " + std::string(text));
  std::uint64_t value = 0;
  for (auto b : bytes) value = (value << 8) | b;
  return value;
}

// ---- RLP -------------------------------------------------------------------------------------

namespace {

Bytes length_prefix(std::size_t length, std::uint8_t short_base, std::uint8_t long_base) {
  if (length < 56) return {static_cast<std::uint8_t>(short_base + length)};
  auto size = be_bytes(length);
  Bytes out{static_cast<std::uint8_t>(long_base + size.size())};
  out.insert(out.end(), size.begin(), size.end());
  return out;
}

}  // namespace

Bytes rlp_encode(const Rlp& item) {
  if (const auto* bytes = std::get_if<Bytes>(&item.value)) {
    if (bytes->size() == 1 && (*bytes)[0] < 0x80) return *bytes;
    auto out = length_prefix(bytes->size(), 0x80, 0xb7);
    out.insert(out.end(), bytes->begin(), bytes->end());
    return out;
  }
  Bytes payload;
  for (const auto& element : std::get<std::vector<Rlp>>(item.value)) {
    auto encoded = rlp_encode(element);
    payload.insert(payload.end(), encoded.begin(), encoded.end());
  }
  auto out = length_prefix(payload.size(), 0xc0, 0xf7);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

std::string checksum_address(const Bytes& address) {
  auto lower = hex0x(address).substr(2);
  auto hash = keccak256(lower);
  std::string out = "0x";
  for (std::size_t i = 0; i < lower.size(); ++i) {
    const int bits = (hash[i / 2] >> (i % 2 ? 0 : 4)) & 0xf;
    out += bits >= 8 ? static_cast<char>(std::toupper(static_cast<unsigned char>(lower[i])))
                     : lower[i];
  }
  return out;
}

// ---- secp256k1 -------------------------------------------------------------------------------

namespace {

using Bn = base::OpenSslPtr<BIGNUM, BN_clear_free>;  // may hold a private key
using BnCtx = base::OpenSslPtr<BN_CTX, BN_CTX_free>;
using Point = base::OpenSslPtr<EC_POINT, EC_POINT_free>;

Bn bn() {
  Bn b(BN_new());
  if (!b) throw std::bad_alloc();
  return b;
}

Bytes bn_bytes32(const BIGNUM* b) {
  Bytes out(32);
  if (BN_bn2binpad(b, out.data(), 32) != 32)
    throw std::runtime_error("secp256k1: number too large");
  return out;
}

void check(int ok, const char* what) {
  if (ok != 1) throw std::runtime_error(std::string("secp256k1: ") + what + " failed");
}

}  // namespace

struct PrivateKey::Impl {
  EC_GROUP* group = nullptr;
  Bn d;
  Bn order;
  ~Impl() {
    if (group) EC_GROUP_free(group);
  }
};

PrivateKey::PrivateKey() : impl_(std::make_unique<Impl>()) {}
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;
PrivateKey::~PrivateKey() = default;

PrivateKey PrivateKey::from_hex(std::string_view hex) {
  auto bytes = evm::from_hex(hex);
  if (bytes.size() != 32) throw std::invalid_argument("a secp256k1 private key is 32 bytes");
  PrivateKey key;
  auto& k = *key.impl_;
  k.group = EC_GROUP_new_by_curve_name(NID_secp256k1);
  if (!k.group) throw std::runtime_error("secp256k1 is not available");
  k.order = bn();
  BnCtx ctx(BN_CTX_new());
  check(EC_GROUP_get_order(k.group, k.order.get(), ctx.get()), "order");
  k.d.reset(BN_bin2bn(bytes.data(), 32, nullptr));
  if (BN_is_zero(k.d.get()) || BN_cmp(k.d.get(), k.order.get()) >= 0)
    throw std::invalid_argument("not a valid secp256k1 private key");
  Point pub(EC_POINT_new(k.group));
  check(EC_POINT_mul(k.group, pub.get(), k.d.get(), nullptr, nullptr, ctx.get()), "public key");
  std::uint8_t uncompressed[65];
  if (EC_POINT_point2oct(k.group, pub.get(), POINT_CONVERSION_UNCOMPRESSED, uncompressed, 65,
                         ctx.get()) != 65)
    throw std::runtime_error("secp256k1: public key encoding failed");
  auto hash = keccak256(uncompressed + 1, 64);
  key.address_.assign(hash.begin() + 12, hash.end());
  return key;
}

Signature PrivateKey::sign(const Hash& digest) const {
  const auto& k = *impl_;
  BnCtx ctx(BN_CTX_new());
  Bn e(BN_bin2bn(digest.data(), 32, nullptr));
  for (;;) {
    Bn nonce = bn();
    check(BN_priv_rand_range(nonce.get(), k.order.get()), "random nonce");
    if (BN_is_zero(nonce.get())) continue;
    Point point(EC_POINT_new(k.group));
    check(EC_POINT_mul(k.group, point.get(), nonce.get(), nullptr, nullptr, ctx.get()), "R");
    Bn x = bn(), y = bn();
    check(EC_POINT_get_affine_coordinates(k.group, point.get(), x.get(), y.get(), ctx.get()),
          "R coordinates");
    Bn r = bn();
    check(BN_nnmod(r.get(), x.get(), k.order.get(), ctx.get()), "r");
    if (BN_is_zero(r.get())) continue;
    int recovery = BN_is_odd(y.get()) ? 1 : 0;
    if (BN_cmp(x.get(), k.order.get()) >= 0) continue;  // not expressible in v (p ~ 2^-128)
    // s = k^-1 (e + r d) mod n
    Bn rd = bn(), sum = bn(), inverse = bn(), s = bn();
    check(BN_mod_mul(rd.get(), r.get(), k.d.get(), k.order.get(), ctx.get()), "r*d");
    check(BN_mod_add(sum.get(), e.get(), rd.get(), k.order.get(), ctx.get()), "e+rd");
    if (!BN_mod_inverse(inverse.get(), nonce.get(), k.order.get(), ctx.get()))
      throw std::runtime_error("secp256k1: inverse failed");
    check(BN_mod_mul(s.get(), inverse.get(), sum.get(), k.order.get(), ctx.get()), "s");
    if (BN_is_zero(s.get())) continue;
    // Low s (EIP-2): negating s flips the parity of the recovered point.
    Bn half = bn();
    check(BN_rshift1(half.get(), k.order.get()), "n/2");
    if (BN_cmp(s.get(), half.get()) > 0) {
      check(BN_sub(s.get(), k.order.get(), s.get()), "n-s");
      recovery ^= 1;
    }
    return Signature{bn_bytes32(r.get()), bn_bytes32(s.get()), recovery};
  }
}

// ---- transactions and the ABI ------------------------------------------------------------------

namespace {

Bytes strip(Bytes bytes) {
  std::size_t zeros = 0;
  while (zeros < bytes.size() && bytes[zeros] == 0) ++zeros;
  return Bytes(bytes.begin() + static_cast<std::ptrdiff_t>(zeros), bytes.end());
}

}  // namespace

Bytes sign_transaction(const LegacyTransaction& tx, std::uint64_t chain_id, const PrivateKey& key) {
  std::vector<Rlp> fields{
      be_bytes(tx.nonce), strip(tx.gas_price), be_bytes(tx.gas), tx.to, strip(tx.value), tx.data};
  auto unsigned_fields = fields;
  unsigned_fields.emplace_back(be_bytes(chain_id));
  unsigned_fields.emplace_back(Bytes{});
  unsigned_fields.emplace_back(Bytes{});
  const auto digest = keccak256(rlp_encode(Rlp(unsigned_fields)));
  const auto signature = key.sign(digest);
  fields.emplace_back(
      be_bytes(static_cast<std::uint64_t>(signature.recovery_id & 1) + 2 * chain_id + 35));
  fields.emplace_back(strip(signature.r));
  fields.emplace_back(strip(signature.s));
  return rlp_encode(Rlp(fields));
}

Bytes sign_transaction(const FeeMarketTransaction& tx, std::uint64_t chain_id,
                       const PrivateKey& key) {
  constexpr std::uint8_t kType = 0x02;
  std::vector<Rlp> fields{be_bytes(chain_id),
                          be_bytes(tx.nonce),
                          strip(tx.max_priority_fee_per_gas),
                          strip(tx.max_fee_per_gas),
                          be_bytes(tx.gas),
                          tx.to,
                          strip(tx.value),
                          tx.data,
                          std::vector<Rlp>{}};  // the access list
  auto typed = [&](const std::vector<Rlp>& list) {
    Bytes out{kType};
    const auto body = rlp_encode(Rlp(list));
    out.insert(out.end(), body.begin(), body.end());
    return out;
  };
  const auto signature = key.sign(keccak256(typed(fields)));
  fields.emplace_back(be_bytes(static_cast<std::uint64_t>(signature.recovery_id & 1)));
  fields.emplace_back(strip(signature.r));
  fields.emplace_back(strip(signature.s));
  return typed(fields);
}

Bytes anchor_call(const Hash& root, std::uint64_t size, const std::string& origin) {
  const auto selector = keccak256(std::string_view("anchor(bytes32,uint64,string)"));
  // The selector, three head words, the string's length word and its padded bytes.
  Bytes out;
  out.reserve(4 + 4 * 32 + origin.size() + 32);
  out.insert(out.end(), selector.begin(), selector.begin() + 4);
  auto word = [&out](std::uint64_t value) {
    Bytes w(32, 0);
    for (int i = 0; i < 8; ++i) w[31 - i] = static_cast<std::uint8_t>(value >> (8 * i));
    out.insert(out.end(), w.begin(), w.end());
  };
  out.insert(out.end(), root.begin(), root.end());
  word(size);
  word(3 * 32);  // where the string starts, after the three head words
  word(origin.size());
  out.insert(out.end(), origin.begin(), origin.end());
  out.resize(out.size() + (32 - origin.size() % 32) % 32, 0);
  return out;
}

Hash anchored_topic() {
  return keccak256(std::string_view("Anchored(bytes32,uint64,string)"));
}

}  // namespace chargegrid::server::ledger_adapters::evm

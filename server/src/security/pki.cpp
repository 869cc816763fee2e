#include "security/pki.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "chargegrid/base/encoding.hpp"

namespace chargegrid::server::security {

namespace {

using Bio = base::OpenSslPtr<BIO, BIO_free>;
using Request = base::OpenSslPtr<X509_REQ, X509_REQ_free>;
using Extension = base::OpenSslPtr<X509_EXTENSION, X509_EXTENSION_free>;
using BigNumber = base::OpenSslPtr<BIGNUM, BN_free>;
using Name = base::OpenSslPtr<X509_NAME, X509_NAME_free>;

}  // namespace

std::string openssl_error() {
  unsigned long code = ERR_get_error();
  unsigned long last = code;
  while (code != 0) {
    last = code;
    code = ERR_get_error();
  }
  if (last == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(last, text, sizeof text);
  return text;
}

namespace {

Bio memory_bio(std::string_view text) {
  Bio bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) throw PkiError("out of memory");
  return bio;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string name_line(const X509_NAME* name) {
  Bio bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  return bio_text(bio.get());
}

std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

PrivateKey generate_p256_key() {
  PrivateKey key(EVP_EC_gen("P-256"));
  if (!key) throw PkiError("cannot generate a P-256 key: " + openssl_error());
  return key;
}

void set_random_serial(X509* x) {
  // 127 random bits: positive and well within the 20 octets RFC 5280 allows.
  BigNumber bn(BN_new());
  if (!bn || BN_rand(bn.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x)))
    throw PkiError("cannot draw a certificate serial number: " + openssl_error());
}

void add_extension(X509* x, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
  Extension ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(x, ext.get(), -1) != 1)
    throw PkiError(std::string("cannot add extension ") + OBJ_nid2sn(nid) + ": " + openssl_error());
}

// A new certificate for `key` with `subject`, issued by `issuer` (nullptr: self-signed),
// valid from five minutes ago for `days`.
Certificate new_certificate(EVP_PKEY* key, const X509_NAME* subject, X509* issuer, long days) {
  Certificate x(X509_new());
  if (!x || X509_set_version(x.get(), X509_VERSION_3) != 1) throw PkiError("out of memory");
  set_random_serial(x.get());
  if (!X509_gmtime_adj(X509_getm_notBefore(x.get()), -300) ||
      !X509_gmtime_adj(X509_getm_notAfter(x.get()), days * 24 * 3600) ||
      X509_set_pubkey(x.get(), key) != 1 || X509_set_subject_name(x.get(), subject) != 1 ||
      X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : subject) != 1)
    throw PkiError("cannot fill in a certificate: " + openssl_error());
  add_extension(x.get(), issuer ? issuer : x.get(), NID_subject_key_identifier, "hash");
  add_extension(x.get(), issuer ? issuer : x.get(), NID_authority_key_identifier, "keyid:always");
  return x;
}

void sign(X509* x, EVP_PKEY* key) {
  const int type = EVP_PKEY_get_base_id(key);
  const EVP_MD* digest =
      type == EVP_PKEY_ED25519 || type == EVP_PKEY_ED448 ? nullptr : EVP_sha256();
  if (X509_sign(x, key, digest) <= 0)
    throw PkiError("cannot sign a certificate: " + openssl_error());
}

Name name_with_cn(const std::string& cn, const char* organisation) {
  Name name(X509_NAME_new());
  const auto add = [&](const char* field, const std::string& value) {
    if (X509_NAME_add_entry_by_txt(name.get(), field, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                   0) != 1)
      throw PkiError("cannot build a certificate subject: " + openssl_error());
  };
  add("O", organisation);
  add("CN", cn);
  return name;
}

// Writes `text` to `path` through a temporary file, with `mode` from the start.
void write_file(const std::filesystem::path& path, const std::string& text, mode_t mode) {
  const auto tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw PkiError("cannot write " + tmp + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      throw PkiError("cannot write " + tmp + ": " + std::strerror(error));
    }
    done += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  std::filesystem::rename(tmp, path);
}

std::optional<std::string> name_field(const X509_NAME* name, const std::string& field) {
  const int index = X509_NAME_get_index_by_NID(name, subject_field_nid(field), -1);
  if (index < 0) return std::nullopt;
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int size = ASN1_STRING_to_UTF8(&utf8, data);
  if (size < 0) return std::nullopt;
  std::string value(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(size));
  OPENSSL_free(utf8);
  return value;
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

CertificateInfo describe(X509* certificate) {
  CertificateInfo info;
  info.subject = name_line(X509_get_subject_name(certificate));
  info.issuer = name_line(X509_get_issuer_name(certificate));
  BigNumber serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate), nullptr));
  if (serial) {
    char* text = BN_bn2hex(serial.get());
    if (text) info.serial = text;
    OPENSSL_free(text);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (X509_digest(certificate, EVP_sha256(), digest, &size) == 1)
    info.fingerprint = base::hex_encode({digest, size}, base::HexCase::kUpper);
  info.not_before = to_time_point(X509_get0_notBefore(certificate));
  info.not_after = to_time_point(X509_get0_notAfter(certificate));
  return info;
}

int subject_field_nid(const std::string& field) {
  const int nid = OBJ_txt2nid(field.c_str());
  if (nid == NID_undef) throw PkiError("unknown certificate subject field '" + field + "'");
  return nid;
}

std::optional<std::string> subject_field(X509* certificate, const std::string& field) {
  return name_field(X509_get_subject_name(certificate), field);
}

std::vector<Certificate> certificates_from_pem(std::string_view pem) {
  auto bio = memory_bio(pem);
  std::vector<Certificate> out;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(x);
  ERR_clear_error();  // the read past the last certificate
  return out;
}

std::string to_pem(X509* certificate) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(bio.get(), certificate) != 1)
    throw PkiError("cannot write a certificate: " + openssl_error());
  return bio_text(bio.get());
}

std::string to_pem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    throw PkiError("cannot write a private key: " + openssl_error());
  return bio_text(bio.get());
}

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw PkiError("cannot read " + path.string() + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::shared_ptr<const CertificateAuthority> CertificateAuthority::load(
    const std::filesystem::path& cert_file, const std::filesystem::path& key_file,
    const std::filesystem::path& chain_file) {
  std::shared_ptr<CertificateAuthority> ca(new CertificateAuthority());
  auto certificates = certificates_from_pem(read_text_file(cert_file));
  if (certificates.empty()) throw PkiError(cert_file.string() + " holds no PEM certificate");
  if (!chain_file.empty()) {
    auto chain = certificates_from_pem(read_text_file(chain_file));
    if (chain.empty()) throw PkiError(chain_file.string() + " holds no PEM certificate");
    for (auto& certificate : chain) certificates.push_back(std::move(certificate));
  }
  ca->certificate_ = std::move(certificates.front());
  for (std::size_t i = 1; i < certificates.size(); ++i) {
    // Intermediates travel with issued certificates; a root in the file does not.
    if (X509_check_issued(certificates[i].get(), certificates[i].get()) != X509_V_OK)
      ca->intermediates_.push_back(std::move(certificates[i]));
  }
  const auto key_pem = read_text_file(key_file);
  auto bio = memory_bio(key_pem);
  ca->key_.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!ca->key_) throw PkiError(key_file.string() + " holds no readable private key");
  if (X509_check_private_key(ca->certificate_.get(), ca->key_.get()) != 1) {
    ERR_clear_error();
    throw PkiError(key_file.string() + " is not the key of " + cert_file.string());
  }
  if (X509_check_ca(ca->certificate_.get()) == 0)
    throw PkiError(cert_file.string() + " is not a CA certificate (basicConstraints CA:TRUE)");
  ca->info_ = describe(ca->certificate_.get());
  return ca;
}

namespace {

// The PEM CSR with a valid self-signature, and its public key. Throws CsrRejected.
std::pair<Request, EVP_PKEY*> read_verified_csr(std::string_view csr_pem) {
  auto bio = memory_bio(csr_pem);
  Request request(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!request) {
    ERR_clear_error();
    throw CsrRejected("not a PEM certificate signing request");
  }
  EVP_PKEY* key = X509_REQ_get0_pubkey(request.get());
  if (!key) {
    ERR_clear_error();
    throw CsrRejected("the CSR carries no readable public key");
  }
  if (X509_REQ_verify(request.get(), key) != 1) {
    ERR_clear_error();
    throw CsrRejected("the CSR's signature does not verify");
  }
  return {std::move(request), key};
}

// The curve of an EC key ("prime256v1", "secp521r1", ...), empty for other keys.
std::string ec_curve(EVP_PKEY* key) {
  char name[80] = {};
  std::size_t size = 0;
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
      EVP_PKEY_get_utf8_string_param(key, "group", name, sizeof name, &size) != 1) {
    ERR_clear_error();
    return {};
  }
  return std::string(name, size);
}

}  // namespace

CertificateAuthority::Issued CertificateAuthority::sign_station_csr(
    std::string_view csr_pem, const std::string& station_id, const std::string& identity_field,
    int days) const {
  auto [request, key] = read_verified_csr(csr_pem);
  const int type = EVP_PKEY_get_base_id(key);
  const int bits = EVP_PKEY_get_bits(key);
  if (type == EVP_PKEY_RSA) {
    if (bits < 2048)
      throw CsrRejected("RSA key of " + std::to_string(bits) + " bits; at least 2048 required");
  } else if (type == EVP_PKEY_EC) {
    if (bits < 224)
      throw CsrRejected("EC key of " + std::to_string(bits) + " bits; at least 224 required");
  } else {
    throw CsrRejected("the key must be RSA or EC");
  }
  const X509_NAME* subject = X509_REQ_get_subject_name(request.get());
  const auto identity = name_field(subject, identity_field);
  if (!identity) throw CsrRejected("the CSR's subject has no " + identity_field);
  if (*identity != station_id)
    throw CsrRejected("the CSR's " + identity_field + " is '" + *identity +
                      "', not the station id '" + station_id + "'");

  Certificate x = new_certificate(key, subject, certificate_.get(), days);
  add_extension(x.get(), certificate_.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(x.get(), certificate_.get(), NID_key_usage,
                type == EVP_PKEY_RSA ? "critical,digitalSignature,keyEncipherment"
                                     : "critical,digitalSignature,keyAgreement");
  add_extension(x.get(), certificate_.get(), NID_ext_key_usage, "clientAuth");
  sign(x.get(), key_.get());

  Issued issued;
  issued.chain_pem = to_pem(x.get());
  for (const auto& intermediate : intermediates_) issued.chain_pem += to_pem(intermediate.get());
  issued.info = describe(x.get());
  return issued;
}

void check_v2g_csr_key(EVP_PKEY* key, V2gProfile profile) {
  const auto curve = ec_curve(key);
  if (profile == V2gProfile::kIso15118_2) {
    if (curve != "prime256v1")
      throw CsrRejected(
          "ISO 15118-2 requires an ECDSA key on secp256r1; the CSR's key is " +
          (curve.empty() ? std::string(OBJ_nid2sn(EVP_PKEY_get_base_id(key))) : curve));
    return;
  }
  if (curve != "secp521r1" && EVP_PKEY_get_base_id(key) != EVP_PKEY_ED448)
    throw CsrRejected(
        "ISO 15118-20 requires an ECDSA key on secp521r1 or an Ed448 key; the "
        "CSR's key is " +
        (curve.empty() ? std::string(OBJ_nid2sn(EVP_PKEY_get_base_id(key))) : curve));
}

CertificateAuthority::Issued CertificateAuthority::sign_v2g_csr(std::string_view csr_pem,
                                                                const V2gCsrRules& rules) const {
  auto [request, key] = read_verified_csr(csr_pem);
  check_v2g_csr_key(key, rules.profile);
  const X509_NAME* subject = X509_REQ_get_subject_name(request.get());
  const auto cn = name_field(subject, "CN");
  if (!cn) throw CsrRejected("the CSR's subject has no CN (the SECC id)");
  if (*cn != rules.secc_id)
    throw CsrRejected("the CSR's CN is '" + *cn + "', not this station's SECC id '" +
                      rules.secc_id + "'");
  if (!rules.organisation.empty()) {
    const auto organisation = name_field(subject, "O");
    if (organisation.value_or("") != rules.organisation)
      throw CsrRejected("the CSR's O is '" + organisation.value_or("") + "', not '" +
                        rules.organisation + "'");
  }

  Certificate x = new_certificate(key, subject, certificate_.get(), rules.days);
  add_extension(x.get(), certificate_.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(x.get(), certificate_.get(), NID_key_usage,
                EVP_PKEY_get_base_id(key) == EVP_PKEY_ED448
                    ? "critical,digitalSignature"
                    : "critical,digitalSignature,keyAgreement");
  if (!rules.ocsp_url.empty())
    add_extension(x.get(), certificate_.get(), NID_info_access,
                  ("OCSP;URI:" + rules.ocsp_url).c_str());
  sign(x.get(), key_.get());

  // A vehicle knows only the V2G root: the sub-CA that signed goes along, then the others.
  Issued issued;
  issued.chain_pem = to_pem(x.get());
  if (X509_check_issued(certificate_.get(), certificate_.get()) != X509_V_OK)
    issued.chain_pem += to_pem(certificate_.get());
  for (const auto& intermediate : intermediates_) issued.chain_pem += to_pem(intermediate.get());
  issued.info = describe(x.get());
  return issued;
}

DevelopmentPki ensure_development_pki(const std::filesystem::path& dir) {
  DevelopmentPki pki{dir / "ca.pem", dir / "ca.key", dir / "server.pem", dir / "server.key"};
  namespace fs = std::filesystem;
  const auto complete = [&] {
    return fs::exists(pki.ca_cert) && fs::exists(pki.ca_key) && fs::exists(pki.server_cert) &&
           fs::exists(pki.server_key);
  };
  if (complete()) return pki;
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
  // Nodes sharing the data folder and starting together create one PKI, not a mix of two.
  const auto lock_path = (dir / ".lock").string();
  const int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0 || ::flock(lock, LOCK_EX) != 0)
    throw PkiError("cannot lock " + lock_path + ": " + std::strerror(errno));
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }
  } unlock{lock};
  if (complete()) return pki;

  auto ca_key = generate_p256_key();
  auto ca_name = name_with_cn("ChargeGrid development CA", "ChargeGrid development");
  auto ca = new_certificate(ca_key.get(), ca_name.get(), nullptr, 3650);
  add_extension(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  add_extension(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  sign(ca.get(), ca_key.get());

  const auto host = host_name();
  auto server_key = generate_p256_key();
  auto server_name = name_with_cn(host, "ChargeGrid development");
  auto server = new_certificate(server_key.get(), server_name.get(), ca.get(), 730);
  add_extension(server.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(server.get(), ca.get(), NID_key_usage, "critical,digitalSignature,keyAgreement");
  add_extension(server.get(), ca.get(), NID_ext_key_usage, "serverAuth");
  std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
  if (host != "localhost") san = "DNS:" + host + "," + san;
  add_extension(server.get(), ca.get(), NID_subject_alt_name, san.c_str());
  sign(server.get(), ca_key.get());

  write_file(pki.ca_key, to_pem(ca_key.get()), 0600);
  write_file(pki.ca_cert, to_pem(ca.get()), 0644);
  write_file(pki.server_key, to_pem(server_key.get()), 0600);
  // The chain a client sees: the server certificate, then the CA it can pin.
  write_file(pki.server_cert, to_pem(server.get()) + to_pem(ca.get()), 0644);
  pki.created = true;
  return pki;
}

}  // namespace chargegrid::server::security

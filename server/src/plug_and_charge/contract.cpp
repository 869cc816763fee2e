#include "plug_and_charge/contract.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>

namespace chargegrid::server::plug_and_charge {

namespace {

void free_certificates(STACK_OF(X509) * stack) {
  sk_X509_pop_free(stack, X509_free);
}
using CertStack = base::OpenSslPtr<STACK_OF(X509), free_certificates>;
using StoreContext = base::OpenSslPtr<X509_STORE_CTX, X509_STORE_CTX_free>;

CertificateStatus status_of_verify_error(int error) {
  switch (error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
    case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
      return CertificateStatus::kCertificateExpired;
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
      return CertificateStatus::kSignatureError;
    default:
      return CertificateStatus::kCertChainError;
  }
}

void add_certificates(X509_STORE* store, const std::string& pem, const std::string& name,
                      std::size_t& count) {
  auto certificates = security::certificates_from_pem(pem);
  if (certificates.empty()) throw security::PkiError(name + " holds no PEM certificate");
  for (auto& certificate : certificates) {
    if (X509_STORE_add_cert(store, certificate.get()) != 1) {
      // The same root twice is not an error.
      ERR_clear_error();
    }
    ++count;
  }
}

}  // namespace

const char* to_string(CertificateStatus status) {
  switch (status) {
    case CertificateStatus::kAccepted:
      return "Accepted";
    case CertificateStatus::kSignatureError:
      return "SignatureError";
    case CertificateStatus::kCertificateExpired:
      return "CertificateExpired";
    case CertificateStatus::kCertificateRevoked:
      return "CertificateRevoked";
    case CertificateStatus::kNoCertificateAvailable:
      return "NoCertificateAvailable";
    case CertificateStatus::kCertChainError:
      return "CertChainError";
    case CertificateStatus::kContractCancelled:
      return "ContractCancelled";
  }
  return "CertChainError";
}

TrustStore load_trust_folder(const std::filesystem::path& dir, std::size_t* count) {
  TrustStore store(X509_STORE_new());
  if (!store) throw security::PkiError("out of memory");
  std::error_code error;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error))
    if (entry.is_regular_file() && entry.path().extension() == ".pem")
      files.push_back(entry.path());
  if (error) throw security::PkiError("cannot read " + dir.string() + ": " + error.message());
  std::sort(files.begin(), files.end());
  std::size_t read = 0;
  for (const auto& file : files)
    add_certificates(store.get(), security::read_text_file(file), file.string(), read);
  if (count) *count = read;
  return store;
}

TrustStore load_trust_file(const std::filesystem::path& file) {
  TrustStore store(X509_STORE_new());
  if (!store) throw security::PkiError("out of memory");
  std::size_t read = 0;
  add_certificates(store.get(), security::read_text_file(file), file.string(), read);
  return store;
}

std::string normalise_emaid(std::string_view emaid) {
  std::string out;
  out.reserve(emaid.size());
  for (unsigned char c : emaid)
    if (c != '-') out += static_cast<char>(std::toupper(c));
  return out;
}

ChainCheck check_contract_chain(std::string_view chain_pem, const std::string& emaid,
                                X509_STORE* roots) {
  ChainCheck check;
  auto certificates = security::certificates_from_pem(chain_pem);
  if (certificates.empty()) {
    check.reason = "the certificate field holds no PEM certificate";
    return check;
  }
  CertStack untrusted(sk_X509_new_null());
  for (std::size_t i = 1; i < certificates.size(); ++i) {
    X509_up_ref(certificates[i].get());
    sk_X509_push(untrusted.get(), certificates[i].get());
  }
  StoreContext ctx(X509_STORE_CTX_new());
  X509* leaf = certificates.front().get();
  if (!ctx || X509_STORE_CTX_init(ctx.get(), roots, leaf, untrusted.get()) != 1) {
    ERR_clear_error();
    check.reason = "cannot set up chain verification";
    return check;
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    check.status = status_of_verify_error(error);
    check.reason = std::string("chain: ") + X509_verify_cert_error_string(error) + " (depth " +
                   std::to_string(X509_STORE_CTX_get_error_depth(ctx.get())) + ")";
    return check;
  }
  if (X509_check_ca(leaf) != 0) {
    check.reason = "the contract certificate is a CA certificate";
    return check;
  }
  if ((X509_get_extension_flags(leaf) & EXFLAG_KUSAGE) &&
      !(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE)) {
    check.reason = "the contract certificate's key usage lacks digitalSignature";
    return check;
  }
  const auto cn = security::subject_field(leaf, "CN");
  if (!cn || normalise_emaid(*cn) != normalise_emaid(emaid)) {
    check.reason =
        "the contract certificate's CN '" + cn.value_or("") + "' is not the eMAID '" + emaid + "'";
    return check;
  }
  CertStack chain(X509_STORE_CTX_get1_chain(ctx.get()));
  for (int i = 0; i < sk_X509_num(chain.get()); ++i) {
    X509* x = sk_X509_value(chain.get(), i);
    X509_up_ref(x);
    check.chain.emplace_back(x);
  }
  for (std::size_t i = 0; i + 1 < check.chain.size(); ++i) {
    auto data = request_data_of(check.chain[i].get(), check.chain[i + 1].get());
    if (!data.responder_url.empty()) check.ocsp.push_back(std::move(data));
  }
  check.status = CertificateStatus::kAccepted;
  return check;
}

CertificateStatus revoked_status(int ocsp_reason, bool leaf) {
  if (leaf && (ocsp_reason == OCSP_REVOKED_STATUS_CESSATIONOFOPERATION ||
               ocsp_reason == OCSP_REVOKED_STATUS_SUPERSEDED ||
               ocsp_reason == OCSP_REVOKED_STATUS_AFFILIATIONCHANGED))
    return CertificateStatus::kContractCancelled;
  return CertificateStatus::kCertificateRevoked;
}

}  // namespace chargegrid::server::plug_and_charge

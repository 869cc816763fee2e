#include "plug_and_charge/pki_check.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <filesystem>

#include "chargegrid/base/time.hpp"
#include "security/pki.hpp"

namespace chargegrid::server::plug_and_charge {

namespace {

using Level = PkiFinding::Level;
using security::Certificate;

struct Checker {
  std::chrono::system_clock::time_point now;
  int warn_days;
  std::vector<PkiFinding> findings;

  void add(Level level, const std::string& what, const std::string& text) {
    findings.push_back({level, what, text});
  }

  // The first certificate of `file`, reported with its expiry; nullptr (reported) if none.
  Certificate load(const std::string& what, const std::string& file) {
    std::vector<Certificate> certificates;
    try {
      certificates = security::certificates_from_pem(security::read_text_file(file));
    } catch (const std::exception& e) {
      add(Level::kError, what, e.what());
      return nullptr;
    }
    if (certificates.empty()) {
      add(Level::kError, what, file + " holds no PEM certificate");
      return nullptr;
    }
    expiry(what, certificates.front().get());
    return std::move(certificates.front());
  }

  void expiry(const std::string& what, X509* certificate) {
    const auto info = security::describe(certificate);
    const auto until = base::format_rfc3339(info.not_after, base::TimePrecision::kSeconds);
    const auto days =
        std::chrono::duration_cast<std::chrono::hours>(info.not_after - now).count() / 24;
    if (info.not_after <= now)
      add(Level::kError, what, info.subject + ": expired " + until);
    else if (info.not_before > now)
      add(Level::kError, what,
          info.subject + ": not valid before " +
              base::format_rfc3339(info.not_before, base::TimePrecision::kSeconds));
    else if (days < warn_days)
      add(Level::kWarning, what,
          info.subject + ": expires " + until + " (in " + std::to_string(days) + " days)");
    else
      add(Level::kOk, what, info.subject + ": valid until " + until);
  }

  void signed_by(const std::string& what, X509* child, X509* issuer, const std::string& by) {
    if (!child || !issuer) return;
    EVP_PKEY* key = X509_get0_pubkey(issuer);
    if (X509_check_issued(issuer, child) != X509_V_OK || !key || X509_verify(child, key) != 1) {
      ERR_clear_error();
      add(Level::kError, what, "not signed by " + by + ": the chain is broken");
    }
    if (X509_check_ca(child) == 0) add(Level::kError, what, "not a CA certificate");
  }

  void key_matches(const std::string& what, X509* certificate, const std::string& key_file) {
    if (!certificate || key_file.empty()) return;
    try {
      const auto pem = security::read_text_file(key_file);
      base::OpenSslPtr<BIO, BIO_free> bio(
          BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
      security::PrivateKey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
      if (!key || X509_check_private_key(certificate, key.get()) != 1) {
        ERR_clear_error();
        add(Level::kError, what, key_file + " is not this certificate's key");
      }
    } catch (const std::exception& e) {
      add(Level::kError, what, e.what());
    }
  }
};

}  // namespace

std::vector<PkiFinding> check_pki(const Config& config, std::chrono::system_clock::time_point now,
                                  int warn_days) {
  Checker c{now, warn_days, {}};
  Certificate root, sub1, sub2;
  if (!config.v2g_root_file.empty()) {
    root = c.load("V2G root", config.v2g_root_file);
    if (root && X509_check_issued(root.get(), root.get()) != X509_V_OK)
      c.add(Level::kError, "V2G root", "not self-signed");
  }
  if (!config.cpo_sub_ca1_cert_file.empty()) {
    sub1 = c.load("CPO sub-CA 1", config.cpo_sub_ca1_cert_file);
    c.signed_by("CPO sub-CA 1", sub1.get(), root.get(), "the V2G root");
    c.key_matches("CPO sub-CA 1", sub1.get(), config.cpo_sub_ca1_key_file);
  }
  if (!config.cpo_sub_ca2_cert_file.empty()) {
    sub2 = c.load("CPO sub-CA 2", config.cpo_sub_ca2_cert_file);
    c.signed_by("CPO sub-CA 2", sub2.get(), sub1.get(), "CPO sub-CA 1");
    c.key_matches("CPO sub-CA 2", sub2.get(), config.cpo_sub_ca2_key_file);
  }
  if (config.v2g_root_file.empty() || config.cpo_sub_ca2_cert_file.empty())
    c.add(Level::kWarning, "V2G chain",
          "not configured (--v2g-root-file, --cpo-sub-ca1/2-*): V2G certificates are not signed");
  if (config.mo_roots_dir.empty()) {
    c.add(Level::kWarning, "MO roots",
          "not configured (--mo-roots-dir): contract certificates are refused");
  } else {
    std::error_code error;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(config.mo_roots_dir, error))
      if (entry.path().extension() == ".pem") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    if (error) c.add(Level::kError, "MO roots", config.mo_roots_dir + ": " + error.message());
    if (!error && files.empty())
      c.add(Level::kError, "MO roots", config.mo_roots_dir + " holds no *.pem file");
    for (const auto& file : files) {
      const auto what = "MO root (" + file.filename().string() + ")";
      auto certificate = c.load(what, file.string());
      if (certificate && X509_check_issued(certificate.get(), certificate.get()) != X509_V_OK)
        c.add(Level::kError, what, "not self-signed: a root belongs here");
    }
  }
  return c.findings;
}

}  // namespace chargegrid::server::plug_and_charge

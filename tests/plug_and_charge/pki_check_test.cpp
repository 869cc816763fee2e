// `chargegridd pki check`: the configured PKI's expiry dates and broken links, on the test PKI
// of scripts/pki and on deliberately crossed files.

#include "plug_and_charge/pki_check.hpp"

#include <catch2/catch.hpp>

#include "pnc_fixture.hpp"

using namespace chargegrid::testing;
namespace pnc = chargegrid::server::plug_and_charge;

namespace {

std::size_t errors(const std::vector<pnc::PkiFinding>& findings, const std::string& text = "") {
  return static_cast<std::size_t>(
      std::count_if(findings.begin(), findings.end(), [&](const pnc::PkiFinding& f) {
        return f.level == pnc::PkiFinding::Level::kError &&
               (text.empty() || contains(f.what + ": " + f.text, text));
      }));
}

}  // namespace

TEST_CASE("pki check: the test PKI is whole, crossed files and expiry are reported",
          "[plug_and_charge][pki]") {
  PncPki pki(unused_port());
  auto config = pnc_config(pki);
  const auto now = std::chrono::system_clock::now();
  const auto whole = pnc::check_pki(config, now, 30);
  CHECK(errors(whole) == 0);
  CHECK(std::count_if(whole.begin(), whole.end(), [](const pnc::PkiFinding& f) {
          return contains(f.text, "valid until");
        }) == 4);  // V2G root, two sub-CAs, one MO root

  auto crossed = config;
  crossed.cpo_sub_ca1_cert_file = pki.file("mo-sub1.pem");  // another hierarchy's sub-CA
  crossed.cpo_sub_ca2_key_file = pki.file("cpo-sub1.key");  // the wrong key
  const auto broken = pnc::check_pki(crossed, now, 30);
  CHECK(errors(broken, "CPO sub-CA 1: not signed by the V2G root") == 1);
  CHECK(errors(broken, "CPO sub-CA 2: not signed by CPO sub-CA 1") == 1);
  CHECK(errors(broken, "is not this certificate's key") == 2);  // sub-CA 1 (crossed) and 2

  // Four years on the sub-CAs have expired; within the root's last month it warns.
  CHECK(errors(pnc::check_pki(config, now + std::chrono::hours(24 * 365 * 3), 30), "expired") == 2);
  const auto late = pnc::check_pki(config, now + std::chrono::hours(24 * (365 * 4 - 10)), 30);
  CHECK(std::any_of(late.begin(), late.end(), [](const pnc::PkiFinding& f) {
    return f.level == pnc::PkiFinding::Level::kWarning && contains(f.text, "V2G Root CA");
  }));
}

#include "plug_and_charge/service.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <mutex>
#include <type_traits>

#include "chargegrid/base/encoding.hpp"
#include "chargegrid/base/openssl_ptr.hpp"
#include "ledger_adapters/http_client.hpp"
#include "logging.hpp"

namespace chargegrid::server::plug_and_charge {

namespace asio = boost::asio;
using Clock = std::chrono::system_clock;

namespace {

void free_stack_only(STACK_OF(X509) * stack) {
  sk_X509_free(stack);
}  // certificates not owned
using BorrowedCertificates = base::OpenSslPtr<STACK_OF(X509), free_stack_only>;

// The responder could not be asked (refused, timeout, an HTTP error).
struct Unreachable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string post_ocsp(const OcspTransport& transport, const OcspQuery& query) {
  if (query.responder_url().empty()) throw Unreachable("no responder URL");
  std::pair<int, std::string> reply;
  try {
    reply = transport(query.responder_url(), query.der());
  } catch (const std::exception& e) {
    throw Unreachable(query.responder_url() + ": " + e.what());
  }
  if (reply.first != 200)
    throw Unreachable(query.responder_url() + " answered HTTP " + std::to_string(reply.first));
  return std::move(reply.second);
}

}  // namespace

struct PlugAndCharge::Impl {
  explicit Impl(const Config& c) : config(c) {}

  // Runs blocking work (HTTP) on the workers; resumes the caller on its own executor.
  template <class Fn>
  auto off_thread(Fn fn) {
    using Result = std::invoke_result_t<Fn&>;
    return asio::async_initiate<const asio::use_awaitable_t<>, void(std::exception_ptr, Result)>(
        [this, fn = std::move(fn)](auto handler) mutable {
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          asio::post(workers, [shared, fn = std::move(fn)]() mutable {
            std::exception_ptr error;
            Result result{};
            try {
              result = fn();
            } catch (...) {
              error = std::current_exception();
            }
            auto executor = asio::get_associated_executor(*shared);
            asio::post(executor, [shared, error, result = std::move(result)]() mutable {
              (*shared)(error, std::move(result));
            });
          });
        },
        asio::use_awaitable);
  }

  OcspTransport transport() const {
    std::lock_guard lock(mutex);
    return ocsp_transport;
  }

  // The verdicts of a contract's OCSP checks, in chain order; the first that is not good
  // decides. Runs on a worker.
  ContractAnswer ask_responders(const std::vector<OcspRequestData>& requests, X509_STORE* trust,
                                STACK_OF(X509) * extra) const {
    const auto post = transport();
    ContractAnswer answer{CertificateStatus::kAccepted, {}};
    for (std::size_t i = 0; i < requests.size(); ++i) {
      const auto& data = requests[i];
      try {
        OcspQuery query(data, true);
        const auto verdict = verify_response(post_ocsp(post, query), query, trust, extra);
        if (verdict.status == OcspCertStatus::kRevoked)
          return {revoked_status(verdict.revocation_reason, i == 0),
                  "certificate " + data.serial_number + " is revoked (OCSP reason " +
                      std::to_string(verdict.revocation_reason) + ")"};
        if (verdict.status == OcspCertStatus::kUnknown)
          return {CertificateStatus::kCertChainError,
                  "the responder does not know certificate " + data.serial_number};
      } catch (const std::invalid_argument& e) {
        return {CertificateStatus::kCertChainError,
                std::string("unusable OCSP request data: ") + e.what()};
      } catch (const Unreachable& e) {
        if (config.ocsp_failure_policy != "open")
          return {CertificateStatus::kNoCertificateAvailable,
                  std::string("OCSP responder unreachable: ") + e.what()};
        answer.reason =
            std::string("accepted failing open, OCSP responder unreachable: ") + e.what();
      } catch (const OcspInvalid& e) {
        return {e.kind == OcspInvalid::Kind::kSignature
                    ? CertificateStatus::kSignatureError
                    : CertificateStatus::kNoCertificateAvailable,
                std::string("unusable OCSP response: ") + e.what()};
      } catch (const std::exception& e) {
        return {CertificateStatus::kNoCertificateAvailable, e.what()};
      }
    }
    return answer;
  }

  const Config& config;
  TrustStore mo_roots;
  std::shared_ptr<const security::CertificateAuthority> v2g_ca;
  asio::thread_pool workers{2};

  mutable std::mutex mutex;
  OcspTransport ocsp_transport;
  std::shared_ptr<ProvisioningService> provisioning;
  struct Cached {
    std::string der;
    Clock::time_point until;
  };
  std::map<std::string, Cached> cache;
};

PlugAndCharge::PlugAndCharge(const Config& config) : impl_(std::make_unique<Impl>(config)) {
  if (!config.mo_roots_dir.empty()) {
    std::size_t count = 0;
    impl_->mo_roots = load_trust_folder(config.mo_roots_dir, &count);
    log::info("mo_roots_loaded", {{"dir", config.mo_roots_dir}, {"certificates", count}});
  }
  if (!config.cpo_sub_ca2_cert_file.empty()) {
    // Sub-CA 1 travels after sub-CA 2 in every chain sent to a station.
    impl_->v2g_ca = security::CertificateAuthority::load(
        config.cpo_sub_ca2_cert_file, config.cpo_sub_ca2_key_file, config.cpo_sub_ca1_cert_file);
  }
  const auto timeout = std::chrono::milliseconds(config.ocsp_timeout_ms);
  impl_->ocsp_transport = [timeout](const std::string& url, const std::string& der) {
    auto answer = ledger_adapters::http_post(url, {}, der, timeout, "application/ocsp-request");
    return std::pair<int, std::string>{answer.status, std::move(answer.body)};
  };
  if (!config.cps_url.empty())
    impl_->provisioning = http_provisioning_service(
        config.cps_url, config.cps_credentials, std::chrono::milliseconds(config.cps_timeout_ms));
}

PlugAndCharge::~PlugAndCharge() {
  stop();
}

void PlugAndCharge::stop() {
  impl_->workers.join();
}

std::shared_ptr<const security::CertificateAuthority> PlugAndCharge::v2g_ca() const {
  return impl_->v2g_ca;
}

void PlugAndCharge::set_ocsp_transport(OcspTransport transport) {
  std::lock_guard lock(impl_->mutex);
  impl_->ocsp_transport = std::move(transport);
}

void PlugAndCharge::set_provisioning_service(std::unique_ptr<ProvisioningService> service) {
  std::lock_guard lock(impl_->mutex);
  impl_->provisioning = std::move(service);
}

asio::awaitable<ContractAnswer> PlugAndCharge::check_contract(
    std::string emaid, std::optional<std::string> chain_pem,
    std::vector<OcspRequestData> hash_data) {
  auto& impl = *impl_;
  if (!impl.mo_roots)
    co_return ContractAnswer{CertificateStatus::kCertChainError,
                             "no MO roots are configured (--mo-roots-dir)"};
  if (chain_pem) {
    auto check = check_contract_chain(*chain_pem, emaid, impl.mo_roots.get());
    if (check.status != CertificateStatus::kAccepted)
      co_return ContractAnswer{check.status, check.reason};
    auto work = impl.off_thread([&impl, check = std::move(check)] {
      BorrowedCertificates extra(sk_X509_new_null());
      for (const auto& certificate : check.chain) sk_X509_push(extra.get(), certificate.get());
      return impl.ask_responders(check.ocsp, impl.mo_roots.get(), extra.get());
    });
    co_return co_await std::move(work);
  }
  if (hash_data.empty())
    co_return ContractAnswer{CertificateStatus::kNoCertificateAvailable,
                             "neither a certificate nor OCSP request data"};
  auto work = impl.off_thread([&impl, hash_data = std::move(hash_data)] {
    return impl.ask_responders(hash_data, impl.mo_roots.get(), nullptr);
  });
  co_return co_await std::move(work);
}

asio::awaitable<CertificateStatusAnswer> PlugAndCharge::certificate_status(OcspRequestData data) {
  auto& impl = *impl_;
  std::optional<OcspQuery> query;
  try {
    // No nonce: the answer is shared by every station asking about this certificate.
    query.emplace(data, false);
  } catch (const std::exception& e) {
    co_return CertificateStatusAnswer{false, {}, std::string("bad ocspRequestData: ") + e.what()};
  }
  const auto now = Clock::now();
  {
    std::lock_guard lock(impl.mutex);
    if (auto it = impl.cache.find(query->key()); it != impl.cache.end()) {
      if (it->second.until > now)
        co_return CertificateStatusAnswer{true, base::base64_encode(it->second.der), {}, true};
      impl.cache.erase(it);
    }
  }
  auto work = impl.off_thread([&impl, query = std::move(*query), now] {
    CertificateStatusAnswer answer;
    std::string der;
    try {
      der = post_ocsp(impl.transport(), query);
      const auto facts = read_response(der);
      if (facts.response_status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        answer.failure = "the responder answered status " + std::to_string(facts.response_status);
        return answer;
      }
      // Kept until nextUpdate (never past the configured maximum); without one, not kept.
      if (facts.next_update && impl.config.ocsp_cache_max_s > 0) {
        const auto until =
            std::min(*facts.next_update, now + std::chrono::seconds(impl.config.ocsp_cache_max_s));
        if (until > now) {
          std::lock_guard lock(impl.mutex);
          impl.cache[query.key()] = {der, until};
        }
      }
    } catch (const std::exception& e) {
      answer.failure = e.what();
      return answer;
    }
    answer.accepted = true;
    answer.ocsp_result = base::base64_encode(der);
    return answer;
  });
  co_return co_await std::move(work);
}

asio::awaitable<EvCertificateAnswer> PlugAndCharge::ev_certificate(EvCertificateRequest request) {
  std::shared_ptr<ProvisioningService> service;
  {
    std::lock_guard lock(impl_->mutex);
    service = impl_->provisioning;
  }
  if (!service) {
    EvCertificateAnswer answer;
    answer.failure = "no contract-certificate provisioning service is configured (--cps-url)";
    co_return answer;
  }
  auto work = impl_->off_thread(
      [service, request = std::move(request)] { return service->get_ev_certificate(request); });
  co_return co_await std::move(work);
}

}  // namespace chargegrid::server::plug_and_charge

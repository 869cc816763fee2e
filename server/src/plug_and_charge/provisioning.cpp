#include "plug_and_charge/provisioning.hpp"

#include <nlohmann/json.hpp>

#include "chargegrid/base/encoding.hpp"
#include "ledger_adapters/http_client.hpp"

namespace chargegrid::server::plug_and_charge {

namespace {

// The largest EXI answer OCPP 2.1 lets a station accept (exiResponse maxLength).
constexpr std::size_t kMaxExiResponse = 17000;

class HttpProvisioningService final : public ProvisioningService {
 public:
  HttpProvisioningService(std::string url, std::string credentials,
                          std::chrono::milliseconds timeout)
      : url_(std::move(url)), credentials_(std::move(credentials)), timeout_(timeout) {}

  EvCertificateAnswer get_ev_certificate(const EvCertificateRequest& request) override {
    EvCertificateAnswer answer;
    const nlohmann::json body{{"iso15118SchemaVersion", request.schema_version},
                              {"action", request.action},
                              {"exiRequest", request.exi_request}};
    std::vector<std::pair<std::string, std::string>> headers;
    if (!credentials_.empty()) headers.emplace_back("Authorization", credentials_);
    ledger_adapters::HttpAnswer reply;
    try {
      reply = ledger_adapters::http_post(url_, headers, body.dump(), timeout_);
    } catch (const std::exception& e) {
      answer.failure = std::string("the provisioning service did not answer: ") + e.what();
      return answer;
    }
    if (reply.status != 200) {
      answer.failure = "the provisioning service answered HTTP " + std::to_string(reply.status);
      return answer;
    }
    const auto json = nlohmann::json::parse(reply.body, nullptr, false);
    if (!json.is_object()) {
      answer.failure = "the provisioning service's answer is not a JSON object";
      return answer;
    }
    if (json.value("status", "Accepted") != "Accepted") {
      answer.failure = "the provisioning service answered " + json.value("status", "");
      return answer;
    }
    const auto exi = json.find("exiResponse");
    if (exi == json.end() || !exi->is_string() || exi->get_ref<const std::string&>().empty() ||
        exi->get_ref<const std::string&>().size() > kMaxExiResponse ||
        !base::base64_decode(exi->get_ref<const std::string&>())) {
      answer.failure = "the provisioning service's exiResponse is missing, too long or not base64";
      return answer;
    }
    answer.exi_response = exi->get<std::string>();
    if (const auto remaining = json.find("remainingContracts");
        remaining != json.end() && remaining->is_number_integer() && remaining->get<int>() >= 0)
      answer.remaining_contracts = remaining->get<int>();
    answer.accepted = true;
    return answer;
  }

 private:
  std::string url_, credentials_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

std::unique_ptr<ProvisioningService> http_provisioning_service(std::string url,
                                                               std::string credentials,
                                                               std::chrono::milliseconds timeout) {
  return std::make_unique<HttpProvisioningService>(std::move(url), std::move(credentials), timeout);
}

}  // namespace chargegrid::server::plug_and_charge

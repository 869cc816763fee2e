#include "ledger_adapters/webhook.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

#include "chargegrid/ledger/codec.hpp"
#include "ledger_adapters/http_client.hpp"

namespace chargegrid::server::ledger_adapters {

std::string webhook_signature(const std::string& secret, const std::string& id,
                              std::int64_t timestamp, std::string_view body) {
  std::string_view encoded = secret;
  if (encoded.rfind("whsec_", 0) == 0) encoded.remove_prefix(6);
  auto key = ledger::base64_decode(encoded);
  if (!key || key->empty()) throw std::invalid_argument("the webhook secret is not base64");
  std::string message = id + "." + std::to_string(timestamp) + ".";
  message.append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!HMAC(EVP_sha256(), key->data(), static_cast<int>(key->size()),
            reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &length))
    throw std::runtime_error("HMAC-SHA256 failed");
  return "v1," + ledger::base64_encode(mac, length);
}

WebhookAdapter::WebhookAdapter(std::string url, std::string secret,
                               std::chrono::milliseconds timeout)
    : url_(std::move(url)), secret_(std::move(secret)), timeout_(timeout) {
  parse_url(url_);
  webhook_signature(secret_, "check", 0, "");  // a bad secret fails at start, not per delivery
}

nlohmann::json WebhookAdapter::deliver(std::uint64_t index, std::string_view record,
                                       const std::string& idempotency_key) {
  const auto timestamp = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const std::string body(record);
  auto answer = http_post(
      url_,
      {{"webhook-id", idempotency_key},
       {"webhook-timestamp", std::to_string(timestamp)},
       {"webhook-signature", webhook_signature(secret_, idempotency_key, timestamp, body)},
       {"chargegrid-log-index", std::to_string(index)}},
      body, timeout_);
  if (answer.status < 200 || answer.status > 299)
    throw std::runtime_error("the webhook answered " + std::to_string(answer.status));
  return nullptr;
}

}  // namespace chargegrid::server::ledger_adapters

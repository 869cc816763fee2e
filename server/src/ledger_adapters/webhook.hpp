#pragma once
// The webhook adapter: each log entry POSTed to a URL, its body the canonical record exactly
// as the log holds it, signed as the Standard Webhooks specification says — webhook-id (the
// settlement id: the same on every retry, so the receiver can deduplicate), webhook-timestamp
// (Unix seconds) and webhook-signature "v1,<base64 HMAC-SHA256 over id.timestamp.body>" with
// the whsec_ secret. Anything but a 2xx answer is a failure, retried until one comes.

#include <chrono>
#include <cstdint>
#include <string>

#include "ledger_adapters/adapter.hpp"

namespace chargegrid::server::ledger_adapters {

// "v1,<base64>" for the message; `secret` is "whsec_<base64 key>" (a bare base64 key also
// works). Throws std::invalid_argument when the key is not base64.
std::string webhook_signature(const std::string& secret, const std::string& id,
                              std::int64_t timestamp, std::string_view body);

class WebhookAdapter : public LedgerAdapter {
 public:
  WebhookAdapter(std::string url, std::string secret,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10));
  const std::string& name() const override { return name_; }
  nlohmann::json deliver(std::uint64_t index, std::string_view record,
                         const std::string& idempotency_key) override;
  nlohmann::json describe() const override { return {{"url", url_}}; }

 private:
  const std::string name_ = "webhook";
  std::string url_;
  std::string secret_;
  std::chrono::milliseconds timeout_;
};

}  // namespace chargegrid::server::ledger_adapters

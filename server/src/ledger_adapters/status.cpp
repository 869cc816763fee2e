#include "ledger_adapters/status.hpp"

#include "chargegrid/ledger/codec.hpp"
#include "chargegrid/server/config.hpp"
#include "ledger_adapters/dispatcher.hpp"
#include "store/ledger_adapters.hpp"
#include "store/ledger_log.hpp"
#include "store/outbox.hpp"

namespace chargegrid::server::ledger_adapters {

using nlohmann::json;

namespace {

bool checkpoint_feed(const std::string& adapter) {
  return adapter == "evm";
}

json target_of(const std::string& adapter, const Config& config) {
  if (adapter == "webhook") return {{"url", config.webhook_url}};
  if (adapter == "file") return {{"path", config.ledger_file}};
  if (adapter == "evm") {
    json out{{"rpc_url", config.evm_rpc_url}, {"chain_id", config.evm_chain_id}};
    if (!config.evm_contract.empty()) out["contract"] = config.evm_contract;
    return out;
  }
  return json::object();
}

json anchor_json(const store::ledger_adapters::Anchor& a) {
  json out{{"adapter", a.adapter},    {"size", a.size},       {"chain_id", a.chain_id},
           {"contract", a.contract},  {"tx_hash", a.tx_hash}, {"anchored_at", a.anchored_at},
           {"block_number", nullptr}, {"block_hash", nullptr}};
  if (a.block_number) out["block_number"] = *a.block_number;
  if (a.block_hash) out["block_hash"] = *a.block_hash;
  return out;
}

json optional_text(const std::optional<std::string>& text) {
  return text ? json(*text) : json(nullptr);
}

}  // namespace

std::vector<AdapterStatus> adapter_statuses(store::Tx& tx, const Config& config) {
  std::vector<AdapterStatus> out;
  if (config.ledger_adapters.empty()) return out;
  std::vector<store::outbox::Backlog> backlog = store::outbox::backlog(tx);
  auto states = store::ledger_adapters::states(tx);
  const bool log_exists = store::ledger_log::exists(tx);
  for (const auto& name : config.ledger_adapters) {
    AdapterStatus s;
    s.name = name;
    s.feed = checkpoint_feed(name) ? "checkpoints" : "entries";
    std::optional<store::ledger_adapters::State> state;
    for (const auto& st : states)
      if (st.adapter == name) state = st;
    if (state) {
      s.next_index = state->next_index;
      s.delivered = state->delivered;
      s.delivered_at = state->last_delivered_at;
    }
    if (checkpoint_feed(name)) {
      if (log_exists) {
        if (state) {
          auto b = store::ledger_adapters::checkpoint_backlog(tx, state->next_index);
          s.pending = b.pending;
          s.oldest_pending_age_s = b.oldest_age_s;
        } else if (auto latest = store::ledger_log::latest_checkpoint(tx);
                   latest && latest->size > 0) {
          s.pending = 1;
          s.oldest_pending_age_s = latest->age_s;
        }
      }
      if (state) s.last_error = state->last_error;
    } else {
      for (const auto& b : backlog)
        if (b.consumer == consumer_name(name)) {
          s.pending = b.pending;
          s.oldest_pending_age_s = b.oldest_age_s;
        }
      if (s.pending > 0)
        s.last_error = store::ledger_adapters::pending_error(tx, consumer_name(name));
    }
    if (s.pending > 0)
      s.state = s.oldest_pending_age_s > config.ledger_alert_after_s ? "alert" : "pending";
    out.push_back(std::move(s));
  }
  return out;
}

json status_json(store::Tx& tx, const Config& config) {
  json log{{"size", 0},
           {"checkpoint", nullptr},
           {"verifier_key", nullptr},
           {"checkpoint_interval_s", config.checkpoint_interval_s}};
  if (store::ledger_log::exists(tx)) {
    log["size"] = store::ledger_log::size(tx);
    if (auto latest = store::ledger_log::latest_checkpoint(tx)) {
      json anchors = json::array();
      for (const auto& a : store::ledger_adapters::anchors(tx, 20))
        if (a.size == latest->size) anchors.push_back(anchor_json(a));
      log["checkpoint"] = {{"size", latest->size},
                           {"root", ledger::base64_encode(latest->root)},
                           {"published_at", latest->published_at},
                           {"anchors", anchors}};
    }
  }
  log["verifier_key"] = optional_text(store::ledger_adapters::signer(tx));
  json last_anchor = nullptr;
  if (auto anchors = store::ledger_adapters::anchors(tx, 1); !anchors.empty())
    last_anchor = anchor_json(anchors.front());
  log["last_anchor"] = last_anchor;

  json adapters = json::array();
  for (const auto& s : adapter_statuses(tx, config)) {
    adapters.push_back({{"name", s.name},
                        {"feed", s.feed},
                        {"state", s.state},
                        {"pending", s.pending},
                        {"oldest_pending_age_s", s.oldest_pending_age_s},
                        {"next_index", s.next_index},
                        {"delivered", s.delivered},
                        {"delivered_at", optional_text(s.delivered_at)},
                        {"last_error", optional_text(s.last_error)},
                        {"target", target_of(s.name, config)}});
  }
  return {{"log", log}, {"alert_after_s", config.ledger_alert_after_s}, {"adapters", adapters}};
}

json delivery_of(store::Tx& tx, const Config& config, std::uint64_t log_index) {
  json out = json::array();
  auto states = store::ledger_adapters::states(tx);
  for (const auto& name : config.ledger_adapters) {
    json item{{"name", name}, {"state", "pending"}, {"delivered_at", nullptr}};
    if (checkpoint_feed(name)) {
      if (auto anchor = store::ledger_adapters::anchor_covering(tx, name, log_index)) {
        item["state"] = "delivered";
        item["delivered_at"] = anchor->anchored_at;
        item["anchor"] = anchor_json(*anchor);
      }
    } else {
      for (const auto& st : states)
        if (st.adapter == name && log_index < st.next_index) {
          item["state"] = "delivered";
          item["delivered_at"] = optional_text(st.last_delivered_at);
        }
    }
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace chargegrid::server::ledger_adapters

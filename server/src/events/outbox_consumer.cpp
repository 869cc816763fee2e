#include "events/outbox_consumer.hpp"

#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <random>

#include "chargegrid/base/text.hpp"
#include "chargegrid/db/errors.hpp"
#include "chargegrid/db/pool.hpp"
#include "logging.hpp"

namespace chargegrid::server {

namespace {

// 1 s, 2 s, 4 s ... up to `cap`, with up to 25 % jitter so that many rows do not retry
// in step.
std::chrono::milliseconds backoff(int attempts, std::chrono::seconds cap) {
  const auto base = std::chrono::milliseconds(1000) * (1LL << std::min(attempts, 20));
  const auto capped = std::min<std::chrono::milliseconds>(base, cap);
  thread_local std::mt19937 random{std::random_device{}()};
  std::uniform_int_distribution<long long> jitter(0, capped.count() / 4);
  return capped + std::chrono::milliseconds(jitter(random));
}

// The process's consumers by name, for wake_all. A process normally runs one server; where it
// runs several (tests), a wake for a name reaches each, which only costs an empty round.
std::mutex registry_mutex;
std::multimap<std::string, OutboxConsumer*>& registry() {
  static std::multimap<std::string, OutboxConsumer*> consumers;
  return consumers;
}

}  // namespace

void OutboxConsumer::wake_all(const std::string& name) {
  std::lock_guard lock(registry_mutex);
  auto& consumers = registry();
  if (name.empty()) {
    for (auto& [consumer_name, consumer] : consumers) consumer->wake();
    return;
  }
  const auto [first, last] = consumers.equal_range(name);
  for (auto it = first; it != last; ++it) it->second->wake();
}

OutboxConsumer::~OutboxConsumer() {
  std::lock_guard lock(registry_mutex);
  auto& consumers = registry();
  const auto [first, last] = consumers.equal_range(name_);
  for (auto it = first; it != last; ++it)
    if (it->second == this) {
      consumers.erase(it);
      break;
    }
}

OutboxConsumer::OutboxConsumer(boost::asio::io_context& io, db::ConnectionPool& pool,
                               std::string name, std::vector<std::string> topics, Handler handler,
                               Options options)
    : name_(std::move(name)),
      topics_(std::move(topics)),
      handler_(std::move(handler)),
      options_(options),
      job_(io, pool, options.poll_interval, [this](pqxx::connection_base& c) { return round(c); }) {
  std::lock_guard lock(registry_mutex);
  registry().emplace(name_, this);
}

bool OutboxConsumer::round(pqxx::connection_base& c) {
  int handled = 0;
  try {
    if (!subscribed_) {
      pqxx::work tx(c);
      for (const auto& topic : topics_)
        store::outbox::subscribe(tx, name_, topic, options_.deliver_after);
      tx.commit();
      subscribed_ = true;
    }
    for (; handled < options_.rows_per_round; ++handled) {
      if (job_.stopping()) break;
      store::outbox::Row failed_row;
      std::string error;
      {
        pqxx::work tx(c);
        auto rows = store::outbox::claim(tx, name_, 1);
        if (rows.empty()) break;
        auto& row = rows.front();
        try {
          handler_(tx, row);
          store::outbox::done(tx, row.id);
          tx.commit();
          ++processed_;
          continue;
        } catch (const std::exception& e) {
          // The database's own trouble ends the round; the row is claimed again later.
          if (db::classify_failure(e) == db::FailureKind::Transient) throw;
          failed_row = row;
          error = base::first_line(e.what());
        }
      }  // the failed attempt's work is rolled back
      pqxx::work tx(c);
      const auto wait = backoff(failed_row.attempts, options_.max_backoff);
      store::outbox::failed(tx, failed_row.id, error, wait);
      tx.commit();
      ++failures_;
      log::warn("outbox_event_failed", {{"consumer", name_},
                                        {"outbox_id", failed_row.id},
                                        {"topic", failed_row.topic},
                                        {"attempt", failed_row.attempts + 1},
                                        {"retry_in_ms", wait.count()},
                                        {"error", error}});
    }
  } catch (const std::exception& e) {
    log::debug("outbox_round_failed", {{"consumer", name_}, {"error", base::first_line(e.what())}});
  }
  return handled == options_.rows_per_round;  // a full round: more may wait
}

}  // namespace chargegrid::server

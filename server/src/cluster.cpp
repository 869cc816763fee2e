#include "cluster.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <cerrno>
#include <random>

#include "connections/station_connection.hpp"
#include "logging.hpp"

namespace chargegrid::server {

namespace asio = boost::asio;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kPollInterval = std::chrono::seconds(1);  // a routed command's fallback check
constexpr auto kRoutingGrace = std::chrono::seconds(2);  // on top of the holder's call timeout

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

// HOST:PID, with what a node id may not hold replaced and the host shortened to fit.
std::string default_node_id() {
  std::string host = host_name();
  for (char& c : host)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '-';
  const std::string pid = std::to_string(::getpid());
  if (host.size() + 1 + pid.size() > 48) host.resize(48 - 1 - pid.size());
  return host + ":" + pid;
}

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

bool process_alive(int pid) {
  return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
}

}  // namespace

std::string pg_text_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char ch : items[i]) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  out += '}';
  return out;
}

struct Cluster::Waiter {
  explicit Waiter(asio::any_io_executor executor) : timer(std::move(executor)) {}
  asio::steady_timer timer;
  std::atomic<bool> woken{false};
};

class Cluster::Receiver : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, const std::string& channel, std::vector<std::string>& inbox)
      : pqxx::notification_receiver(c, channel), inbox_(inbox) {}
  void operator()(const std::string& payload, int) override { inbox_.push_back(payload); }

 private:
  std::vector<std::string>& inbox_;
};

Cluster::Cluster(const Config& config, std::string database_url, db::ConnectionPool& pool,
                 Database& database, StationRegistry& stations, Metrics& metrics)
    : config_(config),
      url_(std::move(database_url)),
      pool_(pool),
      database_(database),
      stations_(stations),
      node_id_(config.node_id.empty() ? default_node_id() : config.node_id),
      heartbeat_interval_(std::max<std::int64_t>(200, config.lease_timeout_s * 1000 / 5)) {
  std::random_device random;
  incarnation_ =
      static_cast<std::int64_t>((static_cast<std::uint64_t>(random()) << 31) ^ random()) &
      0x7fffffffffffffffLL;
  if (enabled()) metrics.add_gauge_source([this](std::string& out) { render_metrics(out); });
}

Cluster::~Cluster() {
  stop();
}

std::string Cluster::channel(const std::string& node) {
  return "chargegrid:" + node;
}

// --- Registration, heartbeat, expiry ---

void Cluster::start(std::uint16_t ocpp_port, std::uint16_t http_port) {
  if (!enabled() || started_) return;
  ocpp_port_ = ocpp_port;
  http_port_ = http_port;
  {
    pqxx::connection c(url_);
    register_node(c);
  }
  started_ = true;
  log::info("cluster_node_started", {{"node", node_id_},
                                     {"lease_timeout_s", config_.lease_timeout_s},
                                     {"heartbeat_ms", heartbeat_interval_.count()}});
  listener_ = std::thread([this] { run_listener(); });
}

void Cluster::register_node(pqxx::connection& c) {
  pqxx::work tx(c);
  const auto host = host_name();
  auto existing = tx.exec_params(
      "SELECT host, pid, heartbeat_at > now() - lease_timeout FROM cluster_nodes WHERE id = $1 "
      "FOR UPDATE",
      node_id_);
  if (!existing.empty() && existing[0][2].as<bool>()) {
    const auto other_host = existing[0][0].as<std::string>();
    const int other_pid = existing[0][1].as<int>();
    // A live node elsewhere, or another live process here, uses this id.
    if (other_host != host || (other_pid != ::getpid() && process_alive(other_pid)))
      throw std::runtime_error("node id '" + node_id_ + "' is in use by " + other_host + ":" +
                               std::to_string(other_pid) +
                               " (its heartbeat is recent): choose another --node-id, or wait "
                               "--lease-timeout seconds after it stopped");
  }
  // What a previous process under this id left: leases of connections it no longer has, and
  // commands routed to it that it will never finish.
  auto freed = tx.exec_params(
      "UPDATE stations SET held_by = NULL, connected_since = NULL WHERE held_by = $1", node_id_);
  tx.exec_params(
      "UPDATE command_log SET outcome = 'offline', completed_at = now(), dispatch = NULL, "
      "response = jsonb_build_object('description', 'the node holding the station restarted') "
      "WHERE routed_to = $1 AND outcome = 'pending'",
      node_id_);
  tx.exec_params(
      R"(INSERT INTO cluster_nodes (id, incarnation, host, pid, ocpp_port, http_port, lease_timeout)
         VALUES ($1, $2, $3, $4, $5, $6, make_interval(secs => $7))
         ON CONFLICT (id) DO UPDATE SET
           incarnation = excluded.incarnation, host = excluded.host, pid = excluded.pid,
           ocpp_port = excluded.ocpp_port, http_port = excluded.http_port,
           lease_timeout = excluded.lease_timeout, started_at = now(), heartbeat_at = now())",
      node_id_, incarnation_, host, static_cast<int>(::getpid()), static_cast<int>(ocpp_port_),
      static_cast<int>(http_port_), config_.lease_timeout_s);
  tx.commit();
  if (freed.affected_rows() > 0)
    log::info("cluster_stale_leases_cleared",
              {{"node", node_id_}, {"stations", freed.affected_rows()}});
}

void Cluster::heartbeat(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  auto beat = tx.exec_params(
      "UPDATE cluster_nodes SET heartbeat_at = now() WHERE id = $1 AND incarnation = $2", node_id_,
      incarnation_);
  if (beat.affected_rows() == 0) {
    // Declared dead (a long outage or pause): its leases were ended. Join again and take
    // back the leases of the connections still here that no other node took.
    auto taken = tx.exec_params(
        R"(INSERT INTO cluster_nodes (id, incarnation, host, pid, ocpp_port, http_port, lease_timeout)
           VALUES ($1, $2, $3, $4, $5, $6, make_interval(secs => $7))
           ON CONFLICT (id) DO NOTHING)",
        node_id_, incarnation_, host_name(), static_cast<int>(::getpid()),
        static_cast<int>(ocpp_port_), static_cast<int>(http_port_), config_.lease_timeout_s);
    if (taken.affected_rows() == 0) {
      ++heartbeats_failed_;
      log::error("cluster_node_id_taken",
                 {{"node", node_id_}, {"error", "another process registered this node id"}});
      healthy_since_.reset();
      return;
    }
    log::warn("cluster_node_rejoined", {{"node", node_id_}});
    reconcile_leases(c, false);
  }
  if (!healthy_since_) healthy_since_ = Clock::now();
}

void Cluster::expire_dead_nodes(pqxx::connection& c) {
  const auto timeout = std::chrono::seconds(config_.lease_timeout_s);
  if (!healthy_since_ || Clock::now() - *healthy_since_ < timeout) return;
  pqxx::work tx(c);
  auto dead = tx.exec_params(
      R"(WITH dead AS (
           DELETE FROM cluster_nodes WHERE id <> $1 AND heartbeat_at < now() - lease_timeout
           RETURNING id),
         freed AS (
           UPDATE stations SET held_by = NULL, connected_since = NULL
            WHERE held_by IN (SELECT id FROM dead) RETURNING held_by)
         SELECT d.id, (SELECT count(*) FROM freed f WHERE f.held_by = d.id) FROM dead d)",
      node_id_);
  // Commands whose requesting node died before it could give up on them.
  tx.exec_params(
      "UPDATE command_log SET outcome = 'timeout', completed_at = now(), dispatch = NULL "
      "WHERE outcome = 'pending' AND routed_to IS NOT NULL "
      "AND created_at < now() - make_interval(secs => $1)",
      2 * config_.call_timeout_s + config_.lease_timeout_s);
  tx.commit();
  for (const auto& row : dead) {
    ++nodes_expired_;
    log::warn("cluster_node_expired", {{"node", row[0].as<std::string>()},
                                       {"stations_released", row[1].as<std::int64_t>()},
                                       {"by", node_id_}});
  }
}

void Cluster::stop() {
  {
    std::lock_guard lock(stop_mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_signal_.notify_all();
  if (listener_.joinable()) listener_.join();
  if (!started_) return;
  try {
    pqxx::connection c(url_);
    pqxx::work tx(c);
    auto freed = tx.exec_params(
        "UPDATE stations SET held_by = NULL, connected_since = NULL WHERE held_by = $1", node_id_);
    tx.exec_params("DELETE FROM cluster_nodes WHERE id = $1 AND incarnation = $2", node_id_,
                   incarnation_);
    tx.commit();
    log::info("cluster_node_left",
              {{"node", node_id_}, {"leases_released", freed.affected_rows()}});
  } catch (const std::exception& e) {
    log::warn("cluster_leave_failed", {{"node", node_id_}, {"error", first_line(e.what())}});
  }
}

bool Cluster::stopping() {
  std::lock_guard lock(stop_mutex_);
  return stopping_;
}

void Cluster::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lock(stop_mutex_);
  stop_signal_.wait_for(lock, d, [this] { return stopping_; });
}

// --- The listener ---

void Cluster::run_listener() {
  std::chrono::milliseconds backoff{100};
  bool reconnecting = false;
  while (!stopping()) {
    try {
      pqxx::connection c(url_);
      std::vector<std::string> inbox;
      Receiver receiver(c, channel(node_id_), inbox);
      if (reconnecting) {
        ++listener_reconnects_;
        log::info("cluster_listener_reconnected", {{"node", node_id_}});
      }
      heartbeat(c);
      // NOTIFYs sent while the listener was away are lost: look again.
      rescan_commands(c);
      if (reconnecting) reconcile_leases(c, false);
      reconnecting = true;
      backoff = std::chrono::milliseconds(100);
      auto next_heartbeat = Clock::now() + heartbeat_interval_;
      auto next_unleased = Clock::now() + std::chrono::seconds(config_.lease_timeout_s);
      auto next_audit = Clock::now() + 4 * std::chrono::seconds(config_.lease_timeout_s);
      while (!stopping()) {
        c.await_notification(0, 200'000);
        if (!c.is_open()) throw pqxx::broken_connection("the listening connection closed");
        auto messages = std::move(inbox);
        inbox.clear();
        for (const auto& message : messages) handle(c, message);
        const auto now = Clock::now();
        if (now >= next_heartbeat) {
          heartbeat(c);
          expire_dead_nodes(c);
          next_heartbeat = now + heartbeat_interval_;
        }
        if (now >= next_unleased) {
          reconcile_leases(c, true);
          next_unleased = now + std::chrono::seconds(config_.lease_timeout_s);
        }
        if (now >= next_audit) {
          release_orphaned_leases(c);
          next_audit = now + 4 * std::chrono::seconds(config_.lease_timeout_s);
        }
      }
    } catch (const std::exception& e) {
      ++heartbeats_failed_;
      healthy_since_.reset();
      log::warn("cluster_listener_failed", {{"node", node_id_}, {"error", first_line(e.what())}});
      sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
  }
}

void Cluster::handle(pqxx::connection& c, const std::string& payload) {
  ++notifications_;
  auto ignore = [&](const char* reason) {
    ++notifications_ignored_;
    log::warn("cluster_notification_ignored",
              {{"node", node_id_}, {"reason", reason}, {"payload", payload.substr(0, 200)}});
  };
  const auto message = json::parse(payload, nullptr, false);
  if (!message.is_object() || !message.contains("op") || !message["op"].is_string())
    return ignore("not a JSON object with an op");
  const auto op = message["op"].get<std::string>();
  auto integer = [&](const char* key) -> std::optional<std::int64_t> {
    auto it = message.find(key);
    if (it == message.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<std::int64_t>();
  };
  auto text = [&](const char* key) -> std::optional<std::string> {
    auto it = message.find(key);
    if (it == message.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  try {
    if (op == "command") {
      const auto id = integer("id");
      if (!id) return ignore("command without an integer id");
      dispatch_command(c, *id);
    } else if (op == "result") {
      const auto id = integer("id");
      if (!id) return ignore("result without an integer id");
      wake_waiter(*id);
    } else if (op == "release") {
      const auto station = text("station");
      const auto epoch = integer("epoch");
      if (!station || !epoch) return ignore("release without station and epoch");
      if (auto connection = stations_.release_lease(*station, *epoch)) {
        ++leases_lost_;
        log::info("station_lease_moved", {{"station", *station}, {"epoch", *epoch}});
        connection->close(boost::beast::websocket::close_code::policy_error,
                          "connected to another node");
      }
    } else if (op == "close") {
      const auto station = text("station");
      if (!station) return ignore("close without a station");
      if (auto connection = stations_.find(*station))
        connection->close(boost::beast::websocket::close_code::policy_error,
                          text("reason").value_or("closed by the CSMS"));
    } else if (op == "registration") {
      const auto station = text("station");
      const auto registration = text("registration");
      if (!station || !registration) return ignore("registration without station and value");
      if (auto connection = stations_.find(*station)) apply_registration(connection, *registration);
    } else {
      return ignore("unknown op");
    }
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const std::exception& e) {
    ++notifications_ignored_;
    log::warn("cluster_notification_failed",
              {{"node", node_id_}, {"op", op}, {"error", first_line(e.what())}});
  }
}

void apply_registration(const std::shared_ptr<StationConnection>& connection,
                        const std::string& registration) {
  if (registration == "accepted") {
    // An approved station that waits in Pending is asked to boot again now.
    connection->set_registration(StationConnection::Registration::Accepted);
    connection->call("TriggerMessage", {{"requestedMessage", "BootNotification"}},
                     [](CallOutcome) {});
  } else if (registration == "rejected") {
    connection->close(boost::beast::websocket::close_code::policy_error, "registration rejected");
  }
}

// --- Leases ---

void Cluster::notify_previous_holder(pqxx::transaction_base& tx, const std::string& station_id,
                                     const std::optional<std::string>& previous,
                                     std::int64_t epoch) const {
  if (!previous || *previous == node_id_) return;
  const json message{{"op", "release"}, {"station", station_id}, {"epoch", epoch}};
  tx.exec_params("SELECT pg_notify($1, $2)", channel(*previous), message.dump());
}

std::int64_t Cluster::take_lease(pqxx::transaction_base& tx, const std::string& station_id) const {
  auto rows = tx.exec_params(
      R"(WITH previous AS (SELECT id, held_by FROM stations WHERE id = $1 FOR UPDATE)
         UPDATE stations s SET held_by = $2, lease_epoch = s.lease_epoch + 1,
                               lease_acquired_at = now()
           FROM previous p WHERE s.id = p.id
         RETURNING s.lease_epoch, p.held_by)",
      station_id, node_id_);
  if (rows.empty()) return 0;
  const auto epoch = rows[0][0].as<std::int64_t>();
  std::optional<std::string> previous;
  if (!rows[0][1].is_null()) previous = rows[0][1].as<std::string>();
  notify_previous_holder(tx, station_id, previous, epoch);
  return epoch;
}

void Cluster::lease_taken(const std::string& station_id, std::int64_t epoch,
                          const std::shared_ptr<StationConnection>& connection) {
  switch (stations_.record_lease(station_id, epoch)) {
    case StationRegistry::LeaseRecord::Kept:
      if (epoch > 0) ++takeovers_;
      break;
    case StationRegistry::LeaseRecord::Lost:
      ++leases_lost_;
      log::info("station_lease_moved", {{"station", station_id}, {"epoch", epoch}});
      connection->close(boost::beast::websocket::close_code::policy_error,
                        "connected to another node");
      break;
    case StationRegistry::LeaseRecord::NoConnection:
      if (epoch > 0) connection_ended(station_id, epoch);
      break;
  }
}

void Cluster::connection_ended(const std::string& station_id, std::int64_t epoch) {
  pool_.try_submit([id = station_id, node = node_id_, epoch](pqxx::connection& c) {
    pqxx::work tx(c);
    // Only this node's lease, and only up to the epoch the ended connection knew: a newer
    // connection here, or any connection elsewhere, keeps the station online.
    tx.exec_params(
        "UPDATE stations SET connected_since = NULL, held_by = NULL "
        "WHERE id = $1 AND ((held_by = $2 AND lease_epoch <= $3) OR held_by IS NULL)",
        id, node, epoch);
    tx.commit();
  });
}

void Cluster::reconcile_leases(pqxx::connection& c, bool unleased_only) {
  const auto held = stations_.held();
  std::vector<std::string> ids;
  const auto settled = Clock::now() - heartbeat_interval_;
  for (const auto& h : held) {
    if (h.takeovers_pending > 0) continue;  // its own take-over decides
    if (unleased_only && (h.lease_epoch > 0 || h.attached_at > settled)) continue;
    ids.push_back(h.station_id);
  }
  if (ids.empty()) return;
  const auto array = pg_text_array(ids);
  pqxx::work tx(c);
  // Stations another live node holds are not this node's: their connections here are stale.
  auto elsewhere = tx.exec_params(
      "SELECT s.id, s.lease_epoch FROM stations s JOIN cluster_live_nodes n ON n.id = s.held_by "
      "WHERE s.id = ANY($1::text[]) AND s.held_by <> $2",
      array, node_id_);
  auto taken = tx.exec_params(
      R"(UPDATE stations s SET held_by = $2, lease_epoch = s.lease_epoch + 1,
                               lease_acquired_at = now(),
                               connected_since = coalesce(s.connected_since, now())
          WHERE s.id = ANY($1::text[])
            AND (s.held_by IS NULL OR
                 NOT EXISTS (SELECT 1 FROM cluster_live_nodes n WHERE n.id = s.held_by))
         RETURNING s.id, s.lease_epoch)",
      array, node_id_);
  auto mine = tx.exec_params(
      "SELECT id, lease_epoch FROM stations WHERE id = ANY($1::text[]) AND held_by = $2", array,
      node_id_);
  tx.commit();
  for (const auto& row : mine)
    stations_.confirm_lease(row[0].as<std::string>(), row[1].as<std::int64_t>());
  for (const auto& row : elsewhere) {
    const auto station = row[0].as<std::string>();
    if (auto connection = stations_.drop_lease(station, row[1].as<std::int64_t>())) {
      ++leases_lost_;
      log::info("station_lease_moved", {{"station", station}, {"epoch", row[1].as<long>()}});
      connection->close(boost::beast::websocket::close_code::policy_error,
                        "connected to another node");
    }
  }
  if (!taken.empty())
    log::info("cluster_leases_taken_back", {{"node", node_id_}, {"stations", taken.size()}});
}

void Cluster::release_orphaned_leases(pqxx::connection& c) {
  // Leases this node holds in the database for stations it has no connection to (a
  // take-over whose transaction committed although its answer was lost).
  pqxx::work tx(c);
  auto rows = tx.exec_params(
      "SELECT id, lease_epoch FROM stations WHERE held_by = $1 AND lease_acquired_at < now() - "
      "make_interval(secs => $2)",
      node_id_, config_.lease_timeout_s);
  std::vector<std::string> ids;
  std::string epochs = "{";
  for (const auto& row : rows) {
    const auto id = row[0].as<std::string>();
    if (stations_.find(id)) continue;
    if (!ids.empty()) epochs += ',';
    ids.push_back(id);
    epochs += std::to_string(row[1].as<std::int64_t>());
  }
  epochs += '}';
  if (ids.empty()) return;
  // A station that connected here since the read above has a higher epoch than it had.
  auto freed = tx.exec_params(
      R"(UPDATE stations s SET held_by = NULL, connected_since = NULL
          FROM unnest($1::text[], $3::bigint[]) AS seen(id, epoch)
         WHERE s.id = seen.id AND s.held_by = $2 AND s.lease_epoch <= seen.epoch)",
      pg_text_array(ids), node_id_, epochs);
  tx.commit();
  if (freed.affected_rows() > 0)
    log::info("cluster_orphaned_leases_released",
              {{"node", node_id_}, {"stations", freed.affected_rows()}});
}

// --- Routing ---

std::optional<RemoteHolder> Cluster::remote_holder(pqxx::transaction_base& tx,
                                                   const std::string& station_id) const {
  auto rows = tx.exec_params(
      "SELECT s.held_by, s.lease_epoch, s.protocol FROM stations s "
      "JOIN cluster_live_nodes n ON n.id = s.held_by WHERE s.id = $1 AND s.held_by <> $2",
      station_id, node_id_);
  if (rows.empty()) return std::nullopt;
  RemoteHolder holder;
  holder.node = rows[0][0].as<std::string>();
  holder.epoch = rows[0][1].as<std::int64_t>();
  if (!rows[0][2].is_null())
    if (auto version = protocols::version_from_subprotocol(rows[0][2].as<std::string>()))
      holder.version = *version;
  return holder;
}

void Cluster::notify_command(pqxx::transaction_base& tx, std::int64_t command_id,
                             const RemoteHolder& holder) const {
  const json message{{"op", "command"}, {"id", command_id}};
  tx.exec_params("SELECT pg_notify($1, $2)", channel(holder.node), message.dump());
}

void Cluster::notify_holder(pqxx::transaction_base& tx, const std::string& station_id,
                            const json& message) const {
  tx.exec_params(
      "SELECT pg_notify('chargegrid:' || held_by, $2) FROM stations "
      "WHERE id = $1 AND held_by IS NOT NULL AND held_by <> $3",
      station_id, message.dump(), node_id_);
}

void Cluster::rescan_commands(pqxx::connection& c) {
  std::vector<std::int64_t> ids;
  {
    pqxx::nontransaction tx(c);
    auto rows = tx.exec_params(
        "SELECT id FROM command_log WHERE routed_to = $1 AND outcome = 'pending' "
        "AND dispatched_at IS NULL ORDER BY id",
        node_id_);
    for (const auto& row : rows) ids.push_back(row[0].as<std::int64_t>());
  }
  if (!ids.empty())
    log::info("cluster_commands_found", {{"node", node_id_}, {"commands", ids.size()}});
  for (auto id : ids) dispatch_command(c, id);
}

void Cluster::dispatch_command(pqxx::connection& c, std::int64_t command_id) {
  pqxx::work tx(c);
  // Taken on once: a command is never sent twice, whichever notification or scan finds it.
  auto rows = tx.exec_params(
      "UPDATE command_log SET dispatched_at = now() WHERE id = $1 AND routed_to = $2 "
      "AND outcome = 'pending' AND dispatched_at IS NULL "
      "RETURNING station_id, ocpp_action, dispatch::text",
      command_id, node_id_);
  tx.commit();
  if (rows.empty()) {
    ++notifications_ignored_;
    log::warn("cluster_command_ignored",
              {{"node", node_id_},
               {"command_id", command_id},
               {"reason", "no pending command routed to this node has this id"}});
    return;
  }
  const auto station = rows[0][0].as<std::string>();
  const auto action = rows[0][1].is_null() ? std::string() : rows[0][1].as<std::string>();
  auto payload = rows[0][2].is_null() ? json() : json::parse(rows[0][2].as<std::string>());
  auto connection = stations_.find(station);
  if (!connection || action.empty() || !payload.is_object()) {
    finish_command(command_id, {CallOutcome::Kind::Disconnected, json::object()});
    return;
  }
  log::debug("cluster_command_dispatched",
             {{"station", station}, {"command_id", command_id}, {"action", action}});
  connection->call(action, std::move(payload), [this, command_id](CallOutcome outcome) {
    finish_command(command_id, outcome);
  });
}

void Cluster::finish_command(std::int64_t command_id, const CallOutcome& outcome) {
  const std::string name = outcome_name(outcome.kind);
  count_outcome("in", name);
  const bool queued = pool_.try_submit(
      [command_id, name, response = outcome.payload.dump()](pqxx::connection& c) {
        pqxx::work tx(c);
        const json wake{{"op", "result"}, {"id", command_id}};
        tx.exec_params(
            R"(WITH done AS (
                 UPDATE command_log SET outcome = $2, response = $3::jsonb,
                                        completed_at = now(), dispatch = NULL
                  WHERE id = $1 AND outcome = 'pending' RETURNING routed_from)
               SELECT pg_notify('chargegrid:' || routed_from, $4) FROM done
                WHERE routed_from IS NOT NULL)",
            command_id, name, response, wake.dump());
        tx.commit();
      },
      [command_id](std::exception_ptr error) {
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          log::warn("cluster_command_outcome_lost",
                    {{"command_id", command_id}, {"error", first_line(e.what())}});
        }
      });
  if (!queued)
    log::warn("cluster_command_outcome_lost",
              {{"command_id", command_id}, {"error", "the database queue is full"}});
}

void Cluster::wake_waiter(std::int64_t command_id) {
  std::shared_ptr<Waiter> waiter;
  {
    std::lock_guard lock(waiters_mutex_);
    auto it = waiters_.find(command_id);
    if (it == waiters_.end()) return;  // it gave up already
    waiter = it->second;
  }
  waiter->woken = true;
  asio::post(waiter->timer.get_executor(), [waiter] { waiter->timer.cancel(); });
}

asio::awaitable<CallOutcome> Cluster::await_outcome(std::int64_t command_id,
                                                    const RemoteHolder& holder_ref) {
  const RemoteHolder holder = holder_ref;
  auto executor = co_await asio::this_coro::executor;
  auto waiter = std::make_shared<Waiter>(executor);
  {
    std::lock_guard lock(waiters_mutex_);
    waiters_[command_id] = waiter;
  }
  struct Unregister {
    Cluster& cluster;
    std::int64_t id;
    ~Unregister() {
      std::lock_guard lock(cluster.waiters_mutex_);
      cluster.waiters_.erase(id);
    }
  } unregister{*this, command_id};

  struct Check {
    std::string outcome;  // empty: the row is gone
    std::string response;
    bool gave_up = false;
  };
  const auto deadline = Clock::now() + std::chrono::seconds(config_.call_timeout_s) + kRoutingGrace;
  bool database_failed = false;
  for (;;) {
    if (!waiter->woken.exchange(false)) {
      waiter->timer.expires_at(std::min(Clock::now() + kPollInterval, deadline));
      co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    const bool expired = Clock::now() >= deadline;
    auto check_row = [command_id, node = holder.node, expired](pqxx::connection& c) {
      pqxx::work tx(c);
      auto rows = tx.exec_params(
          "SELECT c.outcome, c.response::text, "
          "EXISTS (SELECT 1 FROM cluster_live_nodes n WHERE n.id = $2) "
          "FROM command_log c WHERE c.id = $1",
          command_id, node);
      Check check;
      if (rows.empty()) return check;
      check.outcome = rows[0][0].as<std::string>();
      if (!rows[0][1].is_null()) check.response = rows[0][1].as<std::string>();
      const bool holder_live = rows[0][2].as<bool>();
      if (check.outcome == "pending" && (expired || !holder_live)) {
        // Given up: a late outcome from the holder is not taken for this one.
        const std::string outcome = expired ? "timeout" : "offline";
        const json response = expired
                                  ? json::object()
                                  : json{{"description", "the node holding the station stopped"}};
        auto marked = tx.exec_params(
            "UPDATE command_log SET outcome = $2, response = $3::jsonb, completed_at = now(), "
            "dispatch = NULL WHERE id = $1 AND outcome = 'pending' RETURNING outcome",
            command_id, outcome, response.dump());
        if (!marked.empty()) {
          check.outcome = outcome;
          check.response = response.dump();
          check.gave_up = true;
        } else {
          auto again = tx.exec_params(
              "SELECT outcome, response::text FROM command_log WHERE id = $1", command_id);
          check.outcome = again[0][0].as<std::string>();
          if (!again[0][1].is_null()) check.response = again[0][1].as<std::string>();
        }
      }
      tx.commit();
      return check;
    };
    Check check;
    try {
      check = co_await database_.run(std::move(check_row));
      database_failed = false;
    } catch (const std::exception& e) {
      database_failed = true;
      log::debug("cluster_command_check_failed",
                 {{"command_id", command_id}, {"error", first_line(e.what())}});
    }
    if (!database_failed && check.outcome != "pending") {
      CallOutcome outcome{CallOutcome::Kind::Disconnected, json::object()};
      if (auto kind = outcome_kind(check.outcome)) outcome.kind = *kind;
      if (!check.response.empty()) outcome.payload = json::parse(check.response, nullptr, false);
      if (outcome.payload.is_discarded() || outcome.payload.is_null())
        outcome.payload = json::object();
      count_outcome("out", check.outcome.empty() ? "offline" : check.outcome);
      if (check.gave_up)
        log::info(
            "cluster_command_given_up",
            {{"command_id", command_id}, {"holder", holder.node}, {"outcome", check.outcome}});
      co_return outcome;
    }
    if (expired && database_failed) {
      count_outcome("out", "database_unavailable");
      throw db::DatabaseUnavailable(
          "the database became unreachable while the command was routed to node " + holder.node +
          "; its outcome is unknown (see GET /commands/" + std::to_string(command_id) + " later)");
    }
  }
}

// --- For the API and /metrics ---

json Cluster::nodes(pqxx::transaction_base& tx) const {
  auto rows = tx.exec(R"(
    SELECT coalesce(json_agg(json_build_object(
             'id', n.id, 'host', n.host, 'pid', n.pid, 'ocpp_port', n.ocpp_port,
             'http_port', n.http_port, 'started_at', n.started_at,
             'heartbeat_at', n.heartbeat_at,
             'lease_timeout_s', extract(epoch FROM n.lease_timeout)::integer,
             'live', n.heartbeat_at > now() - n.lease_timeout,
             'stations_held', (SELECT count(*) FROM stations s WHERE s.held_by = n.id))
           ORDER BY n.id), '[]')::text
      FROM cluster_nodes n)");
  return json::parse(rows[0][0].as<std::string>());
}

void Cluster::count_outcome(const std::string& direction, const std::string& outcome) {
  std::lock_guard lock(outcome_mutex_);
  ++routed_outcomes_[direction + "\x1f" + outcome];
}

void Cluster::render_metrics(std::string& out) const {
  auto counter = [&out](const char* name, const char* help, std::uint64_t value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
           " " + std::to_string(value) + "\n";
  };
  out += "# HELP chargegrid_cluster_stations_held Stations whose lease this node holds\n";
  out += "# TYPE chargegrid_cluster_stations_held gauge\n";
  std::size_t held = 0;
  for (const auto& h : stations_.held())
    if (h.lease_epoch > 0) ++held;
  out += "chargegrid_cluster_stations_held " + std::to_string(held) + "\n";
  out +=
      "# HELP chargegrid_cluster_commands_total Commands routed between nodes: out (sent to "
      "the holding node), in (run here for another node), by outcome\n";
  out += "# TYPE chargegrid_cluster_commands_total counter\n";
  {
    std::lock_guard lock(outcome_mutex_);
    for (const auto& [key, n] : routed_outcomes_) {
      const auto split = key.find('\x1f');
      out += "chargegrid_cluster_commands_total{direction=\"" + key.substr(0, split) +
             "\",outcome=\"" + label_value(key.substr(split + 1)) + "\"} " + std::to_string(n) +
             "\n";
    }
  }
  counter("chargegrid_cluster_lease_takeovers_total",
          "Station leases this node took (connects and reconnects)", takeovers_);
  counter("chargegrid_cluster_leases_lost_total",
          "Connections closed here because another node took the station over", leases_lost_);
  counter("chargegrid_cluster_nodes_expired_total",
          "Nodes this node declared dead (heartbeat older than their lease timeout)",
          nodes_expired_);
  counter("chargegrid_cluster_notifications_total", "Notifications received", notifications_);
  counter("chargegrid_cluster_notifications_ignored_total",
          "Notifications malformed, unknown or naming no pending command", notifications_ignored_);
  counter("chargegrid_cluster_listener_failures_total",
          "Times the listening connection failed (database away)", heartbeats_failed_);
  counter("chargegrid_cluster_listener_reconnects_total",
          "Times the listening connection was made again", listener_reconnects_);
}

}  // namespace chargegrid::server

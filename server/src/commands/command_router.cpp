#include "commands/command_router.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

#include "chargegrid/base/text.hpp"
#include "chargegrid/protocols/validation.hpp"
#include "cluster/cluster.hpp"
#include "commands/translation.hpp"
#include "connections/station_connection.hpp"
#include "connections/station_registry.hpp"
#include "events/domain_events.hpp"
#include "events/event_bus.hpp"
#include "group_commit.hpp"
#include "logging.hpp"
#include "store/command_log.hpp"
#include "store/database.hpp"
#include "store/stations.hpp"

namespace chargegrid::server::commands {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

// Waits for the outcome of connection->call(...). Not a coroutine: the arguments are moved
// into the operation before anything suspends.
asio::awaitable<Outcome> call_station(std::shared_ptr<StationConnection> connection,
                                      std::string action, json payload) {
  return asio::async_initiate<const asio::use_awaitable_t<>, void(Outcome)>(
      [connection = std::move(connection), action = std::move(action),
       payload = std::move(payload)](auto handler) mutable {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        auto executor = asio::get_associated_executor(*shared);
        connection->call(std::move(action), std::move(payload), [shared, executor](Outcome o) {
          asio::post(executor, [shared, o = std::move(o)]() mutable { (*shared)(std::move(o)); });
        });
      },
      asio::use_awaitable);
}

// What a command needs read before it is logged: an id (unless the caller reserved one), the
// station's site (unless given) and, in cluster mode for a station not connected here, the
// live node holding it.
struct RouteLookup {
  std::string station_id;
  bool new_id = true;
  bool read_site = true;
  bool find_holder = false;
};
struct RouteFound {
  std::int64_t id = 0;
  std::optional<std::int64_t> site;
  std::optional<RemoteHolder> remote;
};

// The lookups of many commands: one statement for the ids, one for the sites, one for the
// holders.
std::vector<RouteFound> look_up_routes(store::Tx& tx, std::span<const RouteLookup> lookups,
                                       const std::string& self) {
  std::vector<RouteFound> found(lookups.size());
  std::vector<std::size_t> with_id, with_site, with_holder;
  for (std::size_t i = 0; i < lookups.size(); ++i) {
    if (lookups[i].new_id) with_id.push_back(i);
    if (lookups[i].read_site) with_site.push_back(i);
    if (lookups[i].find_holder) with_holder.push_back(i);
  }
  const auto stations_at = [&](const std::vector<std::size_t>& positions) {
    std::vector<std::string> ids;
    ids.reserve(positions.size());
    for (auto i : positions) ids.push_back(lookups[i].station_id);
    return ids;
  };
  // Ascending ids in queue order: commands are numbered in the order they came.
  const auto ids = store::command_log::next_ids(tx, with_id.size());
  for (std::size_t k = 0; k < with_id.size(); ++k) found[with_id[k]].id = ids[k];
  if (!with_site.empty()) {
    const auto sites = store::stations::sites_of(tx, stations_at(with_site));
    for (std::size_t k = 0; k < with_site.size(); ++k) found[with_site[k]].site = sites[k];
  }
  if (!with_holder.empty()) {
    auto holders = store::stations::remote_holders(tx, stations_at(with_holder), self);
    for (std::size_t k = 0; k < with_holder.size(); ++k)
      found[with_holder[k]].remote = std::move(holders[k]);
  }
  return found;
}

std::vector<bool> insert_log_entries(store::Tx& tx,
                                     std::span<const store::command_log::Entry> entries) {
  store::command_log::insert_all(tx, entries);
  return std::vector<bool>(entries.size(), true);
}

std::vector<bool> complete_log_entries(
    store::Tx& tx, std::span<const store::command_log::Completion> completions) {
  store::command_log::complete_all(tx, completions);
  return std::vector<bool>(completions.size(), true);
}

// A command has someone waiting for it: its batch goes at once (no delay), and what queues
// while that one is in flight goes next, together.
GroupCommitOptions router_batches(const char* name, std::size_t items) {
  return {name, items, 0, nullptr};
}

}  // namespace

struct CommandRouter::Batches {
  Batches(asio::io_context& io, db::ConnectionPool& pool, std::size_t items, const Cluster& cluster)
      : lookups(io, pool, router_batches("command_lookup", items),
                [&cluster](store::Tx& tx, std::span<const RouteLookup> batch) {
                  return look_up_routes(tx, batch, cluster.node_id());
                }),
        entries(io, pool, router_batches("command_log", items), insert_log_entries),
        completions(io, pool, router_batches("command_outcome", items), complete_log_entries) {}

  GroupCommit<RouteLookup, RouteFound> lookups;
  GroupCommit<store::command_log::Entry, bool> entries;  // committed before the CALL leaves
  GroupCommit<store::command_log::Completion, bool> completions;
};

CommandRouter::CommandRouter(const Config& config, asio::io_context& io, Database& database,
                             StationRegistry& stations, Cluster& cluster, EventBus& events)
    : config_(config),
      io_(io),
      database_(database),
      stations_(stations),
      cluster_(cluster),
      events_(events),
      batches_(std::make_unique<Batches>(io, database.pool(), config.write_batch_items, cluster)) {
  cluster_.on_routed_command = [this](std::int64_t id) { run_routed(id); };
}

CommandRouter::~CommandRouter() = default;

asio::awaitable<std::int64_t> CommandRouter::reserve_id() {
  RouteLookup lookup;
  lookup.read_site = false;
  auto found = co_await batches_->lookups.write(std::move(lookup));
  co_return found.id;
}

asio::awaitable<std::vector<std::int64_t>> CommandRouter::reserve_ids(std::size_t count) {
  if (count == 0) co_return std::vector<std::int64_t>{};
  co_return co_await database_.transaction(
      [count](store::Tx& tx) { return store::command_log::next_ids(tx, count); });
}

asio::awaitable<CommandResult> CommandRouter::send(StationCommand command,
                                                   std::optional<std::int64_t> command_id) {
  const CommandSpec* spec = nullptr;
  if (command.name != "ocpp") {
    spec = find_command(command.name);
    if (!spec) throw std::invalid_argument("no command named '" + command.name + "'");
  }

  // Where the station is: here, held by another node, or nowhere.
  auto local = stations_.find(command.station_id);
  RouteLookup lookup;
  lookup.station_id = command.station_id;
  lookup.new_id = !command_id;
  lookup.read_site = !command.site_id;
  lookup.find_holder = !local && cluster_.enabled();
  RouteFound found;
  if (lookup.new_id || lookup.read_site || lookup.find_holder)
    found = co_await batches_->lookups.write(std::move(lookup));
  if (command_id) found.id = *command_id;
  if (command.site_id) found.site = command.site_id;

  CommandResult result;
  result.command_id = found.id;
  if (local) result.version = local->version();
  if (found.remote) result.version = found.remote->version;
  json payload;
  if (result.version) {
    if (spec) {
      auto call = spec->translate(command.arguments, *result.version, found.id);
      result.ocpp_action = std::move(call.action);
      payload = std::move(call.payload);
    } else {
      if (!protocols::is_known_action(*result.version, command.ocpp_action))
        throw UnknownAction("OCPP " + std::string(protocols::subprotocol(*result.version)) +
                            " has no action " + command.ocpp_action);
      result.ocpp_action = command.ocpp_action;
      payload = command.arguments;
    }
  }
  command.site_id = found.site;

  // Logged first: a command that cannot be audited is not sent.
  store::command_log::Entry entry;
  entry.id = found.id;
  entry.station_id = command.station_id;
  entry.site_id = found.site;
  entry.api_key_id = command.origin.api_key_id;
  entry.origin = command.origin.service;
  entry.command = command.label.empty() ? command.name : command.label;
  entry.ocpp_action = result.ocpp_action;
  entry.audited = command.audited.is_null() ? command.arguments : command.audited;
  entry.outcome = result.version ? "pending" : "offline";
  if (found.remote) {
    // The holding node reads the payload from the row (dispatch, cleared when the command
    // ends) and writes the outcome there.
    entry.routed_from = cluster_.node_id();
    entry.routed_to = found.remote->node;
    entry.dispatch = payload;
    entry.lease_epoch = found.remote->epoch;
  }
  co_await batches_->entries.write(std::move(entry));
  if (!result.version) {
    result.outcome = {Outcome::Kind::Offline, json::object()};
    co_return result;
  }

  if (found.remote) {
    result.outcome = co_await cluster_.await_outcome(found.id, *found.remote);
  } else {
    result.outcome = co_await call_station(local, result.ocpp_action, std::move(payload));
    try {
      // A named item, not a braced temporary in the co_await: g++ 12 freed that one twice.
      store::command_log::Completion completion{
          found.id, std::string(outcome_name(result.outcome.kind)), result.outcome.payload};
      co_await batches_->completions.write(std::move(completion));
    } catch (const std::exception& e) {
      // The station has acted; the sender must hear its answer even so.
      log::warn("command_audit_failed", {{"command_id", found.id}, {"error", e.what()}});
    }
  }
  publish(command, result);
  co_return result;
}

asio::awaitable<bool> CommandRouter::online(const std::string& station_id) {
  if (stations_.find(station_id)) co_return true;
  if (!cluster_.enabled()) co_return false;
  const auto self = cluster_.node_id();
  auto holder = co_await database_.transaction([&](store::Tx& tx) {
    return store::stations::remote_holder(tx, station_id, self).has_value();
  });
  co_return holder;
}

void CommandRouter::post(StationCommand command, std::function<void(CommandResult)> done) {
  asio::co_spawn(
      io_,
      [this, command = std::move(command),
       done = std::move(done)]() mutable -> asio::awaitable<void> {
        const auto station = command.station_id;
        const auto name = command.name;
        try {
          auto result = co_await send(std::move(command));
          if (done) done(std::move(result));
        } catch (const std::exception& e) {
          log::warn(
              "command_not_sent",
              {{"station", station}, {"command", name}, {"error", base::first_line(e.what())}});
        }
      },
      asio::detached);
}

void CommandRouter::run_routed(std::int64_t command_id) {
  asio::co_spawn(io_, run_routed_command(command_id), asio::detached);
}

asio::awaitable<void> CommandRouter::run_routed_command(std::int64_t command_id) {
  try {
    // Taken on once: a command is never sent twice, whichever notification or scan finds it.
    const auto node = cluster_.node_id();
    auto dispatch = co_await database_.transaction(
        [&](store::Tx& tx) { return store::command_log::take_on(tx, command_id, node); });
    if (!dispatch) {
      cluster_.notification_ignored();
      log::warn("cluster_command_ignored",
                {{"node", node},
                 {"command_id", command_id},
                 {"reason", "no pending command routed to this node has this id"}});
      co_return;
    }
    Outcome outcome{Outcome::Kind::Offline, json::object()};
    auto connection = stations_.find(dispatch->station_id);
    if (connection && !dispatch->ocpp_action.empty() && dispatch->payload.is_object()) {
      log::debug("cluster_command_dispatched", {{"station", dispatch->station_id},
                                                {"command_id", command_id},
                                                {"action", dispatch->ocpp_action}});
      outcome = co_await call_station(connection, dispatch->ocpp_action, dispatch->payload);
    }
    const std::string name(outcome_name(outcome.kind));
    cluster_.count_outcome("in", name);
    co_await database_.transaction([&](store::Tx& tx) {
      store::command_log::finish_routed(tx, command_id, name, outcome.payload);
    });
  } catch (const std::exception& e) {
    log::warn("cluster_command_outcome_lost",
              {{"command_id", command_id}, {"error", base::first_line(e.what())}});
  }
}

void CommandRouter::publish(const StationCommand& command, const CommandResult& result) {
  events::CommandResult event{
      command.station_id,     command.site_id,
      result.command_id,      command.label.empty() ? command.name : command.label,
      result.ocpp_action,     std::string(outcome_name(result.outcome.kind)),
      command.origin.service, std::nullopt};
  if (result.outcome.kind == Outcome::Kind::Answered && result.outcome.payload.contains("status"))
    event.status = result.outcome.payload["status"];
  events_.publish(event);
}

}  // namespace chargegrid::server::commands

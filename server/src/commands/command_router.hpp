#pragma once
// The one way out to a station. Anything that sends a CALL — the REST API, the cluster
// running a command for another node, the server's own services (registration, PKI, smart
// charging) — hands the router a command and gets its outcome:
//   1. the station is found: its connection on this node, or (cluster mode) the live node that
//      holds it, or neither (offline);
//   2. the command is translated into the station's OCPP version (commands/translation.hpp),
//      or sent as it is when it names an OCPP action;
//   3. it is written to the command log with its origin before it is sent;
//   4. it is sent here, or routed to the holding node, which sends it and writes the outcome;
//   5. the outcome goes into the command log and out as a `command.result` event.
// The database work of steps 1, 3 and 5 is shared by the commands under way at once: each
// step's statements for all of them in one transaction (group_commit.hpp).

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "chargegrid/protocols/version.hpp"
#include "chargegrid/server/config.hpp"
#include "commands/outcome.hpp"

namespace boost::asio {
class io_context;
}

namespace chargegrid::server {
class Cluster;
class Database;
class EventBus;
class StationRegistry;
}  // namespace chargegrid::server

namespace chargegrid::server::commands {

// Who sent a command: an API key, or one of the server's own services.
struct Origin {
  std::string service = "api";  // "api", "registration", "pki", "smart-charging", ...
  std::optional<std::int64_t> api_key_id;

  static Origin api_key(std::int64_t key_id) { return {"api", key_id}; }
  static Origin internal(std::string service) { return {std::move(service), std::nullopt}; }
};

struct StationCommand {
  std::string station_id;
  // A row of the translation table ("remote-start", "set-password", ...), or "ocpp" to send
  // `ocpp_action` with `arguments` as its payload.
  std::string name;
  nlohmann::json arguments = nlohmann::json::object();
  std::string ocpp_action;  // name "ocpp" only
  // The name the command log and the command.result event show ("stop-session" for a
  // remote-stop the API sent for a session); `name` when empty.
  std::string label;
  Origin origin;
  // What the command log keeps of the arguments (secrets removed); the arguments when null.
  nlohmann::json audited;
  std::optional<std::int64_t> site_id;  // for the log and the event; read when not given
};

struct CommandResult {
  std::int64_t command_id = 0;
  std::string ocpp_action;  // empty when the station was offline
  std::optional<protocols::OcppVersion> version;
  Outcome outcome;
};

class CommandRouter {
 public:
  CommandRouter(const Config& config, boost::asio::io_context& io, Database& database,
                StationRegistry& stations, Cluster& cluster, EventBus& events);
  ~CommandRouter();
  CommandRouter(const CommandRouter&) = delete;
  CommandRouter& operator=(const CommandRouter&) = delete;

  // A command id from the command log's sequence, for payloads that carry it (remoteStartId,
  // requestId): reserve it, then pass it to send().
  boost::asio::awaitable<std::int64_t> reserve_id();
  // `count` of them in one statement, ascending: a caller about to send a batch of commands
  // takes their ids at once instead of one lookup each.
  boost::asio::awaitable<std::vector<std::int64_t>> reserve_ids(std::size_t count);

  // Sends the command and waits for its outcome. Throws NotAvailable (translation.hpp) when
  // the command has no form in the station's version, std::invalid_argument for an unknown
  // command, and the database's exception when the command could not be logged (it is then
  // not sent).
  boost::asio::awaitable<CommandResult> send(StationCommand command,
                                             std::optional<std::int64_t> command_id = {});

  // Whether the station is connected here or to a live node of the cluster.
  boost::asio::awaitable<bool> online(const std::string& station_id);

  // send() for callers that do not wait: `done` (optional) runs on a server thread.
  void post(StationCommand command, std::function<void(CommandResult)> done = nullptr);

  // Cluster mode: runs a command another node routed here (its row in the command log names
  // the action and payload) and writes the outcome back.
  void run_routed(std::int64_t command_id);

 private:
  boost::asio::awaitable<void> run_routed_command(std::int64_t command_id);
  void publish(const StationCommand& command, const CommandResult& result);

  const Config& config_;
  boost::asio::io_context& io_;
  Database& database_;
  StationRegistry& stations_;
  Cluster& cluster_;
  EventBus& events_;
  struct Batches;  // the group commits of the steps above
  std::unique_ptr<Batches> batches_;
};

}  // namespace chargegrid::server::commands

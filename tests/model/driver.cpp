#include "driver.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "api/auth.hpp"
#include "chargegrid/base/time.hpp"
#include "chargegrid/server/server.hpp"
#include "chargegrid/sim/test_client.hpp"
#include "chargegrid/testing/http_client.hpp"
#include "chargegrid/testing/private_postgres.hpp"
#include "logging.hpp"

namespace chargegrid::model {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// Stands in the payload for a number JSON cannot hold (1e400); replaced in the frame text.
constexpr const char* kRawMarker = "@raw-number@";
// InternalError is "try again later": fine while the database is away and for this long
// after it is back (the pool reconnects), a failure otherwise.
constexpr auto kGrace = std::chrono::seconds(10);
constexpr auto kAnswerTimeout = std::chrono::seconds(10);
// How long a message answered "try again later" may go on being refused once the
// database is back before it counts as refused forever.
constexpr auto kDrainLimit = std::chrono::seconds(20);
constexpr std::size_t kRecent = 16;  // resends and reused ids pick among these
constexpr std::size_t kMaxViolations = 200;
constexpr long long kTwoTo31 = 2147483648LL;
constexpr long long kTwoTo32 = 4294967296LL;

// The command's own choices: splitmix64 over its pick.
struct Pick {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
  bool chance(int percent) { return below(100) < static_cast<std::uint64_t>(percent); }
  template <class T>
  T one_of(const std::vector<T>& items) {
    return items[below(items.size())];
  }
};

std::string rfc3339(std::int64_t epoch) {
  return base::format_rfc3339(std::chrono::system_clock::time_point{std::chrono::seconds{epoch}},
                              base::TimePrecision::kSeconds);
}

std::int64_t epoch_of(int year, int month, int day) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  return static_cast<std::int64_t>(timegm(&tm));
}

// "2026-03-01T00:00:05+00:00" or "...Z" (as PostgreSQL's JSON gives timestamptz) to epoch.
std::optional<std::int64_t> parse_time(const std::string& text) {
  const auto time = base::parse_rfc3339(text);
  if (!time) return std::nullopt;
  return std::chrono::floor<std::chrono::seconds>(time->time_since_epoch()).count();
}

std::string fixed3(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.3f", value);
  return text;
}

bool near(double a, double b) {
  return std::fabs(a - b) <= 1e-3 + 1e-9 * std::max(std::fabs(a), std::fabs(b));
}

std::string shorten(const std::string& text, std::size_t limit = 600) {
  return text.size() <= limit ? text : text.substr(0, limit) + "...";
}

// A JSON dump that shows NUL and other control characters escaped (json::dump does).
std::string show(const json& value) {
  return shorten(value.dump());
}

// ---- The reference model -----------------------------------------------------

// Which session a stored meter row may name.
struct Link {
  enum class Kind {
    None,           // transaction_id NULL: station meter data
    Session,        // exactly this session
    SessionOrNone,  // this (ended) session or none: kept as the station's meter data
    OwnOrNone,      // none, or any session of the same station (no transaction was named)
  } kind = Kind::None;
  int session = -1;
};

struct ExpectedRow {
  int evse = -1;  // -1: any (the message named no EVSE the server could know)
  std::string context;
  double value = 0;
  Link link;
  std::string origin;
};

// Sampled values are unique per station and run by (time, measurand): every message takes
// new timestamps from the station's clock.
using RowKey = std::pair<std::int64_t, std::string>;

struct Session {
  int station = -1;
  Version version = Version::v16;
  std::string uid;                 // 2.x transactionId
  std::optional<long long> db_id;  // 1.6 transactionId; 2.x transactions.id once looked up
  int evse = 0;
  long long meter_start = 0;  // 1.6
  std::optional<long long> meter_stop;
  std::int64_t started_at = 0;
  std::optional<std::int64_t> ended_at;
  std::vector<double> readings;  // Energy.Active.Import.Register values that count
  bool ended = false;
  int next_seq = 1;                    // 2.x
  bool named_by_other = false;         // another station's message named it
  bool snapshot_ok = false;            // stored as expected when it ended
  std::vector<std::string> history;    // messages that named it
  std::vector<std::string> after_end;  // ... after it ended

  double first() const {
    return readings.empty() ? 0 : *std::min_element(readings.begin(), readings.end());
  }
  double last() const {
    return readings.empty() ? 0 : *std::max_element(readings.begin(), readings.end());
  }
  double energy() const { return readings.empty() ? 0 : last() - first(); }
};

struct Message {
  std::string id, action, payload_text, frame, what;
  json payload;                // as built (with kRawMarker where a raw number goes)
  bool needs_database = true;  // may be answered InternalError while the database is away
  bool must_store = true;      // must not be answered as done while the database is away
  Flaw flaw = Flaw::None;
  std::string flaw_pointer;
  enum class State { New, Acknowledged, Refused, Pending } state = State::New;
  json answer;  // CALLRESULT payload once acknowledged
  bool complained = false;
  std::function<void(const json&)> on_ack;
};
using MessagePtr = std::shared_ptr<Message>;

// A message as a builder makes it, before it has an id.
struct Outgoing {
  std::string action;
  json payload;
  std::string raw_number;
  bool needs_database = true;
  bool must_store = true;
  Flaw flaw = Flaw::None;
  std::string flaw_pointer;
  std::string what;
  std::function<void(const json&)> on_ack;
};

struct Reading {
  std::string measurand;
  double value = 0;  // normalised (Wh, W)
};
struct Entry {
  std::int64_t at = 0;
  std::string context;
  std::vector<Reading> readings;  // [0] is always the import register
};

struct Station {
  int index = 0;
  std::string id;
  Version version = Version::v16;
  std::unique_ptr<sim::OcppTestClient> client;
  int next_id = 1;
  std::int64_t clock = 0;
  std::array<long long, 3> registers{};   // Wh per connector/EVSE (0: the station's meter)
  std::array<int, 3> active{-1, -1, -1};  // session per connector/EVSE
  std::vector<int> ended;
  std::vector<MessagePtr> messages;
  std::deque<MessagePtr> recent;
  MessagePtr pending;  // answered "try again later": sent again before anything else stored
  int counter = 0;
  int reboots = 0;
  // What the database must hold for it.
  std::map<RowKey, ExpectedRow> rows;
  std::multiset<std::string> data_transfers;
  std::map<std::int64_t, std::string> statuses;  // reported_at -> status
  std::set<std::pair<std::string, int>> events_required, events_optional;

  bool v16() const { return version == Version::v16; }
};

}  // namespace

// ---- The server --------------------------------------------------------------

struct Harness::Impl {
  testing::PrivatePostgres postgres{"cg-model"};
  std::unique_ptr<server::Server> server;
  std::string admin_key;

  Impl() {
    server::log::setup("critical", "text");  // the run provokes errors by the hundred
    server::Config config;
    config.bind_address = "127.0.0.1";
    // The ledger's key file and other state stay out of the source tree.
    config.data_dir = (std::filesystem::temp_directory_path() / "chargegrid-model").string();
    config.ocpp_port = 0;
    config.http_port = 0;
    config.tls = false;
    config.threads = 2;
    config.db_connections = 2;
    config.meter_batch_delay_ms = 2;
    config.accept_unknown_tokens = true;  // free vend: Authorize and starts are Accepted
    config.log_level = "error";
    // The driver sends as fast as the server answers; rate limits are tested elsewhere.
    config.messages_per_second = 1e6;
    config.message_burst = 1000000;
    server = std::make_unique<server::Server>(config, postgres.url());
    server->start();
    pqxx::connection c(postgres.url());
    pqxx::work tx(c);
    admin_key =
        server::api::create_api_key(tx, "model test", server::api::Role::Admin, {}, std::nullopt)
            .secret;
    tx.commit();
  }
  ~Impl() { server->stop(); }
};

Harness::Harness() : impl_(std::make_unique<Impl>()) {}
Harness::~Harness() = default;

namespace {

// ---- One run -------------------------------------------------------------------

class Run {
 public:
  Run(Harness::Impl& harness, const Scenario& scenario, std::string prefix)
      : h_(harness), scenario_(scenario), prefix_(std::move(prefix)) {}

  RunOutcome go(const std::vector<Command>& commands) {
    const auto began = Clock::now();
    try {
      prologue();
      for (const auto& command : commands) {
        if (aborted_) break;
        execute(command);
      }
      if (!aborted_) finish();
    } catch (const std::exception& e) {
      violate(property::kAnswers, std::string("the run could not go on: ") + e.what());
      aborted_ = true;
    }
    if (db_down_) database_up();  // leave the database running for the next run
    for (auto& station : stations_)
      if (station.client) station.client->close(std::chrono::milliseconds(200));
    out_.sessions = sessions_.size();
    out_.seconds = std::chrono::duration<double>(Clock::now() - began).count();
    return std::move(out_);
  }

 private:
  // ---- bookkeeping

  void violate(const char* property, std::string detail) {
    if (out_.violations.size() < kMaxViolations)
      out_.violations.push_back({property, std::move(detail)});
  }
  void trace(std::string line) { out_.trace.push_back(std::move(line)); }
  // The message being acknowledged (its effects are applied in its on_ack).
  const std::string& acked() const { return acking_->what; }

  bool transient_window() const {
    return db_down_ || (db_up_at_ && Clock::now() < *db_up_at_ + kGrace);
  }

  std::string tick(Station& st, Pick& p) {
    st.clock += 1 + static_cast<std::int64_t>(p.below(30));
    return rfc3339(st.clock);
  }
  long long advance(Station& st, int evse, Pick& p) {
    st.registers[static_cast<std::size_t>(evse)] += static_cast<long long>(p.below(2500));
    return st.registers[static_cast<std::size_t>(evse)];
  }
  Session& session(int index) { return sessions_[static_cast<std::size_t>(index)]; }
  std::string session_name(int index) {
    const auto& s = session(index);
    const auto& owner = stations_[static_cast<std::size_t>(s.station)];
    if (s.version == Version::v16) return owner.id + " transaction " + std::to_string(*s.db_id);
    return owner.id + " transaction '" + s.uid + "'";
  }

  // ---- connections

  std::unique_ptr<sim::OcppTestClient> connect(const Station& st) {
    for (int attempt = 0;; ++attempt) {
      auto client = std::make_unique<sim::OcppTestClient>();
      try {
        auto chosen = client->connect("127.0.0.1", h_.server->ocpp_port(), "/ocpp/" + st.id,
                                      {subprotocol(st.version)}, {}, std::chrono::seconds(5));
        if (chosen != subprotocol(st.version))
          throw std::runtime_error("the server chose '" + chosen + "'");
        return client;
      } catch (const std::exception& e) {
        if (attempt >= 50)
          throw std::runtime_error(st.id + " cannot connect: " + std::string(e.what()));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  void reconnect(Station& st, std::uint64_t variant) {
    if (variant == 1 && st.client) {
      // The new connection first: the server replaces the old one.
      auto fresh = connect(st);
      st.client.reset();
      st.client = std::move(fresh);
      trace(st.id + " reconnects (new connection replaces the old)");
    } else {
      if (variant == 0 && st.client) st.client->close(std::chrono::milliseconds(500));
      st.client.reset();  // variant 2: dropped without a close frame
      st.client = connect(st);
      trace(st.id + (variant == 0 ? " reconnects (closed cleanly)" : " reconnects (dropped)"));
    }
    st.next_id = 1;  // stations number their messages from 1 on every connection
  }

  // Sends a frame and waits for the answer with its id; nullopt if none came.
  std::optional<json> transmit(Station& st, const std::string& id, const std::string& frame) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      trace(st.id + " -> " + shorten(frame, 2000));
      ++out_.messages;
      bool lost = !st.client;
      try {
        if (!lost) st.client->send_text(frame);
      } catch (const std::exception&) {
        lost = true;
      }
      const auto deadline = Clock::now() + kAnswerTimeout;
      while (!lost) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
          violate(property::kAnswers, st.id + ": no answer within " +
                                          std::to_string(kAnswerTimeout.count()) + " s to " +
                                          shorten(frame));
          aborted_ = true;
          return std::nullopt;
        }
        auto text = st.client->receive(left);
        if (!text) {
          if (st.client->closed()) lost = true;
          continue;
        }
        auto answer = json::parse(*text, nullptr, false);
        if (answer.is_array() && answer.size() >= 3 && (answer[0] == 3 || answer[0] == 4) &&
            answer[1] == id) {
          trace(st.id + " <- " + shorten(*text, 2000));
          return answer;
        }
        // A CALL of the server's or a stray answer: not ours.
      }
      // The connection went away before the answer: as a station does, connect again and
      // send the same frame.
      trace(st.id + " lost its connection before the answer");
      reconnect(st, 2);
    }
    violate(property::kAnswers,
            st.id + ": the connection was lost three times sending " + shorten(frame));
    aborted_ = true;
    return std::nullopt;
  }

  // ---- sending and judging

  MessagePtr find(const Station& st, const std::string& id, const std::string& action,
                  const std::string& text) const {
    for (auto it = st.messages.rbegin(); it != st.messages.rend(); ++it)
      if ((*it)->id == id && (*it)->action == action && (*it)->payload_text == text) return *it;
    return nullptr;
  }

  void send(Station& st, Outgoing out, bool reuse_id, Pick& p) {
    std::string id;
    if (reuse_id && !st.recent.empty())
      id = st.recent[p.below(st.recent.size())]->id;
    else
      id = std::to_string(st.next_id++);
    std::string text = out.payload.dump();
    if (!out.raw_number.empty()) {
      const std::string quoted = std::string("\"") + kRawMarker + "\"";
      text.replace(text.find(quoted), quoted.size(), out.raw_number);
    }
    // The same id, action and payload as an earlier message: the station sends that one again.
    if (auto earlier = find(st, id, out.action, text)) {
      deliver(st, earlier);
      return;
    }
    auto m = std::make_shared<Message>();
    m->id = id;
    m->action = out.action;
    m->payload_text = text;
    m->frame = "[2," + json(id).dump() + "," + json(out.action).dump() + "," + text + "]";
    m->payload = std::move(out.payload);
    m->needs_database = out.needs_database;
    m->must_store = out.must_store;
    m->flaw = out.flaw;
    m->flaw_pointer = out.flaw_pointer;
    m->what = st.id + " " + out.action + " id " + id +
              (out.what.empty() ? std::string() : " (" + out.what + ")") +
              (out.flaw == Flaw::None ? std::string()
                                      : std::string(", ") + flaw_name(out.flaw) + " at " +
                                            (out.flaw_pointer.empty() ? "/" : out.flaw_pointer));
    m->on_ack = std::move(out.on_ack);
    st.messages.push_back(m);
    st.recent.push_back(m);
    if (st.recent.size() > kRecent) st.recent.pop_front();
    deliver(st, m);
  }

  void deliver(Station& st, MessagePtr m) {  // by value: it may reset st.pending
    const bool resend_of_ack = m->state == Message::State::Acknowledged;
    if (m->state != Message::State::New) ++out_.resends;
    auto answer = transmit(st, m->id, m->frame);
    if (!answer) return;
    const auto& a = *answer;
    const std::string where = m->what + ": frame " + shorten(m->frame);

    if (a[0] == 3) {
      const json payload = a[2];
      if (resend_of_ack) {
        if (!same_answer(m->answer, payload))
          violate(property::kAnswers, "a resend was answered differently: " + where +
                                          "; first answer " + show(m->answer) + ", now " +
                                          show(payload));
        return;
      }
      if (m->flaw != Flaw::None) {
        violate(property::kAnswers, "accepted (CALLRESULT " + show(payload) +
                                        ") although it must be refused with "
                                        "PropertyConstraintViolation: " +
                                        where);
        m->state = Message::State::Acknowledged;
        m->answer = payload;
        // A transactionId given out anyway is taken: a later start must not get it.
        if (payload.contains("transactionId") && payload["transactionId"].is_number_integer())
          issued_.emplace(payload["transactionId"].get<long long>(), m->what);
        return;
      }
      if (m->must_store && db_down_)
        violate(property::kTransient, "answered as stored while the database was away: " + where);
      m->state = Message::State::Acknowledged;
      m->answer = payload;
      if (st.pending == m) st.pending.reset();
      acking_ = m.get();
      if (m->on_ack) m->on_ack(payload);
      acking_ = nullptr;
      return;
    }

    const std::string code = a[2].is_string() ? a[2].get<std::string>() : a[2].dump();
    const std::string description =
        a.size() > 3 && a[3].is_string() ? a[3].get<std::string>() : std::string();
    const json details = a.size() > 4 ? a[4] : json::object();
    const std::string answer_text = code + " \"" + description + "\" " + show(details);

    if (code == "InternalError") {
      ++out_.try_again_later;
      if (m->flaw != Flaw::None) {
        if (!m->complained)
          violate(property::kPermanent, "a permanent problem was answered InternalError (" +
                                            answer_text +
                                            "); it must be PropertyConstraintViolation: " + where);
        m->complained = true;
        m->state = Message::State::Refused;
        return;
      }
      if (!m->needs_database) {
        violate(property::kTransient, "InternalError for a message that needs no database: " +
                                          where + ": " + answer_text);
        return;
      }
      if (!transient_window() && !m->complained) {
        m->complained = true;
        violate(property::kTransient,
                "InternalError while the database was up (" + answer_text + "): " + where);
      }
      if (resend_of_ack) return;  // stored already; nothing to send again
      m->state = Message::State::Pending;
      st.pending = m;
      return;
    }

    if (m->flaw != Flaw::None) {
      ++out_.refused_on_purpose;
      m->state = Message::State::Refused;
      if (code != "PropertyConstraintViolation") {
        violate(property::kAnswers, "refused with " + answer_text +
                                        " instead of PropertyConstraintViolation: " + where);
        return;
      }
      check_path(m, details, where);
      return;
    }
    violate(property::kAnswers, "a valid message was refused with " + answer_text + ": " + where);
    if (!resend_of_ack) m->state = Message::State::Refused;
  }

  static bool same_answer(json first, json now) {
    // Heartbeat and BootNotification tell the time; the rest must be the same.
    if (first.is_object()) first.erase("currentTime");
    if (now.is_object()) now.erase("currentTime");
    return first == now;
  }

  // The details' path must be a JSON pointer to the offending field or one of its parents;
  // required for meter values, where the station needs it to know which sample is wrong.
  void check_path(const MessagePtr& m, const json& details, const std::string& where) {
    const bool required = m->flaw == Flaw::NonFinite || m->flaw == Flaw::NegativeRegister;
    if (!details.is_object() || !details.contains("path") || !details["path"].is_string()) {
      if (required)
        violate(property::kAnswers, "refused without a JSON-pointer path in the details (" +
                                        show(details) + "): " + where);
      return;
    }
    const auto path = details["path"].get<std::string>();
    if (path.empty() && !required) return;
    const auto& target = m->flaw_pointer;
    const bool points_there =
        !path.empty() && (path == target || (target.size() > path.size() &&
                                             target.compare(0, path.size(), path) == 0 &&
                                             target[path.size()] == '/'));
    if (!points_there)
      violate(property::kAnswers, "the path in the details is '" + path +
                                      "', not the offending field '" + target + "': " + where);
  }

  // ---- the frames

  // The import register (and often power) of one moment at an EVSE.
  Entry make_entry(Station& st, int evse, const std::string& context, Pick& p, bool power) {
    Entry e;
    st.clock += 1 + static_cast<std::int64_t>(p.below(30));
    e.at = st.clock;
    e.context = context;
    e.readings.push_back(
        {"Energy.Active.Import.Register", static_cast<double>(advance(st, evse, p))});
    if (power) {
      double watts = static_cast<double>(p.below(22000));
      if (p.chance(10)) watts = -watts;  // discharging (V2G)
      if (p.chance(5)) watts = 1e15;     // huge but finite: stored as it is
      e.readings.push_back({"Power.Active.Import", watts});
    }
    return e;
  }

  json wire(const Station& st, const std::vector<Entry>& entries, Pick& p) {
    json out = json::array();
    for (const auto& e : entries) {
      json samples = json::array();
      for (const auto& r : e.readings) {
        const bool energy = r.measurand.starts_with("Energy");
        json s{{"measurand", r.measurand}, {"context", e.context}};
        if (st.v16()) {
          const bool kilo = energy && p.chance(50);
          if (r.value == 1e15)
            s["value"] = "1e15";
          else
            s["value"] = kilo ? fixed3(r.value / 1000) : std::to_string(std::llround(r.value));
          s["unit"] = energy ? (kilo ? "kWh" : "Wh") : "W";
        } else {
          switch (p.below(3)) {
            case 0:
              s["value"] = r.value;
              s["unitOfMeasure"] = {{"unit", energy ? "Wh" : "W"}};
              break;
            case 1:
              s["value"] = r.value / 1000;
              s["unitOfMeasure"] = {{"unit", energy ? "kWh" : "kW"}};
              break;
            default:
              s["value"] = r.value / 1000;
              s["unitOfMeasure"] = {{"unit", energy ? "Wh" : "W"}, {"multiplier", 3}};
          }
        }
        samples.push_back(std::move(s));
      }
      out.push_back({{"timestamp", rfc3339(e.at)}, {"sampledValue", std::move(samples)}});
    }
    return out;
  }

  // Makes one sampled value of `values` (at JSON pointer `base`) what `flaw` says; false when
  // the flaw does not apply to meter values.
  bool spoil_meter(const Station& st, json& values, const std::string& base, Flaw flaw, Pick& p,
                   Outgoing& out) {
    const auto i = p.below(values.size());
    auto& samples = values[i]["sampledValue"];
    auto j = p.below(samples.size());
    const auto at = base + "/" + std::to_string(i) + "/sampledValue/";
    switch (flaw) {
      case Flaw::NonFinite:
        if (st.v16()) {
          samples[j]["value"] = p.one_of(std::vector<std::string>{
              "NaN", "nan", "Infinity", "-Infinity", "inf", "-inf", "1e400"});
        } else {
          samples[j]["value"] = kRawMarker;
          out.raw_number = p.one_of(std::vector<std::string>{"1e400", "-1e400", "1E999"});
        }
        out.flaw_pointer = at + std::to_string(j) + "/value";
        break;
      case Flaw::NegativeRegister: {
        j = 0;  // the register
        auto& s = samples[j];
        if (p.chance(30)) s["measurand"] = "Energy.Active.Export.Register";
        if (st.v16())
          s["value"] = "-" + s["value"].get<std::string>();
        else
          s["value"] = -s["value"].get<double>() - 1;
        out.flaw_pointer = at + "0/value";
        break;
      }
      case Flaw::HugeInteger:
        if (st.v16()) return false;
        samples[j]["unitOfMeasure"] = {{"unit", "Wh"}, {"multiplier", kTwoTo31}};
        out.flaw_pointer = at + std::to_string(j) + "/unitOfMeasure/multiplier";
        break;
      case Flaw::Nul:
        if (!st.v16()) return false;
        samples[j]["value"] = std::string(
            "12\0"
            "3",
            4);
        out.flaw_pointer = at + std::to_string(j) + "/value";
        break;
      case Flaw::None:
        return false;
    }
    out.flaw = flaw;
    return true;
  }

  // Expected rows for acknowledged entries.
  void expect_rows(int station, const std::vector<Entry>& entries, int evse, Link link,
                   const std::string& origin) {
    auto& st = stations_[static_cast<std::size_t>(station)];
    for (const auto& e : entries)
      for (const auto& r : e.readings)
        st.rows[{e.at, r.measurand}] = ExpectedRow{evse, e.context, r.value, link, origin};
  }

  std::string tag(Pick& p) { return "TAG" + std::to_string(p.below(4)); }
  static std::string nul_text(const std::string& a, const std::string& b) {
    return a + std::string(1, '\0') + b;
  }

  std::optional<Outgoing> build(Station& st, const Command& c, Pick& p) {
    switch (c.op) {
      case Op::Heartbeat: {
        Outgoing out{"Heartbeat", json::object()};
        out.needs_database = false;
        out.must_store = false;
        return out;
      }
      case Op::Authorize:
        return authorize(st, c.flaw, p);
      case Op::Status:
        return status(st, c.flaw, p);
      case Op::DataTransfer:
        return data_transfer(st, c.flaw, p);
      case Op::Start:
        return st.v16() ? start_16(st, c.flaw, p) : start_2x(st, c.flaw, p, false);
      case Op::StartForeignUid:
        return start_2x(st, c.flaw, p, true);
      case Op::Meter:
        return meter(st, c.flaw, p);
      case Op::Stop:
        return stop(st, c.flaw, p);
      case Op::StopAgain:
        return stop_again(st, c.flaw, p);
      case Op::MeterEnded:
        return meter_ended(st, c.flaw, p);
      case Op::StationMeter:
        return station_meter(st, c.flaw, p);
      case Op::MeterForeign:
        return foreign_16(st, c.flaw, p, false);
      case Op::StopForeign:
        return foreign_16(st, c.flaw, p, true);
      default:
        return std::nullopt;
    }
  }

  Outgoing boot(Station& st, Pick& p) {
    const std::string firmware =
        "1." + std::to_string(p.chance(50) ? st.reboots : ++st.reboots);  // often the same
    Outgoing out;
    out.action = "BootNotification";
    if (st.v16())
      out.payload = {{"chargePointVendor", "ChargeGrid"},
                     {"chargePointModel", "Model-16"},
                     {"firmwareVersion", firmware}};
    else
      out.payload = {{"reason", "PowerUp"},
                     {"chargingStation",
                      {{"vendorName", "ChargeGrid"},
                       {"model", std::string("Model-") + version_name(st.version)},
                       {"firmwareVersion", firmware}}}};
    const int station = st.index;
    out.on_ack = [this, station](const json& answer) {
      if (answer.value("status", "") != "Accepted")
        violate(property::kAnswers, stations_[static_cast<std::size_t>(station)].id +
                                        ": BootNotification not Accepted: " + show(answer));
    };
    return out;
  }

  Outgoing authorize(Station& st, Flaw flaw, Pick& p) {
    Outgoing out;
    out.action = "Authorize";
    out.must_store = false;  // it reads the token table; an answer from memory is fine too
    std::string token = tag(p);
    if (flaw == Flaw::Nul) {
      token = nul_text("TA", "G");
      out.flaw = flaw;
      out.flaw_pointer = st.v16() ? "/idTag" : "/idToken/idToken";
    }
    if (st.v16())
      out.payload = {{"idTag", token}};
    else
      out.payload = {{"idToken", {{"idToken", token}, {"type", "ISO14443"}}}};
    const int station = st.index;
    out.on_ack = [this, station](const json& answer) {
      const auto& info = answer.contains("idTagInfo") ? answer["idTagInfo"] : answer["idTokenInfo"];
      if (!info.is_object() || info.value("status", "") != "Accepted")
        violate(property::kAnswers,
                stations_[static_cast<std::size_t>(station)].id +
                    ": a token was not Accepted under free vend: " + show(answer));
    };
    return out;
  }

  Outgoing status(Station& st, Flaw flaw, Pick& p) {
    Outgoing out;
    out.action = "StatusNotification";
    const auto ts = tick(st, p);
    const auto at = st.clock;
    if (st.v16()) {
      out.payload = {{"connectorId", p.below(3)},
                     {"errorCode", "NoError"},
                     {"status", p.one_of(std::vector<std::string>{"Available", "Preparing",
                                                                  "Charging", "Finishing"})},
                     {"timestamp", ts}};
      if (flaw == Flaw::HugeInteger) {
        out.payload["connectorId"] = kTwoTo31 + static_cast<long long>(p.below(3));
        out.flaw_pointer = "/connectorId";
        out.flaw = flaw;
      } else if (flaw == Flaw::Nul) {
        out.payload["info"] = nul_text("cable", " check");
        out.flaw_pointer = "/info";
        out.flaw = flaw;
      }
    } else {
      out.payload = {{"timestamp", ts},
                     {"connectorStatus", p.chance(50) ? "Available" : "Occupied"},
                     {"evseId", 1 + p.below(2)},
                     {"connectorId", 1}};
      if (flaw == Flaw::HugeInteger) {
        const bool evse = p.chance(50);
        out.payload[evse ? "evseId" : "connectorId"] = kTwoTo31;
        out.flaw_pointer = evse ? "/evseId" : "/connectorId";
        out.flaw = flaw;
      }
    }
    const int station = st.index;
    const auto reported = out.payload.value("status", out.payload.value("connectorStatus", ""));
    out.on_ack = [this, station, at, reported](const json&) {
      stations_[static_cast<std::size_t>(station)].statuses[at] = reported;
    };
    return out;
  }

  Outgoing data_transfer(Station& st, Flaw flaw, Pick& p) {
    Outgoing out;
    out.action = "DataTransfer";
    std::string data = "D" + st.id + "-" + std::to_string(++st.counter);
    if (flaw == Flaw::Nul) {
      data = nul_text(data, "-tail");
      out.flaw = flaw;
      out.flaw_pointer = "/data";
    }
    out.payload = {{"vendorId", "org.chargegrid.model"}, {"messageId", "note"}, {"data", data}};
    (void)p;
    const int station = st.index;
    out.on_ack = [this, station, data](const json&) {
      stations_[static_cast<std::size_t>(station)].data_transfers.insert(data);
    };
    return out;
  }

  std::optional<int> free_evse(const Station& st, Pick& p) {
    std::vector<int> free;
    for (int e = 1; e <= 2; ++e)
      if (st.active[static_cast<std::size_t>(e)] < 0) free.push_back(e);
    if (free.empty()) return std::nullopt;
    return p.one_of(free);
  }
  std::optional<int> active_session(const Station& st, Pick& p) {
    std::vector<int> active;
    for (int e = 1; e <= 2; ++e)
      if (st.active[static_cast<std::size_t>(e)] >= 0)
        active.push_back(st.active[static_cast<std::size_t>(e)]);
    if (active.empty()) return std::nullopt;
    return p.one_of(active);
  }

  std::optional<Outgoing> start_16(Station& st, Flaw flaw, Pick& p) {
    auto connector = free_evse(st, p);
    if (!connector) return std::nullopt;
    const int c = *connector;
    const long long meter_start = advance(st, c, p);
    const auto at = st.clock += 1 + static_cast<std::int64_t>(p.below(30));
    Outgoing out;
    out.action = "StartTransaction";
    out.payload = {{"connectorId", c},
                   {"idTag", tag(p)},
                   {"meterStart", meter_start},
                   {"timestamp", rfc3339(at)}};
    if (flaw == Flaw::Nul) {
      out.payload["idTag"] = nul_text("T", "AG0");
      out.flaw = flaw;
      out.flaw_pointer = "/idTag";
    } else if (flaw == Flaw::HugeInteger) {
      const bool connector_field = p.chance(50);
      out.payload[connector_field ? "connectorId" : "meterStart"] =
          connector_field ? kTwoTo31 : kTwoTo31 + meter_start;
      out.flaw = flaw;
      out.flaw_pointer = connector_field ? "/connectorId" : "/meterStart";
    }
    out.what = "connector " + std::to_string(c) + ", meterStart " + std::to_string(meter_start);
    const int station = st.index;
    out.on_ack = [this, station, c, meter_start, at](const json& answer) {
      auto& me = stations_[static_cast<std::size_t>(station)];
      if (!answer.contains("transactionId") || !answer["transactionId"].is_number_integer()) {
        violate(property::kAnswers,
                me.id + ": StartTransaction answered without a transactionId: " + show(answer));
        return;
      }
      const auto id = answer["transactionId"].get<long long>();
      if (auto it = issued_.find(id); it != issued_.end()) {
        violate(property::kAnswers, me.id + ": a new StartTransaction (connector " +
                                        std::to_string(c) + ", meterStart " +
                                        std::to_string(meter_start) +
                                        ") was answered with transactionId " + std::to_string(id) +
                                        ", which an earlier start got: " + it->second);
        return;
      }
      if (answer.contains("idTagInfo") && answer["idTagInfo"].value("status", "") != "Accepted")
        violate(property::kAnswers,
                me.id + ": StartTransaction not Accepted under free vend: " + show(answer));
      Session s;
      s.station = station;
      s.version = Version::v16;
      s.db_id = id;
      s.uid = std::to_string(id);
      s.evse = c;
      s.meter_start = meter_start;
      s.started_at = at;
      s.readings.push_back(static_cast<double>(meter_start));
      s.history.push_back(acked());
      sessions_.push_back(std::move(s));
      me.active[static_cast<std::size_t>(c)] = static_cast<int>(sessions_.size()) - 1;
      issued_[id] = me.id + " connector " + std::to_string(c) + " at " + rfc3339(at);
    };
    return out;
  }

  // 2.x TransactionEvent for session `s` (or a new one): the common part.
  json event(const std::string& type, std::int64_t at, const std::string& trigger,
             const std::string& uid, long long seq, int evse, json meter_value) {
    return {{"eventType", type},
            {"timestamp", rfc3339(at)},
            {"triggerReason", trigger},
            {"seqNo", seq},
            {"transactionInfo", {{"transactionId", uid}}},
            {"evse", {{"id", evse}, {"connectorId", 1}}},
            {"meterValue", std::move(meter_value)}};
  }

  // Spoils a TransactionEvent as `flaw` says; false when it does not apply.
  bool spoil_event(const Station& st, Outgoing& out, Flaw flaw, Pick& p) {
    if (flaw == Flaw::None) return false;
    if (flaw == Flaw::HugeInteger && p.chance(75)) {
      switch (p.below(3)) {
        case 0:
          out.payload["seqNo"] =
              p.chance(50) ? kTwoTo31 : kTwoTo32 + out.payload["seqNo"].get<long long>();
          out.flaw_pointer = "/seqNo";
          break;
        case 1:
          out.payload["evse"]["id"] = kTwoTo31;
          out.flaw_pointer = "/evse/id";
          break;
        default:
          out.payload["evse"]["connectorId"] = kTwoTo31;
          out.flaw_pointer = "/evse/connectorId";
      }
      out.flaw = flaw;
      return true;
    }
    if (flaw == Flaw::Nul) {
      if (p.chance(50) && out.payload.contains("idToken")) {
        out.payload["idToken"]["idToken"] = nul_text("TAG", "0");
        out.flaw_pointer = "/idToken/idToken";
      } else {
        out.payload["transactionInfo"]["transactionId"] =
            nul_text(out.payload["transactionInfo"]["transactionId"].get<std::string>(), "x");
        out.flaw_pointer = "/transactionInfo/transactionId";
      }
      out.flaw = flaw;
      return true;
    }
    return spoil_meter(st, out.payload["meterValue"], "/meterValue", flaw, p, out);
  }

  // A TransactionEvent of session `s` with sequence number `seq` carrying `entries`, with
  // `info` added to its transactionInfo, then spoilt as `flaw` says.
  Outgoing session_event(const Station& st, const Session& s, int seq, const std::string& type,
                         std::int64_t at, const std::string& trigger,
                         const std::vector<Entry>& entries, const json& info, Flaw flaw, Pick& p) {
    Outgoing out;
    out.action = "TransactionEvent";
    out.payload = event(type, at, trigger, s.uid, seq, s.evse, wire(st, entries, p));
    for (const auto& [key, value] : info.items()) out.payload["transactionInfo"][key] = value;
    spoil_event(st, out, flaw, p);
    return out;
  }

  // What the answer to a session's event `seq` means: the event must be in the database
  // (`required`) or may be; then `then` records the rest.
  std::function<void(const json&)> on_event_ack(const Station& st, const std::string& uid, int seq,
                                                bool required, std::function<void()> then) {
    const int station = st.index;
    return [this, station, uid, seq, required, then = std::move(then)](const json&) {
      auto& me = stations_[static_cast<std::size_t>(station)];
      (required ? me.events_required : me.events_optional).insert({uid, seq});
      then();
    };
  }

  std::optional<Outgoing> start_2x(Station& st, Flaw flaw, Pick& p, bool foreign_uid) {
    auto evse = free_evse(st, p);
    if (!evse) return std::nullopt;
    const int e = *evse;
    std::string uid = st.id + "-T" + std::to_string(++st.counter);
    if (foreign_uid) {
      // A transaction id another station uses (and this one does not).
      std::vector<std::string> others;
      for (const auto& s : sessions_)
        if (s.version != Version::v16 && s.station != st.index &&
            std::none_of(sessions_.begin(), sessions_.end(), [&](const Session& mine) {
              return mine.station == st.index && mine.uid == s.uid;
            }))
          others.push_back(s.uid);
      if (!others.empty()) uid = p.one_of(others);
    }
    std::vector<Entry> entries{make_entry(st, e, "Transaction.Begin", p, false)};
    const auto at = entries[0].at;
    Outgoing out;
    out.action = "TransactionEvent";
    out.payload = event("Started", at, "Authorized", uid, 0, e, wire(st, entries, p));
    out.payload["transactionInfo"]["chargingState"] = "Charging";
    out.payload["idToken"] = {{"idToken", tag(p)}, {"type", "ISO14443"}};
    spoil_event(st, out, flaw, p);
    out.what = "Started '" + uid + "' seqNo 0 at EVSE " + std::to_string(e) + ", register " +
               fixed3(entries[0].readings[0].value);
    const int station = st.index;
    out.on_ack = [this, station, e, uid, entries, at](const json& answer) {
      auto& me = stations_[static_cast<std::size_t>(station)];
      // A token sent is a token answered; an answer without it is some other message's.
      if (!answer.contains("idTokenInfo") ||
          answer["idTokenInfo"].value("status", "") != "Accepted")
        violate(property::kAnswers, acked() + ": a Started event with an idToken was answered " +
                                        show(answer) + ", without idTokenInfo Accepted");
      Session s;
      s.station = station;
      s.version = me.version;
      s.uid = uid;
      s.evse = e;
      s.started_at = at;
      s.readings.push_back(entries[0].readings[0].value);
      s.history.push_back(acked());
      sessions_.push_back(std::move(s));
      const int index = static_cast<int>(sessions_.size()) - 1;
      me.active[static_cast<std::size_t>(e)] = index;
      me.events_required.insert({uid, 0});
      expect_rows(station, entries, e, {Link::Kind::Session, index}, acked());
      look_up(index);
    };
    return out;
  }

  std::optional<Outgoing> meter(Station& st, Flaw flaw, Pick& p) {
    auto index = active_session(st, p);
    if (!index) return station_meter(st, flaw, p);
    const int si = *index;
    const int e = session(si).evse;
    std::vector<Entry> entries{make_entry(st, e, "Sample.Periodic", p, true)};
    if (p.chance(30)) entries.push_back(make_entry(st, e, "Sample.Periodic", p, true));
    Outgoing out;
    if (st.v16()) {
      out.action = "MeterValues";
      const long long id = *session(si).db_id;
      out.payload = {
          {"connectorId", e}, {"transactionId", id}, {"meterValue", wire(st, entries, p)}};
      if (flaw == Flaw::HugeInteger) {
        const bool tx = p.chance(70);
        out.payload[tx ? "transactionId" : "connectorId"] =
            tx ? (p.chance(50) ? kTwoTo32 + id : kTwoTo31) : kTwoTo31;
        out.flaw = flaw;
        out.flaw_pointer = tx ? "/transactionId" : "/connectorId";
      } else if (flaw != Flaw::None) {
        spoil_meter(st, out.payload["meterValue"], "/meterValue", flaw, p, out);
      }
      out.what = "transactionId " + std::to_string(id);
    } else {
      auto& s = session(si);
      const int seq = s.next_seq++;
      out = session_event(st, s, seq, "Updated", entries.back().at, "MeterValuePeriodic", entries,
                          {{"chargingState", "Charging"}}, flaw, p);
      out.what = "Updated '" + s.uid + "' seqNo " + std::to_string(seq);
      out.on_ack = on_event_ack(st, s.uid, seq, true, [this, si, entries, e] {
        acknowledge_readings(si, entries, e, {Link::Kind::Session, si});
      });
      return out;
    }
    out.on_ack = [this, si, entries, e](const json&) {
      acknowledge_readings(si, entries, e, {Link::Kind::Session, si});
    };
    return out;
  }

  void acknowledge_readings(int si, const std::vector<Entry>& entries, int evse, Link link) {
    auto& s = session(si);
    for (const auto& e : entries) s.readings.push_back(e.readings[0].value);
    s.history.push_back(acked());
    expect_rows(s.station, entries, evse, link, acked());
  }

  std::optional<Outgoing> stop(Station& st, Flaw flaw, Pick& p) {
    auto index = active_session(st, p);
    if (!index) return std::nullopt;
    const int si = *index;
    const int e = session(si).evse;
    Outgoing out;
    if (st.v16()) {
      std::vector<Entry> data;
      if (p.chance(50) || flaw == Flaw::NonFinite || flaw == Flaw::NegativeRegister)
        data.push_back(make_entry(st, e, "Transaction.End", p, p.chance(50)));
      const long long meter_stop = advance(st, e, p);
      const auto at = st.clock += 1 + static_cast<std::int64_t>(p.below(30));
      const long long id = *session(si).db_id;
      out.action = "StopTransaction";
      out.payload = {{"transactionId", id},
                     {"meterStop", meter_stop},
                     {"timestamp", rfc3339(at)},
                     {"reason", "Local"},
                     {"idTag", tag(p)}};
      if (!data.empty()) out.payload["transactionData"] = wire(st, data, p);
      if (flaw == Flaw::HugeInteger) {
        const int field = static_cast<int>(p.below(3));
        out.payload[field == 2 ? "meterStop" : "transactionId"] = field == 0 ? kTwoTo32 + id
                                                                  : field == 1
                                                                      ? kTwoTo31
                                                                      : kTwoTo31 + meter_stop;
        out.flaw = flaw;
        out.flaw_pointer = field == 2 ? "/meterStop" : "/transactionId";
      } else if (flaw == Flaw::Nul) {
        out.payload["idTag"] = nul_text("TA", "G1");
        out.flaw = flaw;
        out.flaw_pointer = "/idTag";
      } else if (flaw != Flaw::None) {
        spoil_meter(st, out.payload["transactionData"], "/transactionData", flaw, p, out);
      }
      out.what =
          "transactionId " + std::to_string(id) + ", meterStop " + std::to_string(meter_stop);
      out.on_ack = [this, si, data, e, meter_stop, at](const json&) {
        auto& s = session(si);
        s.meter_stop = meter_stop;
        for (const auto& d : data) s.readings.push_back(d.readings[0].value);
        s.readings.push_back(static_cast<double>(meter_stop));
        end_session(si, at, data, e);
      };
      return out;
    }
    auto& s = session(si);
    const int seq = s.next_seq++;
    std::vector<Entry> entries{make_entry(st, e, "Transaction.End", p, false)};
    out = session_event(st, s, seq, "Ended", entries[0].at, "StopAuthorized", entries,
                        {{"stoppedReason", "Local"}, {"chargingState", "Idle"}}, flaw, p);
    out.what = "Ended '" + s.uid + "' seqNo " + std::to_string(seq) + ", register " +
               fixed3(entries[0].readings[0].value);
    out.on_ack = on_event_ack(st, s.uid, seq, true, [this, si, entries, e] {
      auto& ended = session(si);
      ended.readings.push_back(entries[0].readings[0].value);
      ended.meter_stop = std::llround(ended.last());
      end_session(si, entries[0].at, entries, e);
    });
    return out;
  }

  void end_session(int si, std::int64_t at, const std::vector<Entry>& entries, int evse) {
    auto& s = session(si);
    auto& st = stations_[static_cast<std::size_t>(s.station)];
    s.ended = true;
    s.ended_at = at;
    s.history.push_back(acked());
    expect_rows(s.station, entries, evse, {Link::Kind::Session, si}, acked());
    st.active[static_cast<std::size_t>(s.evse)] = -1;
    st.ended.push_back(si);
    snapshot(si);
  }

  std::optional<int> ended_session(const Station& st, Pick& p) {
    if (st.ended.empty()) return std::nullopt;
    return p.one_of(st.ended);
  }

  // After the end: a second stop, with a later time and a higher register.
  std::optional<Outgoing> stop_again(Station& st, Flaw flaw, Pick& p) {
    auto index = ended_session(st, p);
    if (!index) return std::nullopt;
    const int si = *index;
    const int e = session(si).evse;
    Outgoing out;
    std::vector<Entry> data;
    if (st.v16()) {
      if (p.chance(60) || flaw == Flaw::NonFinite || flaw == Flaw::NegativeRegister)
        data.push_back(make_entry(st, e, "Transaction.End", p, false));
      const long long meter_stop = advance(st, e, p) + 1;
      const long long id = *session(si).db_id;
      out.action = "StopTransaction";
      out.payload = {{"transactionId", id},
                     {"meterStop", meter_stop},
                     {"timestamp", tick(st, p)},
                     {"reason", "Other"}};
      if (!data.empty()) out.payload["transactionData"] = wire(st, data, p);
      if (flaw == Flaw::HugeInteger) {
        out.payload["transactionId"] = kTwoTo32 + id;
        out.flaw = flaw;
        out.flaw_pointer = "/transactionId";
      } else if (flaw != Flaw::None && flaw != Flaw::Nul) {
        spoil_meter(st, out.payload["transactionData"], "/transactionData", flaw, p, out);
      }
      out.what = "second stop of transactionId " + std::to_string(id) + ", meterStop " +
                 std::to_string(meter_stop);
      out.on_ack = [this, si, data](const json&) { after_end(si, data, -1); };
      return out;
    }
    auto& s = session(si);
    const int seq = s.next_seq++;
    data.push_back(make_entry(st, e, "Transaction.End", p, false));
    out = session_event(st, s, seq, "Ended", data[0].at, "StopAuthorized", data,
                        {{"stoppedReason", "Remote"}}, flaw, p);
    out.what = "second Ended of '" + s.uid + "' seqNo " + std::to_string(seq) + ", register " +
               fixed3(data[0].readings[0].value);
    out.on_ack =
        on_event_ack(st, s.uid, seq, false, [this, si, data, e] { after_end(si, data, e); });
    return out;
  }

  std::optional<Outgoing> meter_ended(Station& st, Flaw flaw, Pick& p) {
    auto index = ended_session(st, p);
    if (!index) return std::nullopt;
    const int si = *index;
    const int e = session(si).evse;
    std::vector<Entry> data{make_entry(st, e, "Sample.Periodic", p, true)};
    Outgoing out;
    if (st.v16()) {
      const long long id = *session(si).db_id;
      out.action = "MeterValues";
      out.payload = {{"connectorId", e}, {"transactionId", id}, {"meterValue", wire(st, data, p)}};
      if (flaw == Flaw::HugeInteger) {
        out.payload["transactionId"] = kTwoTo32 + id;
        out.flaw = flaw;
        out.flaw_pointer = "/transactionId";
      } else if (flaw != Flaw::None) {
        spoil_meter(st, out.payload["meterValue"], "/meterValue", flaw, p, out);
      }
      out.what = "meter values for ended transactionId " + std::to_string(id);
      out.on_ack = [this, si, data, e](const json&) { after_end(si, data, e); };
      return out;
    }
    auto& s = session(si);
    const int seq = s.next_seq++;
    out = session_event(st, s, seq, "Updated", data[0].at, "MeterValuePeriodic", data,
                        json::object(), flaw, p);
    out.what = "Updated after the end of '" + s.uid + "' seqNo " + std::to_string(seq);
    out.on_ack =
        on_event_ack(st, s.uid, seq, false, [this, si, data, e] { after_end(si, data, e); });
    return out;
  }

  void after_end(int si, const std::vector<Entry>& data, int evse) {
    auto& s = session(si);
    const auto& what = acked();
    s.history.push_back(what);
    s.after_end.push_back(what);
    expect_rows(s.station, data, evse, {Link::Kind::SessionOrNone, si}, what);
  }

  std::optional<Outgoing> station_meter(Station& st, Flaw flaw, Pick& p) {
    const int e = static_cast<int>(p.below(3));
    std::vector<Entry> data{make_entry(st, e, "Sample.Clock", p, p.chance(50))};
    Outgoing out;
    out.action = "MeterValues";
    const std::string field = st.v16() ? "connectorId" : "evseId";
    out.payload = {{field, e}, {"meterValue", wire(st, data, p)}};
    if (flaw == Flaw::HugeInteger) {
      out.payload[field] = kTwoTo31 + static_cast<long long>(e);
      out.flaw = flaw;
      out.flaw_pointer = "/" + field;
    } else if (flaw != Flaw::None) {
      spoil_meter(st, out.payload["meterValue"], "/meterValue", flaw, p, out);
    }
    out.what = "station meter values, " + field + " " + std::to_string(e);
    const int station = st.index;
    out.on_ack = [this, station, data, e](const json&) {
      expect_rows(station, data, e, {Link::Kind::OwnOrNone, -1}, acked());
    };
    return out;
  }

  // 1.6 MeterValues or StopTransaction naming a transaction that is not the station's: one of
  // another station's (any version), or one never issued. Its values are this station's own
  // meter readings, far from the other station's.
  std::optional<Outgoing> foreign_16(Station& st, Flaw flaw, Pick& p, bool stop) {
    std::vector<int> targets;
    for (std::size_t i = 0; i < sessions_.size(); ++i)
      if (sessions_[i].station != st.index && sessions_[i].db_id)
        targets.push_back(static_cast<int>(i));
    int target = -1;
    long long id = 0;
    if (!targets.empty() && p.chance(80)) {
      target = p.one_of(targets);
      id = *session(target).db_id;
    } else {
      id = p.chance(80) ? 2000000000LL + static_cast<long long>(p.below(100000000)) : -1;
    }
    const int c = 1 + static_cast<int>(p.below(2));
    Outgoing out;
    std::vector<Entry> data;
    if (stop) {
      if (p.chance(70) || flaw == Flaw::NonFinite || flaw == Flaw::NegativeRegister)
        data.push_back(make_entry(st, c, "Transaction.End", p, false));
      out.action = "StopTransaction";
      out.payload = {{"transactionId", id},
                     {"meterStop", advance(st, c, p)},
                     {"timestamp", tick(st, p)},
                     {"reason", "Local"}};
      if (!data.empty()) out.payload["transactionData"] = wire(st, data, p);
    } else {
      data.push_back(make_entry(st, c, "Sample.Periodic", p, true));
      out.action = "MeterValues";
      out.payload = {{"connectorId", c}, {"transactionId", id}, {"meterValue", wire(st, data, p)}};
    }
    if (flaw == Flaw::HugeInteger) {
      out.payload["transactionId"] = kTwoTo32 + std::max(id, 1LL);
      out.flaw = flaw;
      out.flaw_pointer = "/transactionId";
    } else if (flaw == Flaw::Nul && stop) {
      out.payload["idTag"] = nul_text("T", "G");
      out.flaw = flaw;
      out.flaw_pointer = "/idTag";
    } else if (flaw != Flaw::None) {
      spoil_meter(st, out.payload[stop ? "transactionData" : "meterValue"],
                  stop ? "/transactionData" : "/meterValue", flaw, p, out);
    }
    out.what = std::string(target >= 0 ? "another station's" : "an unissued") + " transactionId " +
               std::to_string(id) +
               (target >= 0 ? " (" + session_name(target) + ")" : std::string());
    const int station = st.index;
    out.on_ack = [this, station, data, target, stop, c](const json&) {
      const auto& what = acked();
      if (target >= 0) {
        session(target).named_by_other = true;
        session(target).history.push_back(what);
        if (session(target).ended) session(target).after_end.push_back(what);
      }
      // No transaction: the station's own meter data. A StopTransaction names no connector.
      expect_rows(station, data, stop ? -1 : c, {Link::Kind::None, -1}, what);
    };
    return out;
  }

  // ---- the database, during the run

  std::optional<pqxx::connection>& database() {
    if (!db_ || !db_->is_open()) db_.emplace(h_.postgres.url());
    return db_;
  }

  // 2.x sessions: their transactions.id, for other stations to name.
  void look_up(int si) {
    auto& s = session(si);
    try {
      pqxx::read_transaction tx(*database());
      auto rows = tx.exec_params(
          "SELECT id FROM transactions WHERE station_id = $1 AND transaction_uid = $2",
          stations_[static_cast<std::size_t>(s.station)].id, s.uid);
      if (!rows.empty()) s.db_id = rows[0][0].as<long long>();
    } catch (const std::exception&) {
      db_.reset();
    }
  }

  struct Stored {
    bool found = false;
    std::string state;
    std::optional<std::int64_t> ended_at;
    std::optional<long long> meter_start, meter_stop;
    std::optional<double> first, last;
    long long id = 0;
  };
  static Stored stored_row(const pqxx::row& r) {
    Stored s;
    s.found = true;
    s.id = r["id"].as<long long>();
    s.state = r["state"].as<std::string>();
    if (!r["ended"].is_null()) s.ended_at = r["ended"].as<std::int64_t>();
    if (!r["meter_start_wh"].is_null()) s.meter_start = r["meter_start_wh"].as<long long>();
    if (!r["meter_stop_wh"].is_null()) s.meter_stop = r["meter_stop_wh"].as<long long>();
    if (!r["import_first_wh"].is_null()) s.first = r["import_first_wh"].as<double>();
    if (!r["import_last_wh"].is_null()) s.last = r["import_last_wh"].as<double>();
    return s;
  }
  static constexpr const char* kTransactionColumns =
      "SELECT id, station_id, transaction_uid, state, "
      "extract(epoch FROM ended_at)::bigint AS ended, meter_start_wh, meter_stop_wh, "
      "import_first_wh, import_last_wh FROM transactions ";

  // What is wrong with a stored session, against the model; empty when nothing.
  std::vector<std::pair<const char*, std::string>> compare(const Session& s, const Stored& row) {
    std::vector<std::pair<const char*, std::string>> issues;
    const auto expected_state = s.ended ? "ended" : "active";
    if (row.state != expected_state)
      issues.push_back({property::kStoredOnce, std::string("state '") + row.state +
                                                   "', expected '" + expected_state + "'"});
    if (s.ended && row.ended_at != s.ended_at)
      issues.push_back(
          {property::kStoredOnce, "ended_at " + (row.ended_at ? rfc3339(*row.ended_at) : "NULL") +
                                      ", expected " + rfc3339(*s.ended_at)});
    if (s.version == Version::v16 && row.meter_start != s.meter_start)
      issues.push_back({property::kStoredOnce,
                        "meter_start_wh " +
                            (row.meter_start ? std::to_string(*row.meter_start) : "NULL") +
                            ", expected " + std::to_string(s.meter_start)});
    if (s.ended && row.meter_stop != s.meter_stop)
      issues.push_back(
          {property::kStoredOnce, "meter_stop_wh " +
                                      (row.meter_stop ? std::to_string(*row.meter_stop) : "NULL") +
                                      ", expected " + std::to_string(*s.meter_stop)});
    if (!row.first || !row.last) {
      issues.push_back({property::kEnergy, "no register span stored, expected " +
                                               fixed3(s.first()) + ".." + fixed3(s.last())});
    } else if (!near(*row.last - *row.first, s.energy())) {
      issues.push_back({property::kEnergy,
                        "energy " + fixed3(*row.last - *row.first) + " Wh (registers " +
                            fixed3(*row.first) + ".." + fixed3(*row.last) + "), expected " +
                            fixed3(s.energy()) + " Wh (" +
                            (s.version == Version::v16 && s.ended
                                 ? "meterStop " + std::to_string(*s.meter_stop) + " - meterStart " +
                                       std::to_string(s.meter_start)
                                 : "register span " + fixed3(s.first()) + ".." + fixed3(s.last())) +
                            ")"});
    }
    return issues;
  }

  std::string history_of(const Session& s) {
    std::string text;
    for (const auto& h : s.history) text += "\n      " + h;
    return text;
  }

  // A session as stored right when it ended: what "ended sessions never change" compares with.
  void snapshot(int si) {
    auto& s = session(si);
    if (s.version != Version::v16) look_up(si);
    if (!s.db_id) return;
    try {
      pqxx::read_transaction tx(*database());
      auto rows = tx.exec_params(std::string(kTransactionColumns) + "WHERE id = $1", *s.db_id);
      if (rows.empty()) return;
      const auto issues = compare(s, stored_row(rows[0]));
      s.snapshot_ok = issues.empty();
      for (const auto& [property, issue] : issues)
        violate(property, session_name(si) + " as stored when it ended: " + issue +
                              "; messages:" + history_of(s));
    } catch (const std::exception&) {
      db_.reset();
    }
  }

  // ---- the commands

  void prologue() {
    const auto base = epoch_of(2026, 3, 1);
    for (std::size_t i = 0; i < scenario_.stations.size(); ++i) {
      Station st;
      st.index = static_cast<int>(i);
      st.version = scenario_.stations[i];
      st.id = prefix_ + std::string(version_name(st.version)) + "-" + std::to_string(i);
      std::erase(st.id, '.');
      st.clock = base;
      // Far apart per station: a reading that lands in another station's session shows.
      for (std::size_t e = 0; e < 3; ++e)
        st.registers[e] =
            10'000'000LL * static_cast<long long>(i + 1) + 1'000'000LL * static_cast<long long>(e);
      stations_.push_back(std::move(st));
    }
    for (auto& st : stations_) {
      st.client = connect(st);
      trace(st.id + " connects (" + subprotocol(st.version) + ")");
      Pick p{scenario_.seed ^ static_cast<std::uint64_t>(st.index)};
      send(st, boot(st, p), false, p);
      // Connected again once registered, the server knows its credentials: a station it has
      // never seen registered cannot connect while the database is away (HTTP 503, covered by
      // tests/security), which would leave it out of the outage.
      reconnect(st, 0);
    }
    out_.prologue_lines = out_.trace.size();
  }

  void execute(const Command& c) {
    Pick p{c.pick};
    if (c.op == Op::DatabaseDown) {
      if (db_down_) return;
      trace("database goes away");
      db_.reset();
      h_.postgres.stop();
      db_down_ = true;
      return;
    }
    if (c.op == Op::DatabaseUp) {
      if (db_down_) database_up();
      return;
    }
    auto& st = stations_.at(static_cast<std::size_t>(c.station));
    switch (c.op) {
      case Op::Reconnect:
        reconnect(st, p.below(3));
        return;
      case Op::Reboot:
        reconnect(st, p.below(3));
        if (st.pending)
          deliver(st, st.pending);
        else
          send(st, boot(st, p), false, p);
        return;
      case Op::Resend:
        if (!st.recent.empty()) deliver(st, st.recent[p.below(st.recent.size())]);
        return;
      default:
        break;
    }
    auto out = build(st, c, p);
    if (!out) return;
    // A station sends what it was told to send again later before anything new that must
    // be stored (a message refused on purpose goes through: it is never "try again later").
    if (out->needs_database && out->flaw == Flaw::None && st.pending) {
      deliver(st, st.pending);
      return;
    }
    send(st, std::move(*out), c.reuse_id, p);
  }

  void database_up() {
    h_.postgres.start();
    db_down_ = false;
    db_up_at_ = Clock::now();
    trace("database is back");
    drain(kGrace + std::chrono::seconds(5), false);
  }

  // Sends every message answered "try again later" again until it is stored.
  void drain(std::chrono::seconds limit, bool final) {
    const auto deadline = Clock::now() + limit;
    for (auto& st : stations_) {
      while (st.pending && !aborted_) {
        deliver(st, st.pending);
        if (!st.pending) break;
        if (Clock::now() >= deadline) {
          if (final)
            violate(property::kTransient,
                    "answered 'try again later' and still refused " +
                        std::to_string(limit.count()) + " s after the database came back: " +
                        st.pending->what + ": frame " + shorten(st.pending->frame));
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }

  void finish() {
    if (db_down_) database_up();
    drain(kDrainLimit, true);
    if (aborted_) return;
    check_database();
    check_api();
  }

  // ---- after the run: the database against the model

  void check_database() {
    pqxx::connection c(h_.postgres.url());
    pqxx::read_transaction tx(c);
    const std::string like = prefix_ + "%";
    std::map<std::string, int> station_index;
    for (const auto& st : stations_) station_index[st.id] = st.index;

    // Transactions: each acknowledged start once, as the model has it; no other.
    std::map<long long, int> session_of_id;  // transactions.id -> model session
    std::map<long long, std::string> owner;  // transactions.id -> station, for this run
    std::vector<bool> seen(sessions_.size(), false);
    for (const auto& row : tx.exec_params(
             std::string(kTransactionColumns) + "WHERE station_id LIKE $1 ORDER BY id", like)) {
      const auto id = row["id"].as<long long>();
      const auto station_id = row["station_id"].as<std::string>();
      const auto uid = row["transaction_uid"].as<std::string>();
      owner[id] = station_id;
      const int si = find_session(station_index.at(station_id), uid, id);
      if (si < 0) {
        violate(property::kStoredOnce, "a transaction that no acknowledged message started: id " +
                                           std::to_string(id) + ", " + station_id +
                                           ", transaction_uid '" + json(uid).dump() + "', state " +
                                           row["state"].as<std::string>() +
                                           messages_naming(station_index.at(station_id), uid));
        continue;
      }
      seen[static_cast<std::size_t>(si)] = true;
      session_of_id[id] = si;
      auto& s = session(si);
      s.db_id = id;
      const auto issues = compare(s, stored_row(row));
      if (issues.empty()) continue;
      for (const auto& [property, issue] : issues) {
        if (s.ended && !s.snapshot_ok) break;  // reported when it ended
        const char* broken = property;
        std::string why;
        if (s.ended) {
          broken = property::kEndedImmutable;
          why = " (it was stored right when it ended; it changed after";
          for (const auto& a : s.after_end) why += "\n      " + a;
          why += s.after_end.empty() ? " no message of the model named it)" : ")";
        } else if (s.named_by_other) {
          broken = property::kIsolation;
          why = " (another station's message named it)";
        }
        violate(broken, session_name(si) + ": " + issue + why + "; messages:" + history_of(s));
      }
    }
    for (std::size_t i = 0; i < sessions_.size(); ++i)
      if (!seen[i])
        violate(property::kStoredOnce,
                "an acknowledged start is not stored: " + session_name(static_cast<int>(i)) +
                    history_of(sessions_[i]));

    // Meter values: each acknowledged sample once, with its value and the session it may name.
    std::vector<std::set<RowKey>> found(stations_.size());
    for (const auto& row : tx.exec_params(
             "SELECT station_id, evse_id, extract(epoch FROM sampled_at)::bigint AS at, measurand, "
             "context, phase, location, format, value, transaction_id FROM meter_values "
             "WHERE station_id LIKE $1",
             like)) {
      const auto station_id = row["station_id"].as<std::string>();
      auto& st = stations_[static_cast<std::size_t>(station_index.at(station_id))];
      const RowKey key{row["at"].as<std::int64_t>(), row["measurand"].as<std::string>()};
      const std::string shown =
          station_id + " sample " + rfc3339(key.first) + " " + key.second + " = " +
          (row["value"].is_null() ? "NULL" : row["value"].c_str()) + ", transaction_id " +
          (row["transaction_id"].is_null() ? "NULL" : row["transaction_id"].c_str());
      auto it = st.rows.find(key);
      if (it == st.rows.end()) {
        violate(property::kStoredOnce, "a meter value that no acknowledged message sent: " + shown +
                                           messages_at(st, key.first));
        continue;
      }
      found[static_cast<std::size_t>(st.index)].insert(key);
      const auto& expected = it->second;
      if (row["value"].is_null() || !near(row["value"].as<double>(), expected.value) ||
          (expected.evse >= 0 && row["evse_id"].as<int>() != expected.evse) ||
          row["context"].as<std::string>() != expected.context ||
          !row["phase"].as<std::string>().empty() || !row["location"].as<std::string>().empty() ||
          row["format"].as<std::string>() != "Raw")
        violate(property::kStoredOnce, "a meter value is stored otherwise than sent: " + shown +
                                           ", evse " + row["evse_id"].c_str() + ", context '" +
                                           row["context"].c_str() + "'; sent: value " +
                                           fixed3(expected.value) + ", evse " +
                                           std::to_string(expected.evse) + ", context '" +
                                           expected.context + "' by " + expected.origin);
      check_link(st, row["transaction_id"], expected, shown, session_of_id, owner, tx);
    }
    for (const auto& st : stations_)
      for (const auto& [key, expected] : st.rows)
        if (!found[static_cast<std::size_t>(st.index)].count(key))
          violate(property::kStoredOnce, "an acknowledged meter value is not stored: " + st.id +
                                             " " + rfc3339(key.first) + " " + key.second +
                                             " sent by " + expected.origin);

    // No station's samples in another station's session, this run's or any other.
    for (const auto& row : tx.exec_params(
             "SELECT m.station_id, m.transaction_id, t.station_id AS owner, m.sampled_at, "
             "m.measurand, m.value FROM meter_values m JOIN transactions t "
             "ON t.id = m.transaction_id WHERE m.station_id <> t.station_id "
             "AND (m.station_id LIKE $1 OR t.station_id LIKE $1) LIMIT 20",
             like))
      violate(property::kIsolation, std::string(row["station_id"].c_str()) + "'s sample " +
                                        row["sampled_at"].c_str() + " " + row["measurand"].c_str() +
                                        " = " + row["value"].c_str() + " is in transaction " +
                                        row["transaction_id"].c_str() + " of " +
                                        row["owner"].c_str());

    // 2.x TransactionEvents: each acknowledged one once.
    std::map<std::string, std::set<std::pair<std::string, int>>> events;
    for (const auto& row :
         tx.exec_params("SELECT station_id, transaction_uid, seq_no FROM transaction_events "
                        "WHERE station_id LIKE $1",
                        like))
      events[row[0].as<std::string>()].insert({row[1].as<std::string>(), row[2].as<int>()});
    for (const auto& st : stations_) {
      if (st.v16()) continue;
      const auto& stored = events[st.id];
      for (const auto& e : st.events_required)
        if (!stored.count(e))
          violate(property::kStoredOnce, st.id + ": acknowledged TransactionEvent '" + e.first +
                                             "' seqNo " + std::to_string(e.second) +
                                             " is not stored");
      for (const auto& e : stored)
        if (!st.events_required.count(e) && !st.events_optional.count(e))
          violate(property::kStoredOnce, st.id + ": TransactionEvent '" + json(e.first).dump() +
                                             "' seqNo " + std::to_string(e.second) +
                                             " is stored but no acknowledged message sent it" +
                                             messages_naming(st.index, e.first));
    }

    // StatusNotification: each acknowledged one once in the history.
    std::map<std::string, std::multimap<std::int64_t, std::string>> history;
    for (const auto& row :
         tx.exec_params("SELECT station_id, extract(epoch FROM reported_at)::bigint, status "
                        "FROM status_history WHERE station_id LIKE $1",
                        like))
      history[row[0].as<std::string>()].emplace(row[1].as<std::int64_t>(),
                                                row[2].as<std::string>());
    for (const auto& st : stations_) {
      const std::multimap<std::int64_t, std::string> expected(st.statuses.begin(),
                                                              st.statuses.end());
      const auto& stored = history[st.id];
      if (stored == expected) continue;
      std::string diff;
      for (const auto& [at, status] : expected)
        if (stored.count(at) != 1)
          diff += " " + rfc3339(at) + " " + status + " stored " + std::to_string(stored.count(at)) +
                  " times;";
      for (const auto& [at, status] : stored)
        if (!expected.count(at)) diff += " " + rfc3339(at) + " " + status + " never acknowledged;";
      violate(property::kStoredOnce, st.id +
                                         ": the status history differs from the acknowledged "
                                         "StatusNotifications:" +
                                         diff);
    }

    // DataTransfer: each acknowledged one once.
    std::map<std::string, std::multiset<std::string>> transfers;
    for (const auto& row :
         tx.exec_params("SELECT station_id, payload->>'data' FROM station_notifications "
                        "WHERE kind = 'DataTransfer' AND station_id LIKE $1",
                        like))
      transfers[row[0].as<std::string>()].insert(row[1].is_null() ? "" : row[1].as<std::string>());
    for (const auto& st : stations_)
      if (transfers[st.id] != st.data_transfers)
        violate(property::kStoredOnce, st.id + ": " + std::to_string(transfers[st.id].size()) +
                                           " DataTransfer messages stored, " +
                                           std::to_string(st.data_transfers.size()) +
                                           " acknowledged (each must be stored once)");
  }

  void check_link(const Station& st, const pqxx::field& field, const ExpectedRow& expected,
                  const std::string& shown, const std::map<long long, int>& session_of_id,
                  const std::map<long long, std::string>& owner, pqxx::read_transaction& tx) {
    using Kind = Link::Kind;
    if (field.is_null()) {
      if (expected.link.kind == Kind::Session)
        violate(property::kStoredOnce, "a meter value of " + session_name(expected.link.session) +
                                           " is stored without its transaction: " + shown +
                                           ", sent by " + expected.origin);
      return;
    }
    const auto id = field.as<long long>();
    std::string holder;
    if (auto it = owner.find(id); it != owner.end()) {
      holder = it->second;
    } else {
      auto rows = tx.exec_params("SELECT station_id FROM transactions WHERE id = $1", id);
      if (!rows.empty()) holder = rows[0][0].as<std::string>();
    }
    if (holder.empty()) {
      violate(property::kIsolation, "a meter value names a transaction that does not exist: " +
                                        shown + "; sent by " + expected.origin);
      return;
    }
    if (holder != st.id) {
      violate(property::kIsolation, "a meter value is in another station's session: " + shown +
                                        " belongs to " + holder + "'s transaction; sent by " +
                                        expected.origin);
      return;
    }
    const auto it = session_of_id.find(id);
    const int si = it == session_of_id.end() ? -1 : it->second;
    const bool ok =
        expected.link.kind == Kind::OwnOrNone ||
        ((expected.link.kind == Kind::Session || expected.link.kind == Kind::SessionOrNone) &&
         si == expected.link.session);
    if (!ok)
      violate(property::kStoredOnce,
              "a meter value names the wrong transaction: " + shown + "; expected " +
                  (expected.link.kind == Kind::None ? std::string("none")
                                                    : session_name(expected.link.session)) +
                  ", sent by " + expected.origin);
  }

  int find_session(int station, const std::string& uid, long long id) {
    for (std::size_t i = 0; i < sessions_.size(); ++i) {
      const auto& s = sessions_[i];
      if (s.station != station) continue;
      if (s.version == Version::v16 ? (s.db_id && *s.db_id == id) : s.uid == uid)
        return static_cast<int>(i);
    }
    return -1;
  }

  std::string messages_naming(int station, const std::string& uid) {
    std::string text;
    for (const auto& m : stations_[static_cast<std::size_t>(station)].messages)
      if (m->payload_text.find(json(uid).dump()) != std::string::npos ||
          m->payload_text.find("\"transactionId\":" + uid) != std::string::npos)
        text += "\n      " + m->what + " -> " + state_name(m->state);
    return text.empty() ? text : "; messages naming it:" + text;
  }

  std::string messages_at(const Station& st, std::int64_t at) {
    const auto stamp = "\"" + rfc3339(at) + "\"";
    std::string text;
    for (const auto& m : st.messages)
      if (m->payload_text.find(stamp) != std::string::npos)
        text += "\n      " + m->what + " -> " + state_name(m->state);
    return text.empty() ? text : "; sent by:" + text;
  }

  static const char* state_name(Message::State state) {
    switch (state) {
      case Message::State::New:
        return "unanswered";
      case Message::State::Acknowledged:
        return "acknowledged";
      case Message::State::Refused:
        return "refused";
      case Message::State::Pending:
        return "try again later";
    }
    return "?";
  }

  // A few sessions through the REST API: the foreign-named ones first, then ended ones.
  void check_api() {
    std::vector<int> picked;
    for (std::size_t i = 0; i < sessions_.size() && picked.size() < 4; ++i)
      if (sessions_[i].named_by_other) picked.push_back(static_cast<int>(i));
    for (std::size_t i = 0; i < sessions_.size() && picked.size() < 6; ++i)
      if (sessions_[i].ended && !sessions_[i].named_by_other) picked.push_back(static_cast<int>(i));
    testing::ApiClient api(h_.server->http_port(), h_.admin_key);
    for (int si : picked) {
      const auto& s = session(si);
      if (!s.db_id) continue;
      const auto& st = stations_[static_cast<std::size_t>(s.station)];
      const auto path = "/sessions/" + std::to_string(*s.db_id);
      auto got = api.get(path);
      if (got.status != 200) {
        violate(property::kStoredOnce, "GET " + path + " answered " + std::to_string(got.status));
        continue;
      }
      const auto& d = got.data;
      if (d.value("station_id", "") != st.id)
        violate(property::kIsolation, "GET " + path + " shows station " +
                                          d.value("station_id", "") + " for " + session_name(si));
      if (!d["energy_imported_wh"].is_number() ||
          !near(d["energy_imported_wh"].get<double>(), s.energy()))
        violate(s.ended && s.snapshot_ok ? property::kEndedImmutable : property::kEnergy,
                "GET " + path + " shows energy_imported_wh " + d["energy_imported_wh"].dump() +
                    ", expected " + fixed3(s.energy()) + " for " + session_name(si) +
                    history_of(s));
      auto values = api.get(path + "/meter-values?limit=500");
      if (values.status != 200 || !values.data.contains("items")) {
        violate(property::kStoredOnce,
                "GET " + path + "/meter-values answered " + std::to_string(values.status));
        continue;
      }
      for (const auto& item : values.data["items"]) {
        const auto at = parse_time(item.value("sampled_at", ""));
        const RowKey key{at.value_or(0), item.value("measurand", "")};
        auto it = st.rows.find(key);
        const bool mine = it != st.rows.end() && (it->second.link.kind == Link::Kind::OwnOrNone ||
                                                  it->second.link.session == si);
        if (!mine)
          violate(it == st.rows.end() ? property::kIsolation : property::kStoredOnce,
                  "GET " + path + "/meter-values shows " + item.dump() + ", which " +
                      (it == st.rows.end()
                           ? "the session's station never sent"
                           : "its station sent for another purpose: " + it->second.origin));
      }
    }
  }

  Harness::Impl& h_;
  const Scenario& scenario_;
  std::string prefix_;
  std::vector<Station> stations_;
  std::vector<Session> sessions_;
  std::map<long long, std::string> issued_;  // 1.6 transactionIds given out, and to whom
  bool db_down_ = false;
  std::optional<Clock::time_point> db_up_at_;
  std::optional<pqxx::connection> db_;
  bool aborted_ = false;
  const Message* acking_ = nullptr;
  RunOutcome out_;
};

}  // namespace

RunOutcome Harness::run(const Scenario& scenario, const std::vector<Command>& commands,
                        const std::string& station_prefix) {
  Run run(*impl_, scenario, station_prefix);
  return run.go(commands);
}

}  // namespace chargegrid::model

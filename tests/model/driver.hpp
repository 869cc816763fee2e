#pragma once
// Runs a scenario against a real chargegridd (in-process Server) on a private PostgreSQL that
// the run stops and starts, with one WebSocket connection per station sending raw frames, and
// checks the server against the reference model: online (each answer as it arrives) and,
// after the run, the database and the REST API.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "scenario.hpp"

namespace chargegrid::model {

// A broken property and what shows it.
struct Violation {
  std::string property;
  std::string detail;
};

// The properties, by the name a failure reports.
namespace property {
inline constexpr const char* kAnswers = "answers";  // resends, new ids, refusals as specified
inline constexpr const char* kStoredOnce =
    "stored-once";                                      // acknowledged effect stored exactly once
inline constexpr const char* kIsolation = "isolation";  // no station's data in another's session
inline constexpr const char* kEndedImmutable = "ended-immutable";
inline constexpr const char* kEnergy = "energy";        // stop - start (1.6), register span (2.x)
inline constexpr const char* kTransient = "transient";  // try-again-later only while away; recovers
inline constexpr const char* kPermanent = "permanent";  // a permanent problem never InternalError
}  // namespace property

struct RunOutcome {
  std::vector<Violation> violations;
  std::vector<std::string> trace;  // every frame sent and answer received, in order
  std::size_t prologue_lines = 0;  // the trace's first lines: connects and boots
  std::size_t messages = 0;        // frames sent
  std::size_t refused_on_purpose = 0;
  std::size_t try_again_later = 0;
  std::size_t resends = 0;
  std::size_t sessions = 0;
  double seconds = 0;
};

// The server and its database, shared by the runs of one test (each run uses station ids of
// its own, so runs do not see each other's data).
class Harness {
 public:
  Harness();
  ~Harness();
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  RunOutcome run(const Scenario& scenario, const std::vector<Command>& commands,
                 const std::string& station_prefix);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace chargegrid::model

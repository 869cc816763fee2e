// The replay cache of StationRegistry: what a resend is answered with, and what is kept.

#include "connections/station_registry.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <thread>

using chargegrid::server::StationRegistry;

namespace {

std::string frame_of(int n) {
  return "[3,\"" + std::to_string(n) + "\",{\"n\":" + std::to_string(n) + "}]";
}

}  // namespace

TEST_CASE("A resend is the same id, action and frame, answered with what was kept",
          "[unit][replay]") {
  StationRegistry registry;
  CHECK_FALSE(registry.recall_answer("CP1", "1", "StatusNotification", 7));
  const std::string long_answer =
      "[3,\"a-message-id-longer-than-fifteen\",{\"status\":\"Accepted\"}]";
  registry.remember_answer("CP1", "a-message-id-longer-than-fifteen", "Authorize", 9, long_answer);
  registry.remember_answer("CP1", "1", "StatusNotification", 7, "[3,\"1\",{}]");

  CHECK(registry.recall_answer("CP1", "1", "StatusNotification", 7) == "[3,\"1\",{}]");
  CHECK(registry.recall_answer("CP1", "a-message-id-longer-than-fifteen", "Authorize", 9) ==
        long_answer);
  CHECK_FALSE(registry.recall_answer("CP1", "1", "StatusNotification", 8));  // another frame
  CHECK_FALSE(registry.recall_answer("CP1", "1", "MeterValues", 7));         // another action
  CHECK_FALSE(registry.recall_answer("CP1", "2", "StatusNotification", 7));  // another id
  CHECK_FALSE(registry.recall_answer("CP2", "1", "StatusNotification", 7));  // another station
  // The id's end is not taken for the frame's start.
  CHECK_FALSE(registry.recall_answer("CP1", "", "StatusNotification", 7));
  CHECK_FALSE(registry.recall_answer("CP1", "1[", "StatusNotification", 7));
}

TEST_CASE("The replay cache keeps a station's last kAnswersKept answers, oldest first",
          "[unit][replay]") {
  StationRegistry registry;
  constexpr int kept = static_cast<int>(StationRegistry::kAnswersKept);
  for (int n = 0; n < kept; ++n)
    registry.remember_answer("CP1", std::to_string(n), "MeterValues", n, frame_of(n));
  for (int n = 0; n < kept; ++n)
    CHECK(registry.recall_answer("CP1", std::to_string(n), "MeterValues", n) == frame_of(n));

  // Each further answer evicts the oldest one, round after round.
  for (int n = kept; n < 3 * kept + 5; ++n) {
    registry.remember_answer("CP1", std::to_string(n), "MeterValues", n, frame_of(n));
    CHECK_FALSE(registry.recall_answer("CP1", std::to_string(n - kept), "MeterValues", n - kept));
    CHECK(registry.recall_answer("CP1", std::to_string(n - kept + 1), "MeterValues",
                                 n - kept + 1) == frame_of(n - kept + 1));
    CHECK(registry.recall_answer("CP1", std::to_string(n), "MeterValues", n) == frame_of(n));
  }

  // The same message answered twice: the older answer is the one given again.
  StationRegistry twice;
  twice.remember_answer("CP1", "1", "DataTransfer", 5, "first");
  twice.remember_answer("CP1", "1", "DataTransfer", 5, "second");
  CHECK(twice.recall_answer("CP1", "1", "DataTransfer", 5) == "first");
  for (int n = 0; n < kept - 1; ++n)
    twice.remember_answer("CP1", "x" + std::to_string(n), "DataTransfer", n, "other");
  CHECK(twice.recall_answer("CP1", "1", "DataTransfer", 5) == "second");
}

TEST_CASE("A station's kept answers go once its newest is older than the resend window",
          "[unit][replay]") {
  using namespace std::chrono_literals;
  StationRegistry registry;
  const auto start = std::chrono::steady_clock::now();
  constexpr int kept = static_cast<int>(StationRegistry::kAnswersKept);
  // CP1's ring wraps round; CP2 keeps one answer.
  for (int n = 0; n < kept + 3; ++n)
    registry.remember_answer("CP1", std::to_string(n), "MeterValues", n, frame_of(n));
  registry.remember_answer("CP2", "1", "Authorize", 1, frame_of(1));

  // Within the window nothing goes.
  CHECK(registry.forget_expired_answers(start + StationRegistry::kResendWindow - 1s) == 0);
  CHECK(registry.recall_answer("CP1", std::to_string(kept + 2), "MeterValues", kept + 2));
  CHECK(registry.recall_answer("CP2", "1", "Authorize", 1));

  // CP1 answers again a little later: at the window's end only CP2's answers go.
  std::this_thread::sleep_for(20ms);
  const auto late = std::chrono::steady_clock::now();
  registry.remember_answer("CP1", "late", "MeterValues", 99, frame_of(99));
  CHECK(registry.forget_expired_answers(late + StationRegistry::kResendWindow - 1ms) == 1);
  CHECK_FALSE(registry.recall_answer("CP2", "1", "Authorize", 1));
  CHECK(registry.recall_answer("CP1", "late", "MeterValues", 99) == frame_of(99));

  // And once CP1's newest is too old, CP1's go as well; a new answer starts afresh.
  CHECK(registry.forget_expired_answers(std::chrono::steady_clock::now() +
                                        StationRegistry::kResendWindow + 1s) == 1);
  CHECK(registry.forget_expired_answers(std::chrono::steady_clock::now()) == 0);
  registry.remember_answer("CP1", "new", "MeterValues", 7, frame_of(7));
  CHECK(registry.recall_answer("CP1", "new", "MeterValues", 7) == frame_of(7));
  CHECK_FALSE(registry.recall_answer("CP1", "late", "MeterValues", 99));
}

#pragma once
// The smart-charging loop's clock. In production it is the wall clock. For benchmarks and
// tests (--smart-charging-time-scale, not for production) it is a replay timeline: from a
// wall instant on, replay time runs `scale` times as fast as the wall clock from a given
// replay instant, so that recorded sessions replayed by simulated stations on the same
// timeline (chargegrid-sim --time-scale) are planned with their own hours and energy per slot.
// The database and the wire keep wall-clock times: the loop reads the times it plans with
// through to_replay and writes a profile's startSchedule through to_wall; the periods of a
// profile count replay seconds, as a station simulated at the same scale counts them.

#include <chrono>
#include <cstdint>

#include "smart_charging/planning.hpp"

namespace chargegrid::server::smart_charging {

class LoopClock {
 public:
  using Wall = std::chrono::system_clock::time_point;

  // The wall clock.
  LoopClock() = default;
  // Replay time `replay_origin` at `wall_origin`, then `scale` replay seconds per wall second.
  LoopClock(int scale, Time replay_origin, Time wall_origin)
      : replayed_(true), scale_(scale), replay_origin_(replay_origin), wall_origin_(wall_origin) {}

  bool replayed() const { return replayed_; }
  int scale() const { return scale_; }

  Time now() const { return to_replay(std::chrono::system_clock::now()); }

  // The replay instant of a wall instant (floored to a second).
  Time to_replay(Wall wall) const {
    if (!replayed_) return std::chrono::floor<std::chrono::seconds>(wall);
    const auto since = std::chrono::duration_cast<std::chrono::milliseconds>(wall - wall_origin_);
    return replay_origin_ +
           std::chrono::floor<std::chrono::seconds>(since * static_cast<std::int64_t>(scale_));
  }
  std::int64_t to_replay_s(std::int64_t wall_s) const {
    return to_replay(Wall{std::chrono::seconds{wall_s}}).time_since_epoch().count();
  }

  // The wall instant of a replay instant (floored to a second: the wire's resolution; exact
  // for slot boundaries, which the configuration keeps whole wall seconds apart).
  Time to_wall(Time replay) const {
    if (!replayed_) return replay;
    return wall_origin_ +
           std::chrono::floor<std::chrono::seconds>((replay - replay_origin_) / scale_);
  }

 private:
  bool replayed_ = false;
  int scale_ = 1;
  Time replay_origin_{};
  Time wall_origin_{};
};

}  // namespace chargegrid::server::smart_charging

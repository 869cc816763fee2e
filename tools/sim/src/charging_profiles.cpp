#include "charging_profiles.hpp"

#include <algorithm>
#include <cmath>

#include "chargegrid/base/time.hpp"

namespace chargegrid::sim::detail {

namespace {

constexpr double kDaySeconds = 86400.0;

double seconds_between(Timestamp from, Timestamp to) {
  return std::chrono::duration<double>(to - from).count();
}

Timestamp after(Timestamp at, double seconds) {
  return at +
         std::chrono::duration_cast<Timestamp::duration>(std::chrono::duration<double>(seconds));
}

// --- Reading a payload ----------------------------------------------------------------------

const Json& field(const Json& object, const char* name) {
  if (!object.is_object() || !object.contains(name)) {
    throw ProfileMalformed("OccurrenceConstraintViolation", std::string("missing ") + name);
  }
  return object.at(name);
}

int integer(const Json& object, const char* name) {
  const Json& value = field(object, name);
  if (!value.is_number_integer()) {
    throw ProfileMalformed("TypeConstraintViolation", std::string(name) + " must be an integer");
  }
  return value.get<int>();
}

std::string text(const Json& object, const char* name) {
  const Json& value = field(object, name);
  if (!value.is_string()) {
    throw ProfileMalformed("TypeConstraintViolation", std::string(name) + " must be a string");
  }
  return value.get<std::string>();
}

std::optional<double> optional_number(const Json& object, const char* name) {
  if (!object.contains(name)) return std::nullopt;
  if (!object[name].is_number()) {
    throw ProfileMalformed("TypeConstraintViolation", std::string(name) + " must be a number");
  }
  return object[name].get<double>();
}

std::optional<Timestamp> optional_time(const Json& object, const char* name) {
  if (!object.contains(name)) return std::nullopt;
  const auto parsed = object[name].is_string()
                          ? base::parse_rfc3339(object[name].get<std::string>())
                          : std::nullopt;
  if (!parsed) {
    throw ProfileMalformed("FormatViolation", std::string(name) + " must be an RFC 3339 time");
  }
  return *parsed;
}

ProfilePurpose read_purpose(OcppVersion version, const std::string& purpose) {
  if (const auto known = purpose_named(version, purpose)) return *known;
  // ChargingStationExternalConstraints is the station's own to report, 2.1's priority and
  // local-generation profiles are not simulated.
  throw ProfileRejected("purpose " + purpose + " is not accepted");
}

SchedulePeriod read_period(OcppVersion version, const Json& p) {
  SchedulePeriod period;
  period.start_s = integer(p, "startPeriod");
  const bool v21 = version == OcppVersion::v21;
  const std::string mode = p.value("operationMode", std::string("ChargingOnly"));
  if (v21 && mode != "ChargingOnly" && mode != "CentralSetpoint") {
    throw ProfileRejected("operationMode " + mode + " is not supported");
  }
  // 2.1 may leave the limit out of a setpoint period; before 2.1 it is required.
  if (v21 && !p.contains("limit")) {
    period.limit = -1;
  } else {
    field(p, "limit");
    period.limit = *optional_number(p, "limit");
    if (period.limit < 0) throw ProfileRejected("a limit below zero");
  }
  if (p.contains("numberPhases")) {
    const int phases = integer(p, "numberPhases");
    if (phases < 1 || phases > 3) throw ProfileRejected("numberPhases must be 1, 2 or 3");
    period.phases = phases;
  }
  if (v21) {
    period.setpoint = optional_number(p, "setpoint");
    period.discharge_limit = optional_number(p, "dischargeLimit");
    if (period.discharge_limit && *period.discharge_limit > 0) {
      throw ProfileRejected("dischargeLimit must be zero or below");
    }
    if (period.setpoint && mode != "CentralSetpoint") {
      throw ProfileRejected("a setpoint needs operationMode CentralSetpoint");
    }
    if (mode == "CentralSetpoint" && !period.setpoint) {
      throw ProfileRejected("operationMode CentralSetpoint needs a setpoint");
    }
    if (period.limit < 0 && !period.setpoint) throw ProfileRejected("a period without a limit");
  }
  return period;
}

// The schedule's unit, start, duration and periods into `profile`.
void read_schedule(OcppVersion version, const Json& schedule, ChargingProfile& profile) {
  const std::string unit = text(schedule, "chargingRateUnit");
  if (unit != "A" && unit != "W") throw ProfileRejected("chargingRateUnit must be A or W");
  profile.unit = unit == "A" ? RateUnit::A : RateUnit::W;
  profile.start_schedule = optional_time(schedule, "startSchedule");
  profile.duration_s = optional_number(schedule, "duration");
  if (profile.duration_s && *profile.duration_s <= 0) throw ProfileRejected("duration must be > 0");
  const Json& periods = field(schedule, "chargingSchedulePeriod");
  if (!periods.is_array() || periods.empty()) {
    throw ProfileMalformed("OccurrenceConstraintViolation", "chargingSchedulePeriod is empty");
  }
  for (const auto& p : periods) {
    SchedulePeriod period = read_period(version, p);
    const double previous = profile.periods.empty() ? -1 : profile.periods.back().start_s;
    if (period.start_s <= previous) throw ProfileRejected("startPeriod must increase");
    profile.periods.push_back(period);
  }
  if (profile.periods.front().start_s != 0) throw ProfileRejected("the first startPeriod is not 0");
}

// --- Evaluating -----------------------------------------------------------------------------

bool applies_to(const ChargingProfile& p, ProfilePurpose purpose, int evse,
                const std::optional<RunningTransaction>& tx) {
  if (p.purpose != purpose) return false;
  switch (purpose) {
    case ProfilePurpose::StationMax:
      return true;
    case ProfilePurpose::TxDefault:
      return p.evse == 0 || p.evse == evse;
    case ProfilePurpose::Tx:
      return p.evse == evse && tx && (!p.transaction_id || *p.transaction_id == tx->id);
  }
  return false;
}

// When the schedule's current run began at `at`, if it runs then.
std::optional<Timestamp> schedule_origin(const ChargingProfile& p,
                                         const std::optional<RunningTransaction>& tx,
                                         Timestamp at) {
  switch (p.kind) {
    case ProfileKind::Absolute:
      if (p.start_schedule) return p.start_schedule;
      if (p.purpose == ProfilePurpose::StationMax) return p.received;
      return tx ? std::optional(tx->started) : std::nullopt;
    case ProfileKind::Relative:
      if (tx) return tx->started;
      return p.purpose == ProfilePurpose::StationMax ? std::optional(p.received) : std::nullopt;
    case ProfileKind::Recurring: {
      const Timestamp start = p.start_schedule.value_or(p.received);
      const double cycle = p.weekly ? 7 * kDaySeconds : kDaySeconds;
      const double runs = std::floor(seconds_between(start, at) / cycle);
      return after(start, runs * cycle);
    }
  }
  return std::nullopt;
}

// The period of `p` in force at `at`, if the profile is in force then.
const SchedulePeriod* period_at(const ChargingProfile& p,
                                const std::optional<RunningTransaction>& tx, Timestamp at) {
  if (p.valid_from && at < *p.valid_from) return nullptr;
  if (p.valid_to && at >= *p.valid_to) return nullptr;
  const auto origin = schedule_origin(p, tx, at);
  if (!origin) return nullptr;
  const double elapsed = seconds_between(*origin, at);
  if (elapsed < 0 || (p.duration_s && elapsed >= *p.duration_s)) return nullptr;
  const SchedulePeriod* found = nullptr;
  for (const auto& period : p.periods)
    if (period.start_s <= elapsed) found = &period;
  return found;
}

struct InForce {
  const ChargingProfile* profile = nullptr;
  const SchedulePeriod* period = nullptr;
};

// The active profile of the highest stack level among those `accept` takes.
template <class Accept>
InForce highest(const std::vector<ChargingProfile>& profiles,
                const std::optional<RunningTransaction>& tx, Timestamp at, Accept accept) {
  InForce best;
  for (const auto& p : profiles) {
    if (!accept(p)) continue;
    if (best.profile && p.stack_level <= best.profile->stack_level) continue;
    if (const auto* period = period_at(p, tx, at)) best = {&p, period};
  }
  return best;
}

double to_watts(const InForce& in_force, double value, const Electrics& electrics) {
  if (in_force.profile->unit == RateUnit::W) return value;
  return value * electrics.voltage_v * in_force.period->phases.value_or(electrics.phases);
}

}  // namespace

std::optional<ProfilePurpose> purpose_named(OcppVersion version, const std::string& purpose) {
  const bool v16 = version == OcppVersion::v16;
  if (purpose == (v16 ? "ChargePointMaxProfile" : "ChargingStationMaxProfile")) {
    return ProfilePurpose::StationMax;
  }
  if (purpose == "TxDefaultProfile") return ProfilePurpose::TxDefault;
  if (purpose == "TxProfile") return ProfilePurpose::Tx;
  return std::nullopt;
}

ChargingProfile read_profile(OcppVersion version, int evse, const Json& payload,
                             Timestamp received) {
  const bool v16 = version == OcppVersion::v16;
  ChargingProfile profile;
  profile.received = received;
  profile.evse = evse;
  if (evse < 0) throw ProfileRejected("no such EVSE");
  profile.id = integer(payload, v16 ? "chargingProfileId" : "id");
  profile.stack_level = integer(payload, "stackLevel");
  if (profile.stack_level < 0) throw ProfileRejected("stackLevel below zero");
  profile.purpose = read_purpose(version, text(payload, "chargingProfilePurpose"));
  const std::string kind = text(payload, "chargingProfileKind");
  if (kind == "Absolute") {
    profile.kind = ProfileKind::Absolute;
  } else if (kind == "Recurring") {
    profile.kind = ProfileKind::Recurring;
  } else if (kind == "Relative") {
    profile.kind = ProfileKind::Relative;
  } else {
    throw ProfileRejected("chargingProfileKind " + kind + " is not supported");
  }
  if (profile.kind == ProfileKind::Recurring) {
    if (!payload.contains("recurrencyKind")) {
      throw ProfileRejected("a recurring profile needs a recurrencyKind");
    }
    const std::string recurrency = text(payload, "recurrencyKind");
    if (recurrency != "Daily" && recurrency != "Weekly") {
      throw ProfileRejected("recurrencyKind " + recurrency);
    }
    profile.weekly = recurrency == "Weekly";
  }
  profile.valid_from = optional_time(payload, "validFrom");
  profile.valid_to = optional_time(payload, "validTo");
  if (profile.valid_from && profile.valid_to && *profile.valid_to <= *profile.valid_from) {
    throw ProfileRejected("validTo is not after validFrom");
  }
  if (payload.contains("transactionId")) {
    const Json& id = payload["transactionId"];
    if (v16 ? !id.is_number_integer() : !id.is_string()) {
      throw ProfileMalformed("TypeConstraintViolation", "transactionId");
    }
    profile.transaction_id = v16 ? std::to_string(id.get<int>()) : id.get<std::string>();
    if (profile.purpose != ProfilePurpose::Tx) {
      throw ProfileRejected("only a TxProfile names a transaction");
    }
  }
  if (profile.purpose == ProfilePurpose::Tx && evse == 0) {
    throw ProfileRejected("a TxProfile is for one EVSE");
  }
  if (profile.purpose == ProfilePurpose::StationMax && evse != 0) {
    throw ProfileRejected("a station maximum is for EVSE 0");
  }
  if (v16) {
    read_schedule(version, field(payload, "chargingSchedule"), profile);
  } else {
    // 2.x: up to three schedules to choose from (ISO 15118); the station applies the first.
    const Json& schedules = field(payload, "chargingSchedule");
    if (!schedules.is_array() || schedules.empty()) {
      throw ProfileMalformed("OccurrenceConstraintViolation", "chargingSchedule is empty");
    }
    read_schedule(version, schedules[0], profile);
  }
  if (profile.kind == ProfileKind::Recurring && !profile.start_schedule) {
    throw ProfileRejected("a recurring schedule needs a startSchedule");
  }
  const bool setpoints =
      std::any_of(profile.periods.begin(), profile.periods.end(),
                  [](const SchedulePeriod& p) { return p.setpoint.has_value(); });
  if (setpoints && profile.purpose != ProfilePurpose::Tx &&
      profile.purpose != ProfilePurpose::TxDefault) {
    throw ProfileRejected("setpoints belong in a TxProfile or TxDefaultProfile");
  }
  return profile;
}

void ProfileStore::install(ChargingProfile profile) {
  std::erase_if(profiles_, [&](const ChargingProfile& held) {
    return held.id == profile.id ||
           (held.purpose == profile.purpose && held.stack_level == profile.stack_level &&
            held.evse == profile.evse);
  });
  profiles_.push_back(std::move(profile));
}

int ProfileStore::clear(std::optional<int> id, std::optional<int> evse,
                        std::optional<ProfilePurpose> purpose, std::optional<int> stack_level) {
  return static_cast<int>(std::erase_if(profiles_, [&](const ChargingProfile& p) {
    return (!id || p.id == *id) && (!evse || p.evse == *evse) &&
           (!purpose || p.purpose == *purpose) && (!stack_level || p.stack_level == *stack_level);
  }));
}

void ProfileStore::end_transaction(int evse) {
  std::erase_if(profiles_, [&](const ChargingProfile& p) {
    return p.purpose == ProfilePurpose::Tx && p.evse == evse;
  });
}

PowerLimit limit_at(const std::vector<ChargingProfile>& profiles, int evse,
                    const std::optional<RunningTransaction>& tx, Timestamp at,
                    const Electrics& electrics) {
  // A TxProfile over a TxDefaultProfile; one for this EVSE over one for all.
  InForce session = highest(profiles, tx, at, [&](const ChargingProfile& p) {
    return applies_to(p, ProfilePurpose::Tx, evse, tx);
  });
  if (!session.profile) {
    session = highest(profiles, tx, at, [&](const ChargingProfile& p) {
      return applies_to(p, ProfilePurpose::TxDefault, evse, tx) && p.evse == evse;
    });
  }
  if (!session.profile) {
    session = highest(profiles, tx, at, [&](const ChargingProfile& p) {
      return applies_to(p, ProfilePurpose::TxDefault, evse, tx) && p.evse == 0;
    });
  }
  const InForce station = highest(profiles, tx, at, [&](const ChargingProfile& p) {
    return applies_to(p, ProfilePurpose::StationMax, evse, tx);
  });

  PowerLimit limit;
  const auto lower_to = [&](double watts) {
    limit.max_w = limit.limited() ? std::min(limit.max_w, watts) : watts;
  };
  if (session.profile) {
    if (session.period->limit >= 0) lower_to(to_watts(session, session.period->limit, electrics));
    if (session.period->setpoint) {
      limit.setpoint_w = to_watts(session, *session.period->setpoint, electrics);
    }
    if (session.period->discharge_limit) {
      limit.max_discharge_w = -to_watts(session, *session.period->discharge_limit, electrics);
    }
    limit.phases = session.period->phases;
  }
  if (station.profile && station.period->limit >= 0) {
    lower_to(to_watts(station, station.period->limit, electrics));
  }
  // A setpoint to charge stays within the limits; one to discharge within the discharge limit.
  if (limit.setpoint_w && limit.limited())
    limit.setpoint_w = std::min(*limit.setpoint_w, limit.max_w);
  if (limit.setpoint_w && limit.max_discharge_w) {
    limit.setpoint_w = std::max(*limit.setpoint_w, -*limit.max_discharge_w);
  }
  return limit;
}

std::vector<Timestamp> limit_edges(const std::vector<ChargingProfile>& profiles,
                                   const std::optional<RunningTransaction>& tx, Timestamp from,
                                   Timestamp until) {
  // The edges of every profile's validity and of every period.
  std::vector<Timestamp> edges;
  const auto add = [&](Timestamp t) {
    if (t > from && t < until) edges.push_back(t);
  };
  for (const auto& p : profiles) {
    if (p.valid_from) add(*p.valid_from);
    if (p.valid_to) add(*p.valid_to);
    std::vector<Timestamp> origins;
    if (p.kind == ProfileKind::Recurring) {
      const double cycle = p.weekly ? 7 * kDaySeconds : kDaySeconds;
      for (auto origin = *schedule_origin(p, tx, from); origin < until;
           origin = after(origin, cycle))
        origins.push_back(origin);
    } else if (const auto origin = schedule_origin(p, tx, from)) {
      origins.push_back(*origin);
    }
    for (const auto origin : origins) {
      for (const auto& period : p.periods) add(after(origin, period.start_s));
      if (p.duration_s) add(after(origin, *p.duration_s));
    }
  }
  std::sort(edges.begin(), edges.end());
  edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
  return edges;
}

std::vector<CompositePeriod> composite_schedule(const std::vector<ChargingProfile>& profiles,
                                                int evse,
                                                const std::optional<RunningTransaction>& tx,
                                                Timestamp from, double duration_s, RateUnit unit,
                                                const Electrics& electrics, double unlimited_w) {
  std::vector<Timestamp> edges{from};
  const auto later = limit_edges(profiles, tx, from, after(from, duration_s));
  edges.insert(edges.end(), later.begin(), later.end());

  const auto in_unit = [&](double watts, std::optional<int> phases) {
    if (unit == RateUnit::W) return watts;
    return watts / (electrics.voltage_v * phases.value_or(electrics.phases));
  };
  std::vector<CompositePeriod> out;
  for (const auto edge : edges) {
    const PowerLimit limit = limit_at(profiles, evse, tx, edge, electrics);
    CompositePeriod period;
    period.start_s = std::floor(seconds_between(from, edge));
    period.limit = in_unit(limit.limited() ? limit.max_w : unlimited_w, limit.phases);
    period.phases = limit.phases;
    if (limit.setpoint_w) period.setpoint = in_unit(*limit.setpoint_w, limit.phases);
    if (!out.empty() && out.back().limit == period.limit && out.back().phases == period.phases &&
        out.back().setpoint == period.setpoint) {
      continue;
    }
    // Two changes within one second: the later one holds from that second on.
    if (!out.empty() && out.back().start_s == period.start_s) out.pop_back();
    out.push_back(period);
  }
  return out;
}

}  // namespace chargegrid::sim::detail

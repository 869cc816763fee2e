-- Smart charging (docs/smart-charging.md): what drivers declare, what ISO 15118 vehicles say
-- they need, each session's departure prediction, every charging profile sent with its
-- outcome, and each site's latest plan. The smart-charging service is the one writer.

-- A driver's declaration: for a session, or for a claim (association) before its session
-- starts. The latest one that reaches a session counts.
CREATE TABLE charging_declarations (
  id              bigserial PRIMARY KEY,
  session_id      integer REFERENCES transactions (id) ON DELETE CASCADE,
  association_id  bigint REFERENCES station_associations (id) ON DELETE CASCADE,
  departure_time  timestamptz,
  energy_wh       bigint CHECK (energy_wh >= 0),
  target_soc      double precision CHECK (target_soc >= 0 AND target_soc <= 100),
  declared_at     timestamptz NOT NULL DEFAULT now(),
  CHECK (session_id IS NOT NULL OR association_id IS NOT NULL),
  CHECK (departure_time IS NOT NULL OR energy_wh IS NOT NULL OR target_soc IS NOT NULL)
);
CREATE INDEX charging_declarations_session ON charging_declarations (session_id);
CREATE INDEX charging_declarations_association ON charging_declarations (association_id);

-- The latest NotifyEVChargingNeeds of a session (as the outbox's ev.charging_needs carries it).
CREATE TABLE ev_charging_needs (
  session_id   integer PRIMARY KEY REFERENCES transactions (id) ON DELETE CASCADE,
  needs        jsonb NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now()
);

-- The departure prediction made when the planner first saw the session.
CREATE TABLE session_predictions (
  session_id         integer PRIMARY KEY REFERENCES transactions (id) ON DELETE CASCADE,
  departure_p10      timestamptz NOT NULL,
  departure_p50      timestamptz NOT NULL,
  departure_p90      timestamptz NOT NULL,
  energy_p10_wh      bigint NOT NULL,
  energy_p50_wh      bigint NOT NULL,
  energy_p90_wh      bigint NOT NULL,
  basis              text NOT NULL,
  predicted_at       timestamptz NOT NULL DEFAULT now()
);

-- Every charging profile sent (kind 'set') or cleared (kind 'clear'), with its outcome.
-- profile_id is the chargingProfileId the station receives: one per session (or per station
-- for its station-wide limit), so that each new schedule replaces the one before.
CREATE TABLE charging_profiles (
  id           bigserial PRIMARY KEY,
  profile_id   bigint NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('set', 'clear')),
  purpose      text NOT NULL,
  site_id      bigint,
  station_id   text NOT NULL,
  evse_id      integer NOT NULL,
  session_id   integer REFERENCES transactions (id) ON DELETE SET NULL,
  start_at     timestamptz,
  rate_unit    text,
  schedule     jsonb NOT NULL,
  command_id   bigint,
  outcome      text,           -- command_log's outcome names; NULL until answered
  status       text,           -- the station's status (Accepted, Rejected, ...)
  sent_at      timestamptz NOT NULL DEFAULT now(),
  answered_at  timestamptz
);
CREATE INDEX charging_profiles_session ON charging_profiles (session_id, id);
CREATE INDEX charging_profiles_station ON charging_profiles (station_id, id);

-- Each site's latest plan: slots and vehicles as GET /sites/{id}/schedule shows them.
CREATE TABLE site_plans (
  site_id     bigint PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
  planned_at  timestamptz NOT NULL DEFAULT now(),
  reason      text NOT NULL,
  plan        jsonb NOT NULL
);

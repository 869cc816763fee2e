-- The built-in OpenADR 3.0.1 VTN: programs and events as the specification's JSON objects,
-- each program owned by the API key (role utility, or admin) that created it. The VTN sets
-- id, createdDateTime, modificationDateTime and objectType; `object` keeps the rest as sent.
-- What an event asks of each site is translated into demand_response_windows (0012).
CREATE TABLE openadr_programs (
  id            text PRIMARY KEY DEFAULT gen_random_uuid()::text,
  owner_key_id  bigint NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
  program_name  text NOT NULL CHECK (length(program_name) BETWEEN 1 AND 128),
  object        jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  modified_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (owner_key_id, program_name)
);

CREATE TABLE openadr_events (
  id            text PRIMARY KEY DEFAULT gen_random_uuid()::text,
  program_id    text NOT NULL REFERENCES openadr_programs (id),
  object        jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  modified_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX openadr_events_program ON openadr_events (program_id);

-- VEN mode: the events last read from the utility's VTN, the program each belonged to, as
-- read, and the sites they were applied to. A poll compares against them, so only events whose
-- object, program or sites changed are translated again, and an event that disappeared from
-- the VTN has its windows withdrawn.
CREATE TABLE openadr_remote_events (
  event_id    text PRIMARY KEY,
  program_id  text NOT NULL,
  event       jsonb NOT NULL,
  program     jsonb NOT NULL,
  site_ids    bigint[] NOT NULL,
  read_at     timestamptz NOT NULL DEFAULT now()
);

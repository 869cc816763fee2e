-- OpenADR reports (docs/openadr.md): what each site's plan expected per slot, kept after the
-- plan moves on so that an event's BASELINE can be reported once its intervals have ended,
-- and, in VEN mode, how far each event's report for each site has been posted to the VTN.

-- Per site and slot, the latest plan's figures for it (a later replan of the same slot
-- replaces them; slots in the past stay as they were last planned).
CREATE TABLE site_plan_slots (
  site_id           bigint NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
  slot_start        timestamptz NOT NULL,
  slot_seconds      integer NOT NULL CHECK (slot_seconds > 0),
  baseline_w        bigint NOT NULL,
  planned_import_w  bigint NOT NULL,
  PRIMARY KEY (site_id, slot_start)
);

-- VEN mode: the end of the last interval of an event posted to the VTN for a site.
CREATE TABLE openadr_reports_posted (
  event_id        text NOT NULL,
  site_id         bigint NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
  reported_until  timestamptz NOT NULL,
  posted_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, site_id)
);

-- The built-in VTN: the reports VENs posted (POST /reports), as the specification's objects
-- less the fields the VTN sets. They go with their event.
CREATE TABLE openadr_reports (
  id           text PRIMARY KEY DEFAULT gen_random_uuid()::text,
  event_id     text NOT NULL REFERENCES openadr_events (id) ON DELETE CASCADE,
  client_name  text NOT NULL CHECK (length(client_name) BETWEEN 1 AND 128),
  object       jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  modified_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX openadr_reports_event ON openadr_reports (event_id);

-- Credits: the regulator's energy reports (each appended to the verifiable log once its period
-- has closed), the credits the authority returns for them, their allocation to station owners,
-- and the drivers' balances earned by discharging (V2G).

-- A report of a closed period, kept as the log holds it: asking again answers this row.
CREATE TABLE energy_reports (
  id          bigserial PRIMARY KEY,
  period      text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2]|Q[1-4])$'),
  -- The report's scope: a site's id, or NULL for every site (an admin's report).
  site_id     bigint REFERENCES sites (id) ON DELETE RESTRICT,
  log_index   bigint NOT NULL UNIQUE,
  record      text NOT NULL,  -- canonical, byte for byte the log's entry
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX energy_reports_scope ON energy_reports (period, coalesce(site_id, 0));

CREATE FUNCTION credits_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER energy_reports_append_only BEFORE UPDATE OR DELETE ON energy_reports
  FOR EACH ROW EXECUTE FUNCTION credits_append_only();

-- Who owns a station, for the credits its verified energy earns. A station without a row here
-- is owned by its site's operator ("site-<id>").
CREATE TABLE station_owners (
  station_id  text PRIMARY KEY REFERENCES stations (id) ON DELETE CASCADE,
  owner       text NOT NULL CHECK (length(owner) BETWEEN 1 AND 200),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A file of credits the authority returned. The same body again is the same import.
CREATE TABLE credit_imports (
  id           bigserial PRIMARY KEY,
  body_sha256  text NOT NULL UNIQUE CHECK (body_sha256 ~ '^[0-9a-f]{64}$'),
  format       text NOT NULL CHECK (format IN ('csv', 'json')),
  row_count    integer NOT NULL CHECK (row_count > 0),
  api_key_id   bigint,
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- What each row of an import gave each owner: one row per (import row, owner).
CREATE TABLE credit_allocations (
  id                 bigserial PRIMARY KEY,
  import_id          bigint NOT NULL REFERENCES credit_imports (id) ON DELETE RESTRICT,
  row_number         integer NOT NULL CHECK (row_number > 0),
  period             text NOT NULL,
  station_id         text,  -- the row's station, or NULL for a row of a whole site
  site_id            bigint,  -- the site whose verified energy the credit is for
  owner              text NOT NULL,
  currency           text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  verified_energy_wh bigint NOT NULL CHECK (verified_energy_wh >= 0),
  amount_minor       bigint NOT NULL CHECK (amount_minor >= 0),
  UNIQUE (import_id, row_number, owner)
);
CREATE INDEX credit_allocations_owner ON credit_allocations (owner, currency);
CREATE INDEX credit_allocations_site ON credit_allocations (site_id);
CREATE TRIGGER credit_imports_append_only BEFORE UPDATE OR DELETE ON credit_imports
  FOR EACH ROW EXECUTE FUNCTION credits_append_only();
CREATE TRIGGER credit_allocations_append_only BEFORE UPDATE OR DELETE ON credit_allocations
  FOR EACH ROW EXECUTE FUNCTION credits_append_only();

-- Drivers' balances: what discharging (V2G) earned them, per currency, spent by later
-- settlements. The balance row is the running total (never negative); every change is an entry.
CREATE TABLE driver_balances (
  driver_id      bigint NOT NULL,  -- kept when the driver is removed: the money is still owed
  currency       text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  balance_minor  bigint NOT NULL CHECK (balance_minor >= 0),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (driver_id, currency)
);

CREATE TABLE driver_balance_entries (
  id                   bigserial PRIMARY KEY,
  driver_id            bigint NOT NULL,
  currency             text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  kind                 text NOT NULL CHECK (kind IN ('earned', 'spent')),
  amount_minor         bigint NOT NULL CHECK (amount_minor <> 0),  -- earned > 0, spent < 0
  balance_after_minor  bigint NOT NULL CHECK (balance_after_minor >= 0),
  settlement_id        text NOT NULL,
  session_id           bigint NOT NULL,
  created_at           timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'earned') = (amount_minor > 0)),
  UNIQUE (settlement_id, kind)
);
CREATE INDEX driver_balance_entries_driver ON driver_balance_entries (driver_id, id);
CREATE TRIGGER driver_balance_entries_append_only BEFORE UPDATE OR DELETE ON driver_balance_entries
  FOR EACH ROW EXECUTE FUNCTION credits_append_only();

-- Each site's public holidays: smart charging's departure predictor reads them as Sundays
-- (people stay as they do at weekends). A site names a built-in calendar, lists dates of its
-- own, or both (PUT /api/v1/sites/{id}/holidays, which accepts only the calendars the server
-- has: 'NO', Norway).
ALTER TABLE sites
  ADD COLUMN holiday_calendar text CHECK (holiday_calendar ~ '^[A-Z]{2}$'),
  -- Counts the changes of the site's holidays: a node rebuilds the site's predictor when the
  -- count differs from the one it built it with.
  ADD COLUMN holidays_version bigint NOT NULL DEFAULT 0;

CREATE TABLE site_holidays (
  site_id  bigint NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
  day      date NOT NULL,
  name     text CHECK (length(name) BETWEEN 1 AND 200),
  PRIMARY KEY (site_id, day)
);

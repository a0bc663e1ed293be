-- The fleet's daily trend counts accepted risks apart too, so it can be read with and
-- without exceptions like the current figures.
ALTER TABLE fleet_daily ADD COLUMN excepted BIGINT NOT NULL DEFAULT 0;

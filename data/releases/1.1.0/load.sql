-- Islamic State Defections Dataset, release 1.1.0: one view per table.
-- Run inside the release folder:  duckdb -init load.sql
CREATE OR REPLACE VIEW sources AS SELECT * FROM read_parquet('tables/sources.parquet');
CREATE OR REPLACE VIEW defections AS SELECT * FROM read_parquet('tables/defections.parquet');
CREATE OR REPLACE VIEW persons AS SELECT * FROM read_parquet('tables/persons.parquet');
CREATE OR REPLACE VIEW places AS SELECT * FROM read_parquet('tables/places.parquet');
CREATE OR REPLACE VIEW actors AS SELECT * FROM read_parquet('tables/actors.parquet');
CREATE OR REPLACE VIEW events AS SELECT * FROM read_parquet('tables/events.parquet');
CREATE OR REPLACE VIEW statements AS SELECT * FROM read_parquet('tables/statements.parquet');
CREATE OR REPLACE VIEW evidence AS SELECT * FROM read_parquet('tables/evidence.parquet');
CREATE OR REPLACE VIEW retractions AS SELECT * FROM read_parquet('tables/retractions.parquet');
-- The archived canonical texts, for checking evidence spans:
--   SELECT e.evidence_id, substring(s.text, e.char_start + 1, e.char_end - e.char_start) = e.exact
--   FROM evidence e JOIN source_texts s USING (source_id);
CREATE OR REPLACE VIEW source_texts AS
  SELECT regexp_extract(filename, '([^/]+)\.txt$', 1) AS source_id, content AS text
  FROM read_text('sources/*.txt');

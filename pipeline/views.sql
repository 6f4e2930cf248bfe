-- wiretrace analyst views. `wiretrace views --output DIR` creates DIR/wiretrace.duckdb with these over DIR's
-- Parquet tables ({root} is replaced by the output folder); open it with `duckdb DIR/wiretrace.duckdb` or
-- `duckdb.connect("DIR/wiretrace.duckdb")`. Every view reads all runs; filter on run_id for one.

CREATE OR REPLACE VIEW documents AS SELECT * FROM read_parquet('{root}/documents/*.parquet', union_by_name=true);
CREATE OR REPLACE VIEW pairs AS SELECT * FROM read_parquet('{root}/pairs/*.parquet', union_by_name=true);
CREATE OR REPLACE VIEW clusters AS SELECT * FROM read_parquet('{root}/clusters/*.parquet', union_by_name=true);
CREATE OR REPLACE VIEW origins AS SELECT * FROM read_parquet('{root}/origins/*.parquet', union_by_name=true);
CREATE OR REPLACE VIEW attributions AS SELECT * FROM read_parquet('{root}/attributions/*.parquet', union_by_name=true);
CREATE OR REPLACE VIEW segments AS SELECT * FROM read_parquet('{root}/segments/*.parquet', union_by_name=true);
CREATE OR REPLACE VIEW rejects AS SELECT * FROM read_parquet('{root}/rejects/*.parquet', union_by_name=true);
CREATE OR REPLACE VIEW runs AS SELECT * FROM read_parquet('{root}/runs/*.parquet', union_by_name=true);
CREATE OR REPLACE VIEW cluster_merges AS
SELECT * FROM read_parquet('{root}/cluster_merges/*.parquet', union_by_name=true);

-- Clusters as they stand now: each document in the cluster the latest run placed it in (a run that grows or
-- merges earlier clusters rewrites all their members), and each current cluster's latest origin.
CREATE OR REPLACE VIEW current_clusters AS
WITH placed AS (SELECT doc_id, arg_max(cluster_id, run_id) AS cluster_id, max(run_id) AS run_id
                FROM clusters GROUP BY doc_id)
SELECT cluster_id, doc_id, count(*) OVER (PARTITION BY cluster_id) AS size, run_id FROM placed;
CREATE OR REPLACE VIEW current_origins AS
SELECT o.* FROM origins o
WHERE o.cluster_id IN (SELECT cluster_id FROM current_clusters)
QUALIFY o.run_id = max(o.run_id) OVER (PARTITION BY o.cluster_id);

-- One row per cluster member as each run saw it, with its title and source, and whether it is the cluster's
-- origin (documents of earlier runs included: doc ids are unique across runs).
CREATE OR REPLACE VIEW cluster_members AS
SELECT c.run_id, c.cluster_id, c.size, d.doc_id, d.source, d.title, d.published_at, d.url,
       c.doc_id = o.origin_doc_id AS is_origin, o.credited_agency, o.external_origin
FROM clusters c
JOIN documents d ON d.doc_id = c.doc_id
LEFT JOIN origins o ON o.cluster_id = c.cluster_id AND o.run_id = c.run_id;

-- Copies (cluster members that are not the origin) whose text credits no agency.
CREATE OR REPLACE VIEW copies_without_credit AS
SELECT m.* FROM cluster_members m
WHERE NOT m.is_origin
  AND NOT EXISTS (SELECT 1 FROM attributions a WHERE a.doc_id = m.doc_id);

-- Each outlet's documents per day and how many of them are copies of someone else's text.
CREATE OR REPLACE VIEW outlet_reuse_daily AS
SELECT d.run_id, d.source, CAST(d.published_at AS DATE) AS day, count(*) AS documents,
       count(m.doc_id) AS copies, count(m.doc_id) / count(*) AS reuse_share
FROM documents d
LEFT JOIN (SELECT m.doc_id FROM cluster_members m JOIN current_clusters c USING (cluster_id, doc_id, run_id)
           WHERE NOT m.is_origin) m ON m.doc_id = d.doc_id
GROUP BY ALL;

-- What each outlet took from each agency: copies in clusters whose text comes from (or credits) the agency.
CREATE OR REPLACE VIEW outlet_agency_takes AS
SELECT m.run_id, m.source AS outlet,
       coalesce(m.external_origin, od.source, m.credited_agency) AS agency, count(*) AS copies
FROM cluster_members m
LEFT JOIN origins o ON o.cluster_id = m.cluster_id AND o.run_id = m.run_id
LEFT JOIN documents od ON od.doc_id = o.origin_doc_id
WHERE NOT m.is_origin
GROUP BY ALL;

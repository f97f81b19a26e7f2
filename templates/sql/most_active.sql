-- Who is the most active user by license plate? Plates by record count, most active first.
-- Ties share a rank, so a limit never hides a plate tied with the last one shown. share_pct is a
-- double: `100.0 * count(*) / total` would be DECIMAL in Athena, its result scale 1 (10.0, not 10.03).
SELECT plate, records, share_pct, plate_rank, total_records
FROM (
  SELECT "user" AS plate,
         count(*) AS records,
         round(100 * CAST(count(*) AS double) / sum(count(*)) OVER (), 2) AS share_pct,
         sum(count(*)) OVER () AS total_records,
         rank() OVER (ORDER BY count(*) DESC) AS plate_rank
  FROM lab_toll_data_stream
  WHERE {time_filter}
  GROUP BY "user"
) AS ranked
WHERE plate_rank <= {rank_limit}
ORDER BY plate_rank, plate

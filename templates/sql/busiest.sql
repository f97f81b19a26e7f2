-- Which is the busiest toll station? Stations by record count, busiest first, with their share.
-- Ties share a rank, so a limit never hides a station tied with the last one shown. share_pct is a
-- double: `100.0 * count(*) / total` would be DECIMAL in Athena, its result scale 1 (10.0, not 10.03).
-- {time_filter} is `true` or a condition on from_iso8601_timestamp("date"); {rank_limit} a number.
SELECT station, records, share_pct, station_rank, total_records
FROM (
  SELECT toll AS station,
         count(*) AS records,
         round(100 * CAST(count(*) AS double) / sum(count(*)) OVER (), 2) AS share_pct,
         sum(count(*)) OVER () AS total_records,
         rank() OVER (ORDER BY count(*) DESC) AS station_rank
  FROM lab_toll_data_stream
  WHERE {time_filter}
  GROUP BY toll
) AS ranked
WHERE station_rank <= {rank_limit}
ORDER BY station_rank, station

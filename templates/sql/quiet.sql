-- Which toll station reports less traffic than it should (a failing sensor)? Every station ever
-- seen, with its records inside the time range: a station that went silent shows 0, not nothing.
-- The comparison against the median station is made on these counts (tollcli.queries.quiet_stations).
SELECT toll AS station,
       count_if({time_filter}) AS records
FROM lab_toll_data_stream
GROUP BY toll
ORDER BY records, station

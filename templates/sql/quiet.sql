-- Which toll station reports less traffic than it should (a failing sensor)? Every station ever
-- seen, with its records inside the time range: a station that went silent shows 0, not nothing.
-- The comparison against the median station is made on these counts (tollcli.questions.quiet_stations).
-- {range_count} is count(*) without a time range, else count_if(<the range's condition>).
SELECT toll AS station,
       {range_count} AS records
FROM lab_toll_data_stream
GROUP BY toll
ORDER BY records, station

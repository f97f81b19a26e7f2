-- The workshop's table (Section 1, "Set up tables in Athena"): one CSV line per record,
-- `date,toll,user`, exactly as the delivery stream writes them. `{location}` is the bucket URI
-- (s3://bucket/ on AWS; the local backend declares the same columns over <home>/bucket/).
CREATE EXTERNAL TABLE IF NOT EXISTS `lab_toll_data_stream`(
  `date` string,
  `toll` string,
  `user` string)
ROW FORMAT DELIMITED
  FIELDS TERMINATED BY ','
STORED AS INPUTFORMAT
  'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT
  'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION
  '{location}'
TBLPROPERTIES (
  'delimiter'=','
)

-- Every day of the window, with or without sales.
INSERT INTO dim_date (date_id, date, year, quarter, month, week, day, day_of_week, day_name, is_weekend)
SELECT to_char(d, 'YYYYMMDD')::int, d::date, extract(year FROM d), extract(quarter FROM d),
       extract(month FROM d), extract(week FROM d), extract(day FROM d), extract(isodow FROM d),
       trim(to_char(d, 'FMDay')), extract(isodow FROM d) IN (6, 7)
FROM generate_series(%(start)s::date, %(end)s::date, interval '1 day') AS d
ON CONFLICT (date_id) DO NOTHING

-- Line numbers come from the order in which DuckDB returns the lines of each file
-- (base_charger_logs__*_lines). That order is the file's only while preserve_insertion_order is on;
-- fails if a profile or setting turns it off.
select current_setting('preserve_insertion_order') as preserve_insertion_order
where not current_setting('preserve_insertion_order')

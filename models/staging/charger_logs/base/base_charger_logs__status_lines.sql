{#- One row per non-blank line of the status stream files, with its line number. -#}
{{ number_lines(source('charger_logs', 'charger_log_status')) }}

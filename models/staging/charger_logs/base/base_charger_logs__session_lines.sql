{#- One row per non-blank line of the session stream files, with its line number. -#}
{{ number_lines(source('charger_logs', 'charger_log_session')) }}

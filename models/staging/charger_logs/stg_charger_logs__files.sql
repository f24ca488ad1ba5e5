{#- One row per log file found in the data folder, empty files included. -#}
with

source_files as (
    select file from {{ source('charger_logs', 'charger_log_files') }}
),

final as (
    select
        file as source_file,
        case
            when file like '%/charger_log_status/%' then 'status'
            when file like '%/charger_log_session/%' then 'session'
        end as log_stream,
        file like '%.gz' as is_gzip
    from source_files
    where file like '%/charger_log_status/%' or file like '%/charger_log_session/%'
)

select * from final

{# Seeds on Spark with the session method: dbt-spark pastes each value into the insert unquoted for
   escapes, so a text holding an apostrophe (the seed descriptions do) breaks the statement. Here
   each value is written as an escaped literal instead of a binding. #}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set rows = [] -%}
    {%- for row in agate_table.rows -%}
        {%- set values = [] -%}
        {%- for value in row -%}
            {%- set col_name = agate_table.column_names[loop.index0] -%}
            {%- set type = column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) -%}
            {%- if value is none -%}
                {%- set literal = 'null' -%}
            {%- elif value is string -%}
                {%- set literal = "'" ~ (value | replace('\\', '\\\\') | replace("'", "\\'")) ~ "'" -%}
            {%- else -%}
                {%- set literal = "'" ~ value ~ "'" -%}
            {%- endif -%}
            {%- do values.append('cast(' ~ literal ~ ' as ' ~ type ~ ')') -%}
        {%- endfor -%}
        {%- do rows.append('(' ~ values | join(', ') ~ ')') -%}
    {%- endfor -%}
    {%- set sql -%}
        insert into {{ this.render() }} values {{ rows | join(', ') }}
    {%- endset -%}
    {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
    {{ return(sql) }}
{% endmacro %}

{# Descriptions reach the DuckDB catalog as table and column comments (persist_docs), as dbt-duckdb
   writes them, but only the comments that differ from the catalog's are set. dbt-duckdb sets every
   comment again after each build of a model, one statement per column, which costs more than the
   rest of a small incremental build of the same model; this reads the model's current comments with
   one catalog query and sets only the missing or changed ones. #}
{% macro duckdb__persist_docs(relation, model, for_relation, for_columns) -%}
    {%- set relation_docs = for_relation and config.persist_relation_docs() and model.description -%}
    {%- set column_docs = for_columns and config.persist_column_docs() and model.columns -%}
    {%- if relation_docs or column_docs -%}
        {%- set in_schema -%}
            database_name = '{{ relation.database }}' and schema_name = '{{ relation.schema }}'
        {%- endset -%}
        {%- set current_query -%}
            select 'relation' as kind, null as column_name, comment from duckdb_tables()
            where {{ in_schema }} and table_name = '{{ relation.identifier }}'
            union all
            select 'relation' as kind, null as column_name, comment from duckdb_views()
            where {{ in_schema }} and view_name = '{{ relation.identifier }}'
            union all
            select 'column' as kind, column_name, comment from duckdb_columns()
            where {{ in_schema }} and table_name = '{{ relation.identifier }}'
        {%- endset -%}
        {%- set current_relation = [] -%}
        {%- set current_columns = {} -%}
        {%- for row in run_query(current_query).rows -%}
            {%- if row[0] == 'relation' -%}
                {%- do current_relation.append(row[2] or '') -%}
            {%- else -%}
                {%- do current_columns.update({row[1]: row[2] or ''}) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set statements = [] -%}
        {%- if relation_docs and current_relation != [model.description] -%}
            {%- do statements.append(duckdb__alter_relation_comment(relation, model.description)) -%}
        {%- endif -%}
        {%- if column_docs -%}
            {%- set documented = validate_doc_columns(relation, model.columns, current_columns.keys() | list) -%}
            {%- set lowered = {} -%}
            {%- for name, comment in current_columns.items() -%}
                {%- do lowered.update({name | lower: comment}) -%}
            {%- endfor -%}
            {%- for column_name, column in documented.items() -%}
                {%- set current = current_columns.get(column_name) if column['quote'] else lowered.get(column_name | lower) -%}
                {%- if current != (column['description'] or '') -%}
                    {%- set quoted = adapter.quote(column_name) if column['quote'] else column_name -%}
                    {%- do statements.append(
                        'comment on column ' ~ relation ~ '.' ~ quoted ~ ' is '
                        ~ duckdb_escape_comment(column['description']) ~ ';'
                    ) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
        {%- if statements -%}
            {%- do run_query(statements | join('\n')) -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

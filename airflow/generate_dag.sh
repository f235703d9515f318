#!/usr/bin/env bash
# Generate the Airflow DAG `retail_data_pipeline` from the project's pipelines.
#
#   airflow/generate_dag.sh [TARGET_DIR]     default: airflow/dags (the committed DAG)
#
# The one command that writes airflow/dags/retail_pipeline_dag.py; the test
# tests/production/test_airflow_dag.py runs it into a temp dir and compares.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${1:-airflow/dags}"
kedro="${KEDRO:-$root/.venv/bin/kedro}"
cd "$root"
export KEDRO_DISABLE_TELEMETRY=true
"$kedro" airflow create \
    --pipelines __default__ \
    --env local \
    --group-by namespace \
    --jinja-file airflow/retail_data_pipeline.j2 \
    --target-dir "$target" \
    --params "dag_id=retail_data_pipeline,schedule=0 2 * * *,start_date=2024-01-01,catchup=false,retries=2,retry_delay_minutes=5,max_active_runs=1,no_retry_markers=DataQualityError|RetentionRefused,retention_dag_id=retail_retention,retention_schedule=0 4 * * 0"

#!/usr/bin/env bash
# Create (or reuse) the Airflow virtualenv, apart from the project's .venv.
#
#   airflow/setup_airflow_venv.sh [VENV_DIR]       default: .venv-airflow at the project root
#
# Installs airflow/requirements.txt, constrained by airflow/constraints.txt when present (a
# freeze of a known-good install, so reruns resolve the same versions). Idempotent: a venv whose
# stamp matches the requirement files is reused as is. Prints the venv's path on success.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="${1:-${AIRFLOW_VENV:-$root/.venv-airflow}}"
python="${AIRFLOW_PYTHON:-$(command -v python3.11 || command -v python3)}"

reqs="$here/requirements.txt"
cons="$here/constraints.txt"
stamp_files=("$reqs")
[[ -f "$cons" ]] && stamp_files+=("$cons")
stamp_value="$(cat "${stamp_files[@]}" | sha256sum | cut -d' ' -f1)"
stamp="$venv/.installed"

if [[ -x "$venv/bin/airflow" && -f "$stamp" && "$(cat "$stamp")" == "$stamp_value" ]]; then
    echo "$venv"
    exit 0
fi

echo "setting up the Airflow virtualenv in $venv (this takes a few minutes the first time)" >&2
if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv"
fi
args=(--quiet --disable-pip-version-check -r "$reqs")
if [[ -f "$cons" ]]; then
    args+=(-c "$cons")
fi
"$venv/bin/python" -m pip install "${args[@]}" >&2
"$venv/bin/airflow" version >/dev/null
echo "$stamp_value" > "$stamp"
echo "$venv"

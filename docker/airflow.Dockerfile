# Airflow 3 with the retail pipeline installed beside it, in its own virtualenv.
#   docker compose build airflow-apiserver     (build context: the project root)
#
# Airflow pins much (SQLAlchemy, pendulum, ...); the project pins pandas 3 and SQLAlchemy 2.1.
# The generated DAG runs every task as `python -m kedro run` with KEDRO_PYTHON, so the two
# dependency sets never have to share one environment.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}

ENV KEDRO_PROJECT_PATH=/opt/retail \
    KEDRO_PYTHON=/opt/retail/.venv/bin/python \
    KEDRO_ENV=docker \
    KEDRO_DISABLE_TELEMETRY=true

USER root
RUN mkdir -p /opt/retail && chown airflow: /opt/retail
USER airflow

# The project, installed editable as `make install` does (pyproject.toml: the packages
# retail_pipeline from src/ and retailers from the root): the project's SQL files and conf/ are
# read relative to its source tree.
COPY --chown=airflow: pyproject.toml README.md /opt/retail/
COPY --chown=airflow: src/ /opt/retail/src/
COPY --chown=airflow: retailers/ /opt/retail/retailers/
RUN python -m venv /opt/retail/.venv \
    && /opt/retail/.venv/bin/pip install --no-cache-dir -e /opt/retail
COPY --chown=airflow: conf/ /opt/retail/conf/
COPY --chown=airflow: sql/ /opt/retail/sql/
# Kedro env `docker`: credentials are references to environment variables only (no secret
# in the image); conf/**/credentials* is git-ignored, so the file lives in docker/kedro/.
COPY --chown=airflow: docker/kedro/credentials.yml /opt/retail/conf/docker/credentials.yml
RUN mkdir -p /opt/retail/data/08_reporting /opt/retail/logs \
    && rm -rf /opt/retail/conf/local/* \
    && cd / && /opt/retail/.venv/bin/python -c "import retail_pipeline, retailers"

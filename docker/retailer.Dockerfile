# One image for the simulated retailer systems (retailers/): API server and seeder.
#   docker compose build retailer-1-api        (build context: the project root)
# The service's command picks the style and the retailer: python -m retailers serve --style S --code C
# (docker-compose.yml, rendered from the registry by `make compose`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RETAILER_HOST=0.0.0.0

WORKDIR /app
COPY docker/retailer-requirements.txt /tmp/retailer-requirements.txt
RUN pip install --no-cache-dir -r /tmp/retailer-requirements.txt \
    && useradd --create-home --uid 10001 retailer
COPY retailers/ /app/retailers/

USER retailer
# Each service's port is its --port (the registry's simulator.port); health checks are in docker-compose.yml.
ENTRYPOINT ["python", "-m", "retailers"]
CMD ["--help"]

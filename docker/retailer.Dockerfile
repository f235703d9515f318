# One image for the three simulated retailer systems (retailers/): API server and seeder.
#   docker compose build retailer-1-api        (build context: the project root)
# The service's command picks the retailer: python -m retailers serve --retailer retailer_N
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
# Ports 5001-5003 by retailer (RETAILERn_PORT); the health check is in docker-compose.yml.
EXPOSE 5001 5002 5003
ENTRYPOINT ["python", "-m", "retailers"]
CMD ["--help"]

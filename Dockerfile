# The operator image: `mlcost run` as a non-root user on a slim Python.
# Reproducible: the runtime dependencies come from requirements.lock (`make lock`), every file
# checked against its hash; the project itself is installed without resolving anything.
# Pin the base image by digest for a byte-identical rebuild: --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:...
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# Hash-based .pyc files (not timestamps), so the compiled files are the same on every build.
ENV SOURCE_DATE_EPOCH=0 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps --prefix=/install -r requirements.lock
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip install --no-deps --prefix=/install .

FROM ${PYTHON_IMAGE}
# uid/gid 10001: deploy/deployment.yaml runs the pod as this user (runAsUser/runAsGroup/fsGroup).
RUN groupadd --gid 10001 mlcost \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin mlcost
COPY --from=build /install /usr/local
USER 10001:10001
# The root filesystem is read-only in the Deployment: never write .pyc files (they were compiled
# at install time); scratch files go to /tmp, an emptyDir volume there.
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 TMPDIR=/tmp
# glibc may give each thread that allocates a malloc arena of its own (up to 8 per CPU the
# process sees: the node's, not the pod's limit); two arenas keep freed memory in fewer places:
# 3-5 MiB less at 500 policies on 2 CPUs (bench/backlog.py).
ENV MALLOC_ARENA_MAX=2
EXPOSE 8080 8081
ENTRYPOINT ["mlcost"]
CMD ["run"]

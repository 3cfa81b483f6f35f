# syntax=docker/dockerfile:1
#
# Build:  docker build -t portcullis .
# Run:    docker run -p 127.0.0.1:8080:8080 -p 127.0.0.1:9090:9090 \
#           -e PORTCULLIS_ISSUER=http://localhost:8080 -v portcullis-data:/data portcullis
#
# The build needs only the Rust toolchain, a C compiler, perl and make (all in the
# rust image): libpq, OpenSSL and SQLite are compiled from source and linked statically,
# so the binary needs nothing from the runtime image but glibc and libgcc_s (checked with
# `ldd`, see docs/production.md), which distroless/cc has. No shell, no package manager.
#
# Base images, pinned by digest: every rebuild starts from exactly the same bytes,
# whatever the tags point to later. The tag stays in front for readers; Docker
# pulls by the digest. How these two were chosen, what was and was not verified of them
# (no registry is reachable from where they were written), and how to move them on:
# docs/production.md, "The image". To move them, resolve the tags' current digests:
#   docker buildx imagetools inspect rust:1-bookworm --format '{{.Manifest.Digest}}'
#   docker buildx imagetools inspect gcr.io/distroless/cc-debian12:nonroot --format '{{.Manifest.Digest}}'
# and write them below (or pass --build-arg BUILD_IMAGE=... RUNTIME_IMAGE=...).
# tests/image/rehearse.py (run by .ci/run) fails if a FROM is not pinned.
ARG BUILD_IMAGE=rust:1.98.1-bookworm@sha256:93ce27a88655056a51dbdd8f5f2d7ddc071c7b0070fb288a37b5a285fc83971e
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f

# ---------------------------------------------------------------- build
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
# The whole checkout: src/, migrations/ and templates/ are embedded at compile time. A
# .dockerignore with target/, data/, keys/ and .env keeps the build context small and
# local secrets out of the builder (they never reach the runtime image either way).
COPY . .
# Cache mounts keep the registry and target/ between builds (BuildKit); the binary is
# copied out of the cached target/ in the same step. The `ldd` check fails the build if
# the binary ever needs a library the runtime image does not have.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin portcullis \
 && install -m 0755 target/release/portcullis /usr/local/bin/portcullis \
 && ldd /usr/local/bin/portcullis \
 && ! ldd /usr/local/bin/portcullis \
      | grep -vE '(linux-vdso|libc\.so|libm\.so|libgcc_s\.so|ld-linux-x86-64|ld-linux-aarch64|libpthread\.so|libdl\.so|librt\.so)'
# The data directory, owned by the runtime user: distroless has no shell to make it.
RUN mkdir -p /data-skel/data && chown 10001:10001 /data-skel/data && chmod 0700 /data-skel/data

# ---------------------------------------------------------------- runtime
FROM ${RUNTIME_IMAGE}
ARG RUNTIME_IMAGE
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="Portcullis" \
      org.opencontainers.image.description="OAuth 2.1 / OpenID Connect authorization server" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.documentation="docs/production.md" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"

COPY --from=build /usr/local/bin/portcullis /usr/local/bin/portcullis
COPY --from=build --chown=10001:10001 /data-skel/data /data

# Listen on every interface inside the container; publish the admin port privately.
# The issuer stays at its loopback default: set PORTCULLIS_ISSUER to the URL clients
# use (https unless it is a loopback address), and then a master key as well.
ENV PORTCULLIS_DATA_DIR=/data \
    PORTCULLIS_HTTP__BIND=0.0.0.0:8080 \
    PORTCULLIS_ADMIN__BIND=0.0.0.0:9090

# Numeric, so runtimes that check runAsNonRoot can verify it. 10001 rather than the
# image's own nonroot (65532): volumes made by earlier images of Portcullis are owned
# by 10001 and stay readable after an upgrade.
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080 9090

# Liveness, not readiness: a database outage makes every container unready at once, and
# an orchestrator that restarts "unhealthy" containers would then restart them all.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/portcullis", "healthcheck", "--live"]

ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["serve"]

# syntax=docker/dockerfile:1
#
# Build:  docker build -t portcullis .
# Run:    docker run -p 127.0.0.1:8080:8080 -p 127.0.0.1:9090:9090 \
#           -e PORTCULLIS_ISSUER=http://localhost:8080 -v portcullis-data:/data portcullis
#
# The build needs only the Rust toolchain, a C compiler, perl and make (all in the
# rust image): libpq, OpenSSL and SQLite are compiled from source and linked statically.

# ---------------------------------------------------------------- build
FROM rust:1-bookworm AS build
WORKDIR /src
# The whole checkout: src/, migrations/ and templates/ are embedded at compile time. A
# .dockerignore with target/, data/, keys/ and .env keeps the build context small and
# local secrets out of the builder (they never reach the runtime image either way).
COPY . .
# Cache mounts keep the registry and target/ between builds (BuildKit); the binary is
# copied out of the cached target/ in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin portcullis \
 && install -m 0755 target/release/portcullis /usr/local/bin/portcullis

# ---------------------------------------------------------------- runtime
FROM debian:bookworm-slim
# ca-certificates for TLS to Postgres and outbound HTTPS. libpq5 is installed for
# operators' tooling and parity with a dynamically linked build; this binary links its
# own libpq statically and does not load it. Versions follow the bookworm point release
# (security updates come with a rebuild), hence no pins.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libpq5 \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 portcullis \
 && useradd --system --uid 10001 --gid portcullis --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin portcullis \
 && mkdir -p /data \
 && chown portcullis:portcullis /data \
 && chmod 0700 /data

COPY --from=build /usr/local/bin/portcullis /usr/local/bin/portcullis

# Listen on every interface inside the container; publish the admin port privately.
# The issuer stays at its loopback default: set PORTCULLIS_ISSUER to the URL clients
# use (https unless it is a loopback address).
ENV PORTCULLIS_DATA_DIR=/data \
    PORTCULLIS_HTTP__BIND=0.0.0.0:8080 \
    PORTCULLIS_ADMIN__BIND=0.0.0.0:9090

# Numeric, so runtimes that check runAsNonRoot can verify it.
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080 9090

HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["portcullis", "healthcheck"]

ENTRYPOINT ["portcullis"]
CMD ["serve"]

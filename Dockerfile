# voxbatch's container image, for the Kubernetes CronJobs `voxbatch schedule print --format kubernetes`
# writes (see docs/deploy-kubernetes.md). Multi-stage: build with the Swift toolchain, run in a slim image
# with only the C libraries voxbatch links (libssh2, libcurl, GPGME with GnuPG, SQLite) and the Swift runtime linked in.
FROM swift:6.1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
        libssh2-1-dev libcurl4-openssl-dev libgpgme-dev libpq-dev libsqlite3-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
# The manifest names the test targets too, so their folders must be there (they are not built).
COPY Tests ./Tests
RUN swift build -c release --product voxbatch --static-swift-stdlib \
    && cp "$(swift build -c release --show-bin-path)/voxbatch" /usr/local/bin/voxbatch

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
        libssh2-1 libcurl4 libgpgme11 libpq5 gnupg libsqlite3-0 ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --home-dir /var/lib/voxbatch --no-create-home voxbatch \
    && mkdir -p /var/lib/voxbatch /etc/voxbatch && chown 10001:10001 /var/lib/voxbatch
COPY --from=build /usr/local/bin/voxbatch /usr/local/bin/voxbatch
# The CronJobs run as this user (securityContext runAsUser: 10001); state lives on a volume here.
USER 10001
WORKDIR /var/lib/voxbatch
ENTRYPOINT ["/usr/local/bin/voxbatch"]
CMD ["--help"]

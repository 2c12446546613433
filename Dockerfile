# syntax=docker/dockerfile:1
#
# contextd container image: a static, cgo-free binary on distroless, running
# as an unprivileged user with a read-only root file system. The store lives
# on the /data volume, backups on /backups; configuration profiles are in
# /etc/contextd (APP_ENV=docker by default).
#
#   docker build -t contextd:dev --build-arg VERSION=$(git describe --tags --always) .
#   docker run --read-only -p 3000:3000 -v contextd-data:/data -v contextd-backups:/backups contextd:dev
#
# The go build line below is the one cmd/contextd's TestDockerfileBuildFlags
# runs (same environment and flags), so keep it on one RUN line.

ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -buildvcs=false -ldflags="-s -w -X main.version=${VERSION}" -o /out/contextd ./cmd/contextd
# The volumes' mount points, owned by the runtime user so that a fresh named
# volume inherits a writable owner (copied as entries of a tree, so that the
# directories themselves get the owner).
RUN mkdir -p /out/rootfs/data /out/rootfs/backups

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="contextd" \
      org.opencontainers.image.description="Persistent Context Store: long-term memory for AI assistants (HTTP and MCP)" \
      org.opencontainers.image.source="https://github.com/contextd/contextd" \
      org.opencontainers.image.url="https://github.com/contextd/contextd" \
      org.opencontainers.image.documentation="https://github.com/contextd/contextd/blob/main/docs/operations.md" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.vendor="contextd" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot"
COPY --from=build /out/contextd /contextd
COPY config/ /etc/contextd/
COPY --from=build --chown=65532:65532 /out/rootfs/ /
ENV APP_ENV=docker \
    CONFIG_DIR=/etc/contextd \
    DATA_DIR=/data \
    BACKUP_DIRECTORY=/backups
# distroless "nonroot": uid and gid 65532.
USER 65532:65532
WORKDIR /data
EXPOSE 3000
VOLUME ["/data", "/backups"]
# No shell or curl in the image: the binary probes itself (GET /health on HOST:PORT).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["/contextd", "healthcheck"]
ENTRYPOINT ["/contextd"]
CMD ["serve"]

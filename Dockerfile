# kvd container image.
#
#   docker build -t kvd .
#   docker run -p 6379:6379 -v kvd-data:/data kvd
#
# Arguments after the image name replace the CMD below entirely, so repeat
# --bind and --dir when adding flags:
#
#   docker run -p 6379:6379 -v kvd-data:/data kvd --bind 0.0.0.0 --dir /data --requirepass secret

# --- build: a static binary --------------------------------------------------
# go.mod asks for go 1.26.8 or later. The 1.26 tag follows the latest patch
# release, and the image sets GOTOOLCHAIN=local (no toolchain download): if the
# build says go.mod requires a newer go, refresh the image with --pull.
FROM golang:1.26-bookworm AS build
WORKDIR /src

# Dependencies first, so that editing kvd's sources reuses this layer.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/kvd ./cmd/kvd \
    && /out/kvd --version

# The data directory, owned by distroless's nonroot user (uid/gid 65532). The
# final image has no shell to create it, and a named volume mounted on /data
# starts as a copy of this directory, ownership included.
RUN mkdir -p /out/data && chown 65532:65532 /out/data

# --- run: distroless static, non-root ----------------------------------------
# No shell, no package manager, no libc: kvd is statically linked.
FROM gcr.io/distroless/static-debian12:nonroot

COPY --from=build /out/kvd /kvd
# Copying a directory creates the destination with the --chown owner.
COPY --from=build --chown=65532:65532 /out/data /data

# The image's default user already is nonroot; say so for readers and scanners.
USER 65532:65532

VOLUME /data
EXPOSE 6379

# SIGTERM (docker stop) makes kvd finish in-flight commands (for up to 10 s),
# sync and close the store. docker stop's default grace is also 10 s; pass
# -t 30 if clients may be slow to drain. A SIGKILL loses no acknowledged write
# on a process crash (badger writes through mmap) but skips the final fsync.
STOPSIGNAL SIGTERM

ENTRYPOINT ["/kvd"]
CMD ["--bind", "0.0.0.0", "--dir", "/data"]

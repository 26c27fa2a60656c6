# syntax=docker/dockerfile:1
# Leadbox: one static-ish binary (CGO for SQLite) on a small Debian base.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO is needed by the SQLite driver; -trimpath keeps build paths out.
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o /out/leadbox ./cmd/leadbox

FROM debian:bookworm-slim
# ca-certificates: SMTP over TLS must verify the server's certificate.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin leadbox \
 && mkdir -p /data && chown leadbox:leadbox /data
COPY --from=build /out/leadbox /usr/local/bin/leadbox
USER leadbox
WORKDIR /data
# The database, its WAL and the .eml fallback folder live in the volume.
VOLUME ["/data"]
ENV LEADBOX_LISTEN=:8080 \
    LEADBOX_DATABASE=/data/leadbox.db \
    LEADBOX_MAIL_DIR=/data/mail
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD ["leadbox", "healthcheck"]
# SIGTERM from `docker stop` triggers a graceful shutdown.
STOPSIGNAL SIGTERM
ENTRYPOINT ["leadbox"]
CMD ["serve"]

# agg in a container: aggd (the default command) and the client tools
# aggpub, aggstat and aggevents, in one small image.
#
#   docker build -t agg .
#   docker run -d -p 8080:8080 -v aggdata:/app/data agg
#   docker run --rm agg aggpub -u http://HOST:8080/publish
#
# Stage 1 compiles with the -dev packages; stage 2 holds only the binaries
# and the shared libraries they link (checked with ldd at build time), runs
# as the unprivileged user agg, and keeps the store in the volume /app/data.

FROM debian:bookworm-slim AS build
LABEL agg.stage=build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	gcc libc6-dev make pkg-config binutils \
	libsqlite3-dev libjson-c-dev libcurl4-openssl-dev libpq-dev \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY lib/ lib/
COPY cmd/ cmd/
RUN make all \
 && install -d /out \
 && install -s -m 755 bin/aggd bin/aggpub bin/aggstat bin/aggevents /out/

FROM debian:bookworm-slim
LABEL agg.stage=runtime org.opencontainers.image.title=agg \
      org.opencontainers.image.description="durable event collector with exact, permanent dedup"
# curl is only for the HEALTHCHECK; libcurl4 is needed by the tools anyway.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	libsqlite3-0 libjson-c5 libcurl4 libpq5 ca-certificates curl \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && useradd --system --user-group --uid 10001 --home-dir /app \
	--shell /usr/sbin/nologin agg \
 && install -d -o agg -g agg -m 750 /app /app/data
COPY --from=build /out/ /usr/local/bin/
RUN if ldd /usr/local/bin/agg* | grep 'not found'; then exit 1; fi \
 && aggd --version

ENV AGG_LISTEN=0.0.0.0:8080 \
    DEDUP_DB_PATH=/app/data/dedup.db
USER agg
WORKDIR /app
VOLUME /app/data
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
	CMD curl -fsS -o /dev/null "http://127.0.0.1:${AGG_LISTEN##*:}/healthz" || exit 1
CMD ["aggd"]

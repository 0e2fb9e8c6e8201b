# syntax=docker/dockerfile:1
# optoutd: a static binary on a distroless base, running as a non-root user.
# Build:  docker build -t optout-intake .
# Run:    docker run --env-file optoutd.env -p 8080:8080 optout-intake
# The same build steps run without Docker in cmd/optoutd's TestDockerBuild.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags='-s -w' -o /out/optoutd ./cmd/optoutd \
 && /out/optoutd help 2>/dev/null; test -x /out/optoutd

# distroless/static: CA certificates and tzdata, no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/optoutd /usr/local/bin/optoutd
USER nonroot:nonroot
ENV OPTOUT_HTTP_ADDR=0.0.0.0:8080 \
    OPTOUT_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/optoutd", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/optoutd"]
CMD ["run"]

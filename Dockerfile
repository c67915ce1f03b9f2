# The Vigil runner image: the static binary (make build) with the policy bundle
# baked in (vigil bundle build), run as a non-root user. `make image` stages
# dist/image and builds it without pulling anything: the default base is
# scratch. For a distroless base:
#   make image BASE=gcr.io/distroless/static-debian12:nonroot
# No RUN steps and no `# syntax` line: the classic builder and BuildKit both
# build it offline, and the image holds no shell.
ARG BASE=scratch
FROM ${BASE}

ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
ARG SOURCE=https://github.com/vigil-risk/vigil
ARG POLICY_REVISION=unknown

LABEL org.opencontainers.image.title="vigil" \
      org.opencontainers.image.description="Vigil: real-time risk control with rules as code" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.created="${CREATED}" \
      io.vigil.policy.revision="${POLICY_REVISION}"

# /tmp (1777), /etc/passwd and /etc/group naming the nonroot user, CA
# certificates for HTTPS receivers
COPY dist/image/rootfs/ /
# the state directory (alerts store, feature snapshot, dead letters), owned by
# the runner: there is no shell to make it at run time
COPY --chown=65532:65532 dist/image/state/ /var/lib/vigil/
COPY dist/image/bundle.tar.gz /etc/vigil/bundle.tar.gz
COPY deploy/dev.yaml deploy/staging.yaml deploy/prod.yaml /etc/vigil/
COPY bin/vigil /usr/local/bin/vigil

USER 65532:65532
WORKDIR /var/lib/vigil
EXPOSE 8080
# the binary answers its own health check: no curl, no shell
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/vigil", "health", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/vigil"]
# the environment's config is chosen by the deployment: run --config /etc/vigil/prod.yaml
CMD ["run", "--config", "/etc/vigil/dev.yaml"]

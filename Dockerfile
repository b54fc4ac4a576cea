# syntax=docker/dockerfile:1
#
# The Flotilla toolbox: the `flotilla` command (the xtask binary, `cargo xtask` without cargo) with
# the exact tools a deploy needs: terraform, helm with the helm-diff plugin, kubectl and the AWS CLI.
# The deploy and plan workflows run inside it (.github/workflows/toolbox.yml builds it).
#
#   docker build -t flotilla-toolbox .
#   docker run --rm -v "$PWD:/workspace" flotilla-toolbox deploy production --dry-run
#
# Tool versions are build arguments whose defaults must equal the [tools] table of versions.toml
# (xtask/tests/toolbox_image.rs fails when they differ). Every download is checked against the
# checksums its upstream publishes next to it; terraform's and the AWS CLI's are also checked
# against the publisher's PGP signature, pinned by key fingerprint. See docs/ci.md.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# --- builder: compile the command line -----------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS builder
WORKDIR /src
COPY . .
RUN cargo build --release --locked --package xtask \
    && install -m 0755 target/release/xtask /usr/local/bin/flotilla

# --- tools: download and verify the pinned tools ----------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS tools
ARG TERRAFORM_VERSION=1.11.4
ARG HELM_VERSION=3.19.2
ARG HELM_DIFF_VERSION=3.13.1
ARG KUBECTL_VERSION=1.34.2
ARG AWSCLI_VERSION=2.31.39
# Set by BuildKit from --platform: amd64 or arm64.
ARG TARGETARCH
# Release-signing keys, by primary key fingerprint (published by HashiCorp and in the AWS CLI
# install guide). A signature counts only if gpg reports it VALIDSIG for that primary key.
ARG HASHICORP_KEY_FINGERPRINT=C874011F0AB405110D02105534365D9472D7468F
ARG AWSCLI_KEY_FINGERPRINT=FB5DB77FD5C118B80511ADA8A6310ACC4672475C
ENV HELM_PLUGINS=/usr/local/share/helm/plugins

SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
# Debian's package versions change with every point release; the pinned tools are the ones below.
# hadolint ignore=DL3008
RUN : "${TARGETARCH:?is set by BuildKit: build with Docker 23+ or docker buildx}" \
    && apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl gnupg unzip \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /tmp/downloads

# terraform: SHA256SUMS signed by HashiCorp, then the zip checked against it.
RUN base="https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}"; \
    zip="terraform_${TERRAFORM_VERSION}_linux_${TARGETARCH}.zip"; \
    sums="terraform_${TERRAFORM_VERSION}_SHA256SUMS"; \
    curl -fsSLO "$base/$zip"; curl -fsSLO "$base/$sums"; curl -fsSLO "$base/$sums.sig"; \
    GNUPGHOME="$(mktemp -d)"; export GNUPGHOME; \
    curl -fsSL https://www.hashicorp.com/.well-known/pgp-key.txt | gpg --batch --import; \
    gpg --batch --status-fd 1 --verify "$sums.sig" "$sums" \
      | grep -E "^\[GNUPG:\] VALIDSIG .* ${HASHICORP_KEY_FINGERPRINT}\$"; \
    grep -E "  ${zip}\$" "$sums" | sha256sum -c -; \
    unzip -o -q "$zip" terraform -d /usr/local/bin; \
    terraform version -json | grep -q "\"terraform_version\": \"${TERRAFORM_VERSION}\""; \
    rm -rf "$GNUPGHOME" /tmp/downloads/*

# helm: the .sha256sum file next to the archive.
RUN tgz="helm-v${HELM_VERSION}-linux-${TARGETARCH}.tar.gz"; \
    curl -fsSLO "https://get.helm.sh/$tgz"; curl -fsSLO "https://get.helm.sh/$tgz.sha256sum"; \
    sha256sum -c "$tgz.sha256sum"; \
    tar -xzf "$tgz" --strip-components=1 -C /usr/local/bin "linux-${TARGETARCH}/helm"; \
    helm version --template '{{.Version}}' | grep -qx "v${HELM_VERSION}"; \
    rm -rf /tmp/downloads/*

# helm-diff: the release's goreleaser checksums file; the archive unpacks to diff/ (the plugin).
RUN base="https://github.com/databus23/helm-diff/releases/download/v${HELM_DIFF_VERSION}"; \
    tgz="helm-diff-linux-${TARGETARCH}.tgz"; sums="helm-diff_${HELM_DIFF_VERSION}_checksums.txt"; \
    curl -fsSLO "$base/$tgz"; curl -fsSLO "$base/$sums"; \
    grep -E "  ${tgz}\$" "$sums" | sha256sum -c -; \
    mkdir -p "$HELM_PLUGINS"; tar -xzf "$tgz" -C "$HELM_PLUGINS"; \
    helm plugin list | grep -E "^diff\s+${HELM_DIFF_VERSION}\b"; \
    rm -rf /tmp/downloads/*

# kubectl: the .sha256 file next to the binary holds the bare hash.
RUN base="https://dl.k8s.io/release/v${KUBECTL_VERSION}/bin/linux/${TARGETARCH}"; \
    curl -fsSLO "$base/kubectl"; curl -fsSLO "$base/kubectl.sha256"; \
    echo "$(cat kubectl.sha256)  kubectl" | sha256sum -c -; \
    install -m 0755 kubectl /usr/local/bin/kubectl; \
    kubectl version --client -o json | grep -q "\"gitVersion\": \"v${KUBECTL_VERSION}\""; \
    rm -rf /tmp/downloads/*

# AWS CLI v2: AWS publishes a PGP signature (no checksum file) for each installer zip.
RUN case "${TARGETARCH}" in amd64) arch=x86_64 ;; arm64) arch=aarch64 ;; *) echo "unsupported ${TARGETARCH}"; exit 1 ;; esac; \
    zip="awscli-exe-linux-${arch}-${AWSCLI_VERSION}.zip"; \
    curl -fsSLO "https://awscli.amazonaws.com/$zip"; curl -fsSLO "https://awscli.amazonaws.com/$zip.sig"; \
    GNUPGHOME="$(mktemp -d)"; export GNUPGHOME; \
    gpg --batch --keyserver hkps://keyserver.ubuntu.com --recv-keys "${AWSCLI_KEY_FINGERPRINT}"; \
    gpg --batch --status-fd 1 --verify "$zip.sig" "$zip" \
      | grep -E "^\[GNUPG:\] VALIDSIG .* ${AWSCLI_KEY_FINGERPRINT}\$"; \
    unzip -q "$zip"; ./aws/install --install-dir /usr/local/aws-cli --bin-dir /usr/local/bin; \
    aws --version | grep -q "^aws-cli/${AWSCLI_VERSION} "; \
    rm -rf "$GNUPGHOME" /tmp/downloads/*

# --- the toolbox -------------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim
# git: protected clusters deploy only from a clean tree; ca-certificates for every API call.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates git less \
    && rm -rf /var/lib/apt/lists/*
# No pager: the AWS CLI runs in CI and in scripts.
ENV HELM_PLUGINS=/usr/local/share/helm/plugins \
    AWS_PAGER=""
COPY --from=tools /usr/local/bin/terraform /usr/local/bin/helm /usr/local/bin/kubectl /usr/local/bin/
COPY --from=tools /usr/local/aws-cli /usr/local/aws-cli
COPY --from=tools /usr/local/share/helm/plugins /usr/local/share/helm/plugins
COPY --from=builder /usr/local/bin/flotilla /usr/local/bin/flotilla
RUN ln -s /usr/local/aws-cli/v2/current/bin/aws /usr/local/bin/aws \
    && ln -s /usr/local/aws-cli/v2/current/bin/aws_completer /usr/local/bin/aws_completer \
    && flotilla --help >/dev/null \
    && terraform version && helm version && helm diff version && kubectl version --client && aws --version
# The repository is mounted here (or, in a GitHub job container, is the working directory):
# flotilla finds platform.toml in the current directory, or where FLOTILLA_ROOT points.
WORKDIR /workspace
ENTRYPOINT ["flotilla"]
CMD ["--help"]

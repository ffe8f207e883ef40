# ckptscope images. Two targets:
#   docker build --target server -t ckptscope-server .   API + UI (+ an embedded CPU worker)
#   docker build --target worker -t ckptscope-worker .   CUDA worker: `ckpt worker --gpus ...`
# The worker runs snippets in bubblewrap sandboxes; see README "Deployment" for the container
# permissions that needs (user namespaces, no default seccomp/AppArmor profile on the worker).

# The base image: any Debian bookworm with Python 3.11 as `python` (scripts/containers builds one
# with debootstrap where no registry can be reached, and passes it here).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- base: Debian packages, the sandbox user, the project without torch -------------------
FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      bubblewrap util-linux graphviz \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin ckpt-sandbox
WORKDIR /app
# a world-readable virtualenv: the sandbox user imports torch and ckpt_core from it
RUN python -m venv /opt/venv && chmod -R a+rX /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# ---- server: the CPU build of torch ------------------------------------------------------
FROM base AS server
# where the CPU build of torch comes from (scripts/containers points pip at a local wheel);
# PIP_CERT: a CA bundle for pip behind a TLS-intercepting proxy (unset: pip's own)
ARG TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
ARG PIP_CERT
RUN pip install ${TORCH_PIP_ARGS} torch==2.13.0
COPY pyproject.toml README.md ./
COPY ckpt_core ckpt_core
COPY server server
COPY frontend frontend
# the examples gallery (GET /api/examples) reads these
COPY examples examples
RUN pip install -e . && chmod -R a+rX /opt/venv /app
ENV CKPT_DATA_DIR=/data
VOLUME /data
EXPOSE 8000
CMD ["ckpt", "serve", "--host", "0.0.0.0", "--port", "8000"]

# ---- worker: the CUDA build of the same torch ---------------------------------------------
FROM base AS worker
# CUDA wheels bundle their CUDA runtime; the host's NVIDIA container toolkit adds the driver
ARG TORCH_CUDA_PIP_ARGS="--index-url https://download.pytorch.org/whl/cu128"
ARG PIP_CERT
RUN pip install ${TORCH_CUDA_PIP_ARGS} torch==2.13.0
COPY pyproject.toml README.md ./
COPY ckpt_core ckpt_core
COPY server server
RUN pip install -e . && chmod -R a+rX /opt/venv /app
# root only to create sandboxes (cgroups, the switch to ckpt-sandbox); snippets never run as root
CMD ["ckpt", "worker", "--queue", "redis://redis:6379/0", "--gpus", "0", "--cpu-workers", "1"]

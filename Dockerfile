# CPU image for snnx. Untested here: no Docker engine runs on our CI machines.
# Its steps are the README's two commands.
FROM python:3.10-slim
# gcc: training's and the fast simulator's C kernels (snnx/native.py); without it both run slower paths
RUN apt-get update && apt-get install -y --no-install-recommends git gcc libc6-dev && rm -rf /var/lib/apt/lists/* \
    && pip install --no-cache-dir uv
WORKDIR /app
COPY . /app
ENV UV_PYTHON=/usr/local/bin/python3.10
RUN uv sync --frozen
# Mount MNIST (the four *-ubyte.gz files) at /data, or let torchvision download it.
ENV SNNX_DATA_DIR=/data
CMD ["uv", "run", "snnx", "run"]
# Tests: docker run IMAGE uv run pytest

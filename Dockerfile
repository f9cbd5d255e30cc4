# Crystal Canvas on a CUDA host: docker build -t crystal-canvas . && docker run --gpus all -p 8501:8501 crystal-canvas
# PyPI's Linux torch wheel is the CUDA build and carries its CUDA runtime, so a slim Python base is enough.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
RUN scripts/setup.sh
ENV OMP_NUM_THREADS=4
EXPOSE 8501
# Inside the container the app must listen on all interfaces; publish the port only behind a proxy (README).
CMD [".venv/bin/streamlit", "run", "backend/app/server.py", "--server.address=0.0.0.0"]

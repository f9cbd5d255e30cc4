# make run   set up .venv and start the app on the embedded default model (http://127.0.0.1:8501, Crystal Toolkit at /ctk)
# make test  set up .venv and run the test suite
# make lint  ruff
.PHONY: setup run test lint

export OMP_NUM_THREADS ?= 1

setup:
	@scripts/setup.sh

run: setup
	.venv/bin/streamlit run backend/app/server.py

test: setup
	@scripts/install_browser.sh
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

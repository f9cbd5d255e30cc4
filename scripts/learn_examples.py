"""Make the Learn page's guidance and symmetry examples with the embedded model and ship them
(``assets/learn/guidance_examples.json``). Run again after retraining the embedded model: the page makes its own
examples, 25 s on the first visit, for a checkpoint other than the one they were made with.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/learn_examples.py
"""

from backend.runtime import configure_threads

configure_threads()

from backend.learn.guidance import EXAMPLES, write_examples  # noqa: E402
from backend.sampling.models import load_model  # noqa: E402

if __name__ == "__main__":
    shipped = write_examples(load_model("default", device="cpu"))
    print(f"{len(shipped.seeds)} seeds' examples written to {EXAMPLES}")

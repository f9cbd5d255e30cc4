"""One module per job kind: its frozen spec, which validates itself at submission and runs itself in the worker."""

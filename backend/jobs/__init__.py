"""Jobs: persistence (``store``: SQLite + job folders), what each kind asks for (``kinds``) and the server-side
worker that runs them (``runner``). Nothing is imported here: opening the store must not load torch."""

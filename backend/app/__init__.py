"""What the pages need from the backend without Streamlit (services, job view-models, uploads, display formatting,
structure facts, figures), the pages' shared Streamlit pieces (``page.py``) and the server entry point that serves
the app and the Crystal Toolkit view (``server.py``)."""

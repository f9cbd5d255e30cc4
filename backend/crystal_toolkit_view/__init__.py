"""The Materials Project's Crystal Toolkit structure view, a Dash app mounted at /ctk in the app's own server."""

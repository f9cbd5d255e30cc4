"""The live denoising figure: one chart that stays mounted and is redrawn in place, once a second.

``st.plotly_chart`` derives an element's identity from its figure, so a figure that changes every second is
unmounted and mounted again each time. Every mount opened one WebGL context per 3D panel; Chromium keeps at most
16 and drops the oldest ("Too many active WebGL contexts" in the console), which is why the live figure went blank
now and then. This component is keyed, so it stays mounted, and redraws with ``Plotly.react``, which keeps the
panels and their contexts. plotly.js is the copy that ships with the plotly package, served by this app's server
at :data:`PLOTLY_JS` (the browser never leaves the server).
"""

from __future__ import annotations

from pathlib import Path

import plotly
import plotly.graph_objects as go
from streamlit.components.v2 import component

PLOTLY_JS = "/vendor/plotly.min.js"
PLOTLY_FILE = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

_JS = """
export default function (component) {
  const { data, parentElement } = component;
  let chart = parentElement.querySelector("div.live-chart");
  if (!chart) {
    chart = document.createElement("div");
    chart.className = "live-chart";
    parentElement.appendChild(chart);
  }
  window.crystalCanvasPlotly = window.crystalCanvasPlotly || new Promise((resolve, reject) => {
    if (window.Plotly) return resolve(window.Plotly);
    const script = document.createElement("script");
    script.src = "PLOTLY_JS";
    script.onload = () => resolve(window.Plotly);
    script.onerror = () => reject(new Error("plotly.js could not be loaded from the server"));
    document.head.appendChild(script);
  });
  const figure = JSON.parse(data);
  window.crystalCanvasPlotly.then((Plotly) =>
    Plotly.react(chart, figure.data, figure.layout, { displaylogo: false, responsive: true })
  );
  return () => window.Plotly && window.Plotly.purge(chart);
}
""".replace("PLOTLY_JS", PLOTLY_JS)

_component = component("crystal_canvas.live_chart", js=_JS, isolate_styles=False)


def live_chart(figure: go.Figure, key: str) -> None:
    """Draw ``figure`` in the chart named ``key``, updating it in place when it is already on the page."""
    _component(key=key, data=figure.to_json())

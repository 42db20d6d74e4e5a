"""PaintCanvas: a plain HTML canvas that shows a picture and sends mouse strokes to Python.

The frontend half is a few lines of JavaScript kept inline (anywidget ESM),
so nothing loads from the network. It knows nothing about images or
classifiers: it shows the PNG it is given (``src``), draws a preview of the
stroke in progress, and on mouse-up sends one custom message::

    {"type": "stroke", "points": [[row, col], ...], "label": 2, "radius": 1}

with the points in pixels of the picture's *array* (``rows`` x ``cols``,
fractional; Python floors them), whatever size the canvas is on screen.
:class:`~labtools.widgets.ScribbleCanvas` turns that into voxels.
"""

from __future__ import annotations

import anywidget
import traitlets

__all__ = ["PaintCanvas"]

_ESM = r"""
function render({ model, el }) {
  const canvas = document.createElement("canvas");
  canvas.style.cursor = "crosshair";
  canvas.style.imageRendering = "pixelated";
  canvas.style.touchAction = "none";   // no scrolling while painting on a touch screen
  el.appendChild(canvas);
  const context = canvas.getContext("2d");
  const picture = new Image();
  let stroke = null;

  function redraw() {
    canvas.width = picture.naturalWidth || 1;
    canvas.height = picture.naturalHeight || 1;
    context.drawImage(picture, 0, 0);
  }
  function load() { picture.src = model.get("src"); }
  picture.onload = redraw;
  model.on("change:src", load);
  load();

  // Position of the pointer: canvas pixels (for the preview) and array pixels (for Python).
  function where(event) {
    const box = canvas.getBoundingClientRect();
    const fx = (event.clientX - box.left) / box.width;
    const fy = (event.clientY - box.top) / box.height;
    return { x: fx * canvas.width, y: fy * canvas.height,
             pixel: [fy * model.get("rows"), fx * model.get("cols")] };
  }
  function preview(from, to) {
    context.strokeStyle = model.get("color");
    context.lineCap = "round";
    context.lineWidth = (2 * model.get("radius") + 1) * canvas.width / model.get("cols");
    context.beginPath();
    context.moveTo(from.x, from.y);
    context.lineTo(to.x, to.y);
    context.stroke();
  }
  canvas.addEventListener("pointerdown", (event) => {
    try { canvas.setPointerCapture(event.pointerId); } catch (error) { /* pointer already gone */ }
    const point = where(event);
    stroke = { last: point, points: [point.pixel] };
    preview(point, point);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (stroke === null) return;
    const point = where(event);
    preview(stroke.last, point);
    stroke.last = point;
    stroke.points.push(point.pixel);
  });
  canvas.addEventListener("pointerup", () => {
    if (stroke === null) return;
    model.send({ type: "stroke", points: stroke.points,
                 label: model.get("label"), radius: model.get("radius") });
    stroke = null;   // Python answers with a new picture that includes the stroke
  });
  canvas.addEventListener("pointercancel", () => { stroke = null; redraw(); });
  return () => model.off("change:src", load);
}
export default { render };
"""


class PaintCanvas(anywidget.AnyWidget):
    """The browser half of :class:`~labtools.widgets.ScribbleCanvas` (see the module docstring).

    Examples
    --------
    >>> canvas = PaintCanvas(rows=4, cols=6, label=2, radius=1, color="#4daf4a")
    >>> received = []
    >>> canvas.on_msg(lambda widget, content, buffers: received.append(content))
    >>> canvas._handle_custom_msg({"type": "stroke", "points": [[1, 2]], "label": 2, "radius": 1}, [])
    >>> received[0]["points"]
    [[1, 2]]
    """

    _esm = _ESM
    src = traitlets.Unicode("").tag(sync=True)      # data: URL of the PNG on show
    rows = traitlets.Int(1).tag(sync=True)          # the picture's array shape, to convert
    cols = traitlets.Int(1).tag(sync=True)          # screen positions to array pixels
    label = traitlets.Int(1).tag(sync=True)
    radius = traitlets.Int(1).tag(sync=True)
    color = traitlets.Unicode("#e41a1c").tag(sync=True)

"""Interactive sampling in Jupyter: widgets that redraw text from a loaded model.

``show(params, vocab)`` is what ``best_model.ipynb``'s last cell calls. In a live
Jupyter frontend (Lab, Notebook) it displays a temperature slider, a prime box, the
length, the seed, a "Draw again" button and the text. Executed headless (papermill,
nbconvert, which run without a frontend to show widgets), it prints one line instead,
so the executed notebook and the report hold plain text and no widget state.

Exploring only reads the model: it writes no file (the notebook's recorded passage,
``passage.json``, is written by its earlier cell alone).
"""

import html

from . import sampling
from .jupyter import live_frontend

TEMPERATURE_RANGE = (0.1, 2.0)
MAX_LENGTH = 20_000
HEADLESS_MESSAGE = ("(the interactive sampler needs a live Jupyter frontend: open this notebook in "
                    "Jupyter Lab or Notebook and run the cell)")


def draw(params, vocab, temperature, prime, length, seed):
    """The text shown for these settings: prime + length sampled characters, or a one-line problem."""
    unknown = sorted(set(prime) - set(vocab))
    if unknown:
        return "prime has characters outside the model's vocabulary: " + ", ".join(map(repr, unknown))
    return prime + sampling.sample_text(params, vocab, int(length), int(seed), float(temperature), prime)


def sampler(params, vocab, length=500, seed=0, temperature=1.0, prime=""):
    """Build the widget box (it draws once straight away). Returns an ipywidgets.VBox.

    Moving the slider or editing the prime, length or seed redraws with those
    settings; "Draw again" moves the seed on by one and draws, so each click gives
    new text and any seed shown can be drawn again by typing it in.
    """
    import ipywidgets as w

    low, high = TEMPERATURE_RANGE
    temperature_w = w.FloatSlider(value=temperature, min=low, max=high, step=0.05,
                                  description="temperature", readout_format=".2f",
                                  continuous_update=False)
    prime_w = w.Text(value=prime, description="prime", placeholder="text to start from (optional)",
                     continuous_update=False)
    length_w = w.BoundedIntText(value=length, min=1, max=MAX_LENGTH, description="length")
    seed_w = w.BoundedIntText(value=seed, min=0, max=2**32 - 1, description="seed")
    again = w.Button(description="Draw again", tooltip="next seed, same settings", icon="refresh")
    text_w = w.HTML()

    def redraw(_change=None):
        text = draw(params, vocab, temperature_w.value, prime_w.value, length_w.value, seed_w.value)
        text_w.value = ("<pre style='white-space: pre-wrap; font-size: 90%'>"
                        + html.escape(text) + "</pre>")

    def draw_again(_button):
        seed_w.value = seed_w.value + 1      # observed: the seed's change redraws

    for widget in (temperature_w, prime_w, length_w, seed_w):
        widget.observe(redraw, names="value")
    again.on_click(draw_again)
    redraw()
    box = w.VBox([w.HBox([temperature_w, again]), prime_w, w.HBox([length_w, seed_w]), text_w])
    # Handles for code and tests: box.controls["temperature"].value = 0.5, etc.
    box.controls = {"temperature": temperature_w, "prime": prime_w, "length": length_w,
                    "seed": seed_w, "again": again, "text": text_w}
    return box


def show(params, vocab, **settings):
    """Display the sampler in a live frontend; otherwise print one line. Returns the box or None."""
    if not live_frontend():
        print(HEADLESS_MESSAGE)
        return None
    from IPython.display import display

    box = sampler(params, vocab, **settings)
    display(box)
    return box

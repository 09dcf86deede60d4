"""Interactive sampling in Jupyter: widgets that redraw text from a loaded model.

``show(params, vocab, meta)`` is what ``best_model.ipynb``'s last cell calls. In a live
Jupyter frontend (Lab, Notebook) it displays a temperature slider, a top-p slider (nucleus
sampling, lib.rnn.nucleus; 1 is plain sampling), a prime box, the
length (for a record model: the number of records), the seed, a "Draw again" button
and the text. Executed headless (papermill, nbconvert, which run without a frontend to
show widgets), it prints one line instead, so the executed notebook and the report hold
plain text and no widget state.

Exploring only reads the model: it writes no file (the notebook's recorded passage,
``passage.json``, is written by its earlier cell alone).
"""

import html

from lib.jupyter.front_end import live_frontend
from lib.records import record_sampling
from lib.sample import sampling
from lib.text import corpus

TEMPERATURE_RANGE = (0.1, 2.0)
TOP_P_RANGE = (0.05, 1.0)
MAX_LENGTH = 20_000
MAX_RECORDS = 1_000
MAX_SEED = 2**32 - 1
HEADLESS_MESSAGE = ("(the interactive sampler needs a live Jupyter frontend: open this notebook in "
                    "Jupyter Lab or Notebook and run the cell)")
# Wrap long lines at spaces (pre-wrap), breaking inside a word only when it alone is wider
# than the box; JupyterLab's own style for <pre> breaks anywhere (word-break: break-all).
TEXT_STYLE = "white-space: pre-wrap; word-break: normal; overflow-wrap: break-word; font-size: 90%"
# Wide enough for "temperature" in full (ipywidgets cuts a label at 80 pixels by default).
LABEL_STYLE = {"description_width": "90px"}


def draw(params, vocab, temperature, prime, length, seed, meta=None, top_p=1.0):
    """The text shown for these settings, or a one-line problem.

    prime + length sampled characters; for a record model (meta says records: true),
    length records, one per line, each starting with the prime.
    """
    try:
        if meta is not None and record_sampling.is_record_model(meta):
            return "\n".join(record_sampling.record_lines(params, vocab, meta, int(length), int(seed),
                                                          float(temperature), prime, top_p=float(top_p)))
        return prime + sampling.sample_text(params, vocab, int(length), int(seed), float(temperature), prime,
                                            top_p=float(top_p))
    except corpus.CorpusError as err:
        return str(err)


def out_of_range(name, value, low, high):
    """The line shown in place of the text for a field outside [low, high]."""
    return f"{name} must be from {low:,} to {high:,}, got {value:,}: nothing drawn"


def sampler(params, vocab, length=500, seed=0, temperature=1.0, prime="", meta=None, count=20, top_p=1.0):
    """Build the widget box (it draws once straight away). Returns an ipywidgets.VBox.

    Moving a slider or editing the prime, length or seed redraws with those
    settings; "Draw again" moves the seed on by one and draws, so each click gives
    new text and any seed shown can be drawn again by typing it in. For a record
    model (meta, the model file's metadata, says records: true) the length box is
    the number of records, count at first.
    """
    import ipywidgets as w

    record_model = meta is not None and record_sampling.is_record_model(meta)
    low, high = TEMPERATURE_RANGE
    temperature_w = w.FloatSlider(value=temperature, min=low, max=high, step=0.05,
                                  description="temperature", readout_format=".2f",
                                  continuous_update=False, style=LABEL_STYLE)
    top_p_w = w.FloatSlider(value=top_p, min=TOP_P_RANGE[0], max=TOP_P_RANGE[1], step=0.05,
                            description="top-p", readout_format=".2f", continuous_update=False, style=LABEL_STYLE)
    prime_w = w.Text(value=prime, description="prime", placeholder="text to start from (optional)",
                     continuous_update=False, style=LABEL_STYLE)
    # IntText, not BoundedIntText: a bounded box moves a value outside its bounds to the nearest
    # bound without a word (length 0 drew 1 character, seed -1 drew seed 0); redraw names it.
    length_w = w.IntText(value=count if record_model else length, description="records" if record_model else "length",
                         style=LABEL_STYLE)
    seed_w = w.IntText(value=seed, description="seed", style=LABEL_STYLE)
    ranges = [(length_w, 1, MAX_RECORDS if record_model else MAX_LENGTH), (seed_w, 0, MAX_SEED)]
    again = w.Button(description="Draw again", tooltip="next seed, same settings", icon="refresh")
    text_w = w.HTML()

    def redraw(_change=None):
        refused = [out_of_range(field.description, field.value, low, high) for field, low, high in ranges
                   if not low <= field.value <= high]
        text = "\n".join(refused) if refused else draw(params, vocab, temperature_w.value, prime_w.value,
                                                         length_w.value, seed_w.value, meta, top_p_w.value)
        text_w.value = f"<pre style='{TEXT_STYLE}'>" + html.escape(text) + "</pre>"

    def draw_again(_button):
        seed_w.value = seed_w.value + 1      # observed: the seed's change redraws

    for widget in (temperature_w, top_p_w, prime_w, length_w, seed_w):
        widget.observe(redraw, names="value")
    again.on_click(draw_again)
    redraw()
    box = w.VBox([w.HBox([temperature_w, again]), top_p_w, prime_w, w.HBox([length_w, seed_w]), text_w])
    # Handles for code and tests: box.controls["temperature"].value = 0.5, etc.
    box.controls = {"temperature": temperature_w, "top_p": top_p_w, "prime": prime_w, "length": length_w,
                    "seed": seed_w, "again": again, "text": text_w}
    return box


def show(params, vocab, meta=None, **settings):
    """Display the sampler in a live frontend; otherwise print one line. Returns the box or None."""
    if not live_frontend():
        print(HEADLESS_MESSAGE)
        return None
    from IPython.display import display

    box = sampler(params, vocab, meta=meta, **settings)
    display(box)
    return box

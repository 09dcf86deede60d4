"""Settings checked before anything is computed from them: one rule per kind of value.

Every notebook's parameters, and every library entry point that takes settings,
go through ``check``: it either returns the value in its plain Python form (an
int for an integer, a list for a list) or raises ``ParameterError`` with one
line that names the parameter and the values it allows. Papermill types what
it is given (``-p temperatures 0.5`` arrives as a float, ``-y 'm_values: 3'``
as an int), so list parameters accept a single value as a one-element list.
"""

import ast
import difflib
import math
import numbers

from lib.atomic import OneLine
from lib.training.settings import DEFAULTS as TABLE_DEFAULTS
from lib.training.settings import RULES as TABLE_RULES


class ParameterError(OneLine, ValueError):
    """A setting with an unusable value; the message names it and what it may be."""


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


# The smallest sampling temperature. Sampling divides the logits by it, and a small enough
# divisor turns finite logits into inf and the draw into garbage (inf - inf is nan). The
# model loader (lib.training.checkpoint.load_model) refuses parameters whose largest possible logit,
# divided by this, would not stay far from overflow, so every temperature this check lets
# through computes finite probabilities. Far above the bound the draw is already the most
# likely character almost every time (a logit gap of 0.01 becomes e^10), which --argmax gives.
MIN_TEMPERATURE = 1e-3

# Each rule: (test on the value, its plain form, what the allowed values are called).
_RULES = {
    "positive_int": (lambda v: _is_int(v) and v > 0, int, "a positive integer"),
    "non_negative_int": (lambda v: _is_int(v) and v >= 0, int, "a non-negative integer"),
    "positive_number": (lambda v: _is_number(v) and v > 0, float, "a positive finite number"),
    "temperature": (lambda v: _is_number(v) and v >= MIN_TEMPERATURE, float,
                    f"a finite number of at least {MIN_TEMPERATURE:g}"),
    "fraction": (lambda v: _is_number(v) and 0 <= v < 1, float, "a number in [0, 1)"),
    # Nucleus sampling's theta (lib.rnn.nucleus): 1 is plain sampling.
    "top_p": (lambda v: _is_number(v) and 0 < v <= 1, float, "a number in (0, 1]"),
    "unit_interval": (lambda v: _is_number(v) and 0 < v < 1, float, "a number between 0 and 1, both excluded"),
    # A factor that may only shrink what it multiplies: 1 leaves it as it is.
    "shrink_factor": (lambda v: _is_number(v) and 0 < v <= 1, float, "a number in (0, 1]"),
    # A gradient bound; False: none (a notebook's None leaves it to the protocol).
    "clip": (lambda v: v is False or _is_number(v) and v > 0, lambda v: v if v is False else float(v),
             "a positive number, or False for no clipping"),
    "bool": (lambda v: isinstance(v, bool) or type(v).__name__ == "bool_", bool, "True or False"),
    "text": (lambda v: isinstance(v, str), str, "a string"),
    # A name that may look like a number: papermill's -p protocol 2026 arrives as an int.
    "word": (lambda v: isinstance(v, str) or _is_int(v), str, "a word"),
    "path": (lambda v: isinstance(v, str) and v.strip() != "" or hasattr(v, "__fspath__"), str,
             "a file or folder path"),
}


def _or_none(optional, none_means):
    """What a message adds for a setting that may be None."""
    if not optional:
        return ""
    return f" (or None: {none_means})" if none_means else " (or None)"


def describe(value):
    """What a value read from JSON is called in messages ('a number', 'an array', 'null')."""
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null", int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def allowed(kind):
    """What values of kind are called in messages ('a positive integer')."""
    return _RULES[kind][2]


def check(name, value, kind, optional=False, choices=None, empty=False, none_means=None):
    """The value in plain form, or ParameterError naming ``name`` and the allowed values.

    Args:
        kind: one of positive_int, non_negative_int, positive_number, temperature,
            fraction, bool, text, path; or "list of <kind>" for a list of such values (a
            single value is taken as a one-element list; the list may not be empty).
        optional: None is allowed (and returned as None); none_means says what it stands for.
        choices: the value must also be one of these.
        empty: a list kind may be empty.
    """
    if value is None and optional:
        return None
    if kind.startswith("list of "):
        item_kind = kind[len("list of "):]
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        test, convert, allowed = _RULES[item_kind]
        if choices is not None and all(test(v) for v in items) and not all(convert(v) in choices for v in items):
            raise ParameterError(f"{name} must be a list of {', '.join(repr(c) for c in choices)}, got {value!r}")
        if (not items and not empty) or not all(test(v) for v in items):
            raise ParameterError(f"{name} must be {allowed} or a {'' if empty else 'non-empty '}list of them"
                                 f"{_or_none(optional, none_means)}, got {value!r}"
                                 + next(filter(None, (_read_as_text(v, item_kind) for v in items)), ""))
        return [convert(v) for v in items]
    test, convert, allowed = _RULES[kind]
    if not test(value) or (choices is not None and convert(value) not in choices):
        if choices is not None:
            allowed = "one of " + ", ".join(repr(c) for c in choices)
        raise ParameterError(f"{name} must be {allowed}{_or_none(optional, none_means)}, got {value!r}"
                             + _read_as_text(value, kind))
    return convert(value)


_NUMBER_KINDS = ("positive_int", "non_negative_int", "positive_number", "temperature", "fraction", "shrink_factor")


def _read_as_text(value, kind):
    """The hint for a string that Python reads as a finite number where kind wants one, else ''.
    papermill reads -y values as YAML 1.1, whose numbers need a dot and a signed exponent
    (0.1, 1.0e-1): there 1e-1 and 1e3 arrive as strings."""
    if kind not in _NUMBER_KINDS or not isinstance(value, str):
        return ""
    try:
        number = float(value)
    except ValueError:
        return ""
    if not math.isfinite(number):
        return ""
    if kind.endswith("_int") and number.is_integer():
        written = str(int(number))
    else:
        written = repr(number)
        mantissa, e, exponent = written.partition("e")
        if e and "." not in mantissa:  # 1e-300: YAML takes it for a number only as 1.0e-300
            written = f"{mantissa}.0e{exponent}"
    return f": text, not a number, as YAML (papermill's -y) reads {value}; write {written}"


def check_all(spec, values):
    """Check each name in spec against values: a dict of checked values in spec's order.

    spec: {name: kind} or {name: (kind, {"optional": True, "choices": [...], "empty": True})}.
    """
    checked = {}
    for name, rule in spec.items():
        kind, options = (rule, {}) if isinstance(rule, str) else rule
        checked[name] = check(name, values.get(name), kind, **options)
    return checked


# ----------------------------------------------------------- what each setting may be
# The training settings are listed once, with their defaults and roles, in lib.training.settings.
_OPTIONAL_PATH = ("path", {"optional": True})
# Record mode (lib.records): the train notebook's three settings for it.
RECORD_MODE = {name: TABLE_RULES[name] for name in ("records", "record_field", "max_record_len")}

# Each notebook's parameters cell, name by name (tests/test_notebooks.py checks they match).
NOTEBOOKS = {
    "train": dict(TABLE_RULES),
    "gradient_check": {"data_path": _OPTIONAL_PATH, "out_dir": _OPTIONAL_PATH,
                       "m_values": "list of positive_int", "losses": ("list of text", {"choices": ("sum", "mean")}),
                       "seq_length": "positive_int",
                       "sigma": "positive_number", "seed": "non_negative_int", "h": "positive_number",
                       "keep_carriage_returns": "bool",
                       "cells": ("list of text", {"choices": ("lstm", "gru"), "empty": True}),
                       "cell_layers": "list of positive_int", "cell_m": "positive_int", "cell_streams": "positive_int"},
    "text_evolution": {"run_dir": _OPTIONAL_PATH, "every": "positive_int", "up_to": "positive_int",
                       "out_dir": _OPTIONAL_PATH},
    "best_model": {"run_dir": _OPTIONAL_PATH, "passage_len": "positive_int", "seed": "non_negative_int",
                   "temperatures": "list of temperature", "top_ps": "list of top_p", "sweep_len": "positive_int",
                   "prime": "text", "n_records": "positive_int", "measure_draws": "non_negative_int",
                   "measure_len": "positive_int", "out_dir": _OPTIONAL_PATH},
    "inside": {"run_dir": _OPTIONAL_PATH, "text_path": _OPTIONAL_PATH, "chars": "positive_int",
               "ngram_max": "positive_int", "out_dir": _OPTIONAL_PATH,
               "seed_dirs": ("list of path", {"empty": True})},
}


# Each notebook's defaults, as its parameters cell holds them (tests/test_lifecycle.py checks that they
# agree). make's stages pass every parameter from here (lib.jupyter.stage --all-parameters), so that
# what a cell holds after an edit (JupyterLab autosaves one) never reaches the report's runs.
NOTEBOOK_DEFAULTS = {
    "train": dict(TABLE_DEFAULTS),
    "gradient_check": {"data_path": None, "out_dir": None, "m_values": [3, 10, 100], "losses": ["sum", "mean"],
                       "seq_length": 25, "sigma": 0.01, "seed": 0, "h": 1e-4, "keep_carriage_returns": False,
                       "cells": ["lstm", "gru"], "cell_layers": [1, 2], "cell_m": 10, "cell_streams": 3},
    "text_evolution": {"run_dir": None, "every": 10_000, "up_to": 100_000, "out_dir": None},
    "best_model": {"run_dir": None, "passage_len": 1000, "seed": 0, "temperatures": [0.5, 0.8, 1.0],
                   "top_ps": [0.3, 0.6, 0.9], "sweep_len": 300, "prime": "", "n_records": 20, "measure_draws": 5,
                   "measure_len": 2000, "out_dir": None},
    "inside": {"run_dir": None, "text_path": None, "chars": 100_000, "ngram_max": 6, "out_dir": None,
               "seed_dirs": []},
}


# The first line of the cell papermill injects with the -p and -y values (its translator's comment),
# and the names it adds itself when asked (--inject-paths).
INJECTED_MARK = "# Parameters\n"
PAPERMILL_NAMES = ("PAPERMILL_INPUT_PATH", "PAPERMILL_OUTPUT_PATH")


def injected_names(namespace):
    """The names the last cell papermill injected assigns, read from the kernel's input history
    (IPython's In, in namespace): the values given with -p and -y. () where none ran."""
    history = namespace.get("In")
    if not isinstance(history, list):
        return ()
    for source in reversed(history):
        if isinstance(source, str) and source.startswith(INJECTED_MARK):
            try:
                body = ast.parse(source).body
            except SyntaxError:
                return ()
            return tuple(target.id for node in body if isinstance(node, ast.Assign)
                         for target in node.targets if isinstance(target, ast.Name))
    return ()


def refuse_unknown(notebook, given, known):
    """ParameterError naming each of given that known lacks: the known name it is a form of (epoch:
    epochs), else where it belongs (another notebook's parameter, the sampling command's option), else
    the nearest known name."""
    unknown = [name for name in given if name not in known]
    if unknown:
        named = ", ".join(f"{name} ({_what_it_is(notebook, name, known)})" for name in unknown)
        raise ParameterError(f"{notebook}.ipynb has no parameter{'s' if len(unknown) > 1 else ''} {named}")


def _forms(name):
    """The name and its other number: top_p and top_ps, temperatures and temperature."""
    return {name, name + "s", name.removesuffix("s")} - {""}


def _what_it_is(notebook, name, known):
    own = [k for k in known if k in _forms(name)]
    if own:
        return f"did you mean {own[0]}?"
    elsewhere = [f"{other}.ipynb's {k}" for other, parameters in NOTEBOOKS.items() if other != notebook
                 for k in parameters if k in _forms(name)]
    elsewhere += [f"{option} of the sampling command, python -m lib.sample" for option in _sampling_options()
                  if option.removeprefix("--").replace("-", "_") in _forms(name)]
    if elsewhere:
        return "it is " + (" and ".join(elsewhere) if len(elsewhere) < 3 else
                           ", ".join(elsewhere[:-1]) + " and " + elsewhere[-1])
    return f"did you mean {difflib.get_close_matches(name, known, n=1, cutoff=0.0)[0]}?"


def _sampling_options():
    """The long options of python -m lib.sample (--top-p, --temperature, ...)."""
    from lib.sample import command  # (it checks its options here: imported when needed)

    return [option for action in command.build_parser()._actions for option in action.option_strings
            if option.startswith("--") and option != "--help"]


def notebook_parameters(notebook, namespace):
    """A notebook's parameters taken from namespace (its globals()), checked: a SimpleNamespace.

    A name given with papermill's -p or -y that the notebook does not have is refused (papermill
    itself only warns, among its output, and the notebook would run with the defaults)."""
    from types import SimpleNamespace

    refuse_unknown(notebook, [name for name in injected_names(namespace) if name not in PAPERMILL_NAMES],
                   list(NOTEBOOKS[notebook]))
    return SimpleNamespace(**check_all(NOTEBOOKS[notebook], namespace))

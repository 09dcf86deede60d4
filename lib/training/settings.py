"""The training settings, listed once: what each may be, its default, and what it is for.

``TABLE`` is the one list of train.ipynb's parameters. Everything else is derived from it:
the notebook's checks (``lib.checks.NOTEBOOKS["train"]``), train()'s settings, the settings
a continued run must match (``RUN_SETTINGS``), the run folder's default name and the
settings make passes (``make_parameters``); tests/test_lifecycle.py checks that the
notebook's parameters cell says the same.

A ``protocol`` is one course handout: one word that sets the settings of ``PROTOCOLS``.
Each of those left at None in the notebook (left out of train()'s arguments) takes the
protocol's value; one given explicitly overrides it, and the folder name, summary.json and
the report name it. In the notebook, clip=False turns clipping off (None takes the
protocol's clip); in train()'s arguments and in the resolved settings, clip=None is no clipping.
"""

# The course's handouts. 2021 (and 2024, the same base): AdaGrad, the loss summed over a
# sequence, N(0, 0.01^2) weights, gradients clipped to [-5, 5]. 2026: Adam, the loss averaged
# over a sequence (per character), scaled weights (lib.rnn.init_params), no clipping.
# Both train the course's network: one vanilla layer, float64, one sequence an update, eta constant.
COURSE_NETWORK = {"cell": "rnn", "layers": 1, "dtype": "float64", "dropout": 0.0, "batch_size": 1, "eta_decay": 1.0}
PROTOCOLS = {
    "2021": {"m": 100, "eta": 0.1, "seq_length": 25, "optimizer": "adagrad", "loss": "sum",
             "init": "normal", "sigma": 0.01, "clip": 5.0, **COURSE_NETWORK},
    "2026": {"m": 100, "eta": 0.001, "seq_length": 25, "optimizer": "adam", "loss": "mean",
             "init": "scaled", "sigma": None, "clip": None, **COURSE_NETWORK},
    # This project's own, for a gated network, chosen by measurement: in 7 epochs, within the CPU time of four of the
    # course's runs, it reads the held-out play below the best Kneser-Ney n-gram on average over five seeds (three
    # of the five), not for every seed (docs/gated.md: the runs).
    # init and sigma are the vanilla cell's: a gated cell's initialisation is its module's (lib/lstm.py, lib/gru.py).
    "gated": {"m": 384, "eta": 0.003, "seq_length": 50, "optimizer": "adam", "loss": "mean",
              "init": "scaled", "sigma": None, "clip": 5.0,
              "cell": "gru", "layers": 1, "dtype": "float32", "dropout": 0.3, "batch_size": 32, "eta_decay": 0.7},
}
# What the handouts themselves set (the others are this project's, the same in both).
HANDOUT_SETTINGS = ("m", "eta", "seq_length", "optimizer", "loss", "init", "sigma", "clip")
DEFAULT_PROTOCOL = "2021"
OPTIMIZERS = ("adagrad", "adam")
ORDERS = ("sequential", "chunks", "random")
# The networks (lib.network): the course's vanilla cell, or a gated one, stacked ``layers`` deep.
CELLS = ("rnn", "lstm", "gru")
DTYPES = ("float64", "float32")
ADAM_DEFAULTS = {"beta1": 0.9, "beta2": 0.999}

# name: (rule for lib.checks, the notebook's default, role). Roles:
#   protocol  set by the protocol (the notebook's None takes its value); part of the run
#   run       part of the run: a run of another value is another run (continuing must match)
#   length    how long the run is (a finished run may be continued for more)
#   session   how this session goes, or where it writes: not part of the run
#   notebook  read by the notebook around train() (the text, the folder, record mode)
_OPTIONAL = {"optional": True}
_PROTOCOLS = {"optional": True, "none_means": "the protocol's"}
TABLE = {
    "data_path": (("path", _OPTIONAL), None, "notebook"),
    "out_dir": (("path", _OPTIONAL), None, "notebook"),
    "protocol": (("word", {"choices": tuple(PROTOCOLS)}), DEFAULT_PROTOCOL, "run"),
    "epochs": ("positive_int", 10, "length"),
    "m": (("positive_int", _PROTOCOLS), None, "protocol"),
    "eta": (("positive_number", _PROTOCOLS), None, "protocol"),
    "seq_length": (("positive_int", _PROTOCOLS), None, "protocol"),
    "optimizer": (("text", dict(_PROTOCOLS, choices=OPTIMIZERS)), None, "protocol"),
    "loss": (("text", dict(_PROTOCOLS, choices=("sum", "mean"))), None, "protocol"),
    "init": (("text", dict(_PROTOCOLS, choices=("normal", "scaled"))), None, "protocol"),
    "sigma": (("positive_number", _PROTOCOLS), None, "protocol"),
    "clip": (("clip", _PROTOCOLS), None, "protocol"),
    "beta1": (("unit_interval", {"optional": True, "none_means": "Adam's 0.9"}), None, "run"),
    "beta2": (("unit_interval", {"optional": True, "none_means": "Adam's 0.999"}), None, "run"),
    "eps": ("positive_number", 1e-8, "run"),
    "seed": ("non_negative_int", 0, "run"),
    "fast": ("bool", True, "run"),
    "max_steps": (("positive_int", _OPTIONAL), None, "length"),
    "log_every": ("positive_int", 100, "run"),
    "synth_every": ("positive_int", 10_000, "run"),
    "synth_len": ("positive_int", 200, "run"),
    "val_fraction": ("fraction", 0.0, "run"),
    # The training order and the batch (lib.training.parts: the walks; the handouts' bonus experiments).
    "order": (("text", {"choices": ORDERS}), "sequential", "run"),
    "chunks": (("positive_int", {"optional": True, "none_means": "not cut into pieces"}), None, "run"),
    "val_chunk": (("non_negative_int", {"optional": True, "none_means": "no piece set aside"}), None, "run"),
    "batch_size": (("positive_int", _PROTOCOLS), None, "protocol"),
    "eval_every": ("positive_int", 10_000, "run"),
    # The network (lib.network): which cell, how many stacked, the float type, dropout between layers.
    "cell": (("text", dict(_PROTOCOLS, choices=CELLS)), None, "protocol"),
    "layers": (("positive_int", _PROTOCOLS), None, "protocol"),
    "dtype": (("text", dict(_PROTOCOLS, choices=DTYPES)), None, "protocol"),
    "dropout": (("fraction", _PROTOCOLS), None, "protocol"),
    # eta is multiplied by this at the start of every epoch after the first (1: constant, the course's).
    "eta_decay": (("shrink_factor", _PROTOCOLS), None, "protocol"),
    "checkpoint_every": ("positive_int", 10_000, "session"),
    "retrain": ("bool", False, "session"),
    "keep_carriage_returns": ("bool", False, "notebook"),
    "snapshot_epochs": (("list of positive_int", {"empty": True}), [], "session"),
    "records": ("bool", False, "notebook"),
    "record_field": ("text", "text", "notebook"),
    "max_record_len": ("positive_int", 140, "notebook"),
}

# How the default run folder's name (lib.training.runner.default_out_dir; README, "Run folders") writes a
# setting of the run that is not its protocol's or TABLE's default: this tag, then the value (batch8,
# eval1000); a setting not listed, its own name (m50, eta0.05, seed2, orderrandom); fast=False, "plain".
# Names with an underscore are shortened: the folder's parts are joined by underscores.
NAME_TAGS = {"seq_length": "seq", "log_every": "log", "synth_every": "synth", "synth_len": "synthlen",
             "val_fraction": "val", "val_chunk": "valchunk", "batch_size": "batch", "eval_every": "eval",
             "eta_decay": "decay"}

RULES = {name: rule for name, (rule, _, _) in TABLE.items()}
DEFAULTS = {name: default for name, (_, default, _) in TABLE.items()}
PROTOCOL_SETTINGS = tuple(PROTOCOLS[DEFAULT_PROTOCOL])
# What train() takes (beside the text, the folder and the run's hooks).
TRAIN_SETTINGS = tuple(name for name, (_, _, role) in TABLE.items() if role != "notebook" and
                       name not in ("retrain", "snapshot_epochs"))
# What a continued run must match (and a reused one equal): the run's identity.
RUN_SETTINGS = tuple(name for name, (_, _, role) in TABLE.items() if role in ("protocol", "run"))
# Run settings added after runs were first written: a run's saved settings that lack one had its default.
LATER_SETTINGS = ("cell", "layers", "dtype", "dropout", "eta_decay")


def with_later_defaults(saved):
    """Saved run settings (a checkpoint's, a status.json's) with every LATER_SETTINGS one they lack at
    its value then: a run written before that setting existed trained the course's network."""
    return {**{name: COURSE_NETWORK[name] for name in LATER_SETTINGS}, **saved}


class SettingsError(ValueError):
    """Settings that do not fit together; the message names them."""


def resolve(protocol=DEFAULT_PROTOCOL, **given):
    """The full settings of a run: the protocol's, overridden by those given (checked values).

    Args:
        protocol: a key of PROTOCOLS.
        given: settings given explicitly (absent ones take the protocol's or TABLE's default;
            clip=None here is no clipping).
    Returns:
        (settings, overrides): every setting of TRAIN_SETTINGS, resolved; and the names of the
        protocol's settings given with another value than the protocol's, in TABLE's order.
    Raises:
        SettingsError: a setting that does not apply (sigma with init="scaled", beta1 or
            beta2 with optimizer="adagrad").
    """
    handout = PROTOCOLS[protocol]
    settings = {name: DEFAULTS[name] for name in TRAIN_SETTINGS}
    settings.update(handout, protocol=protocol)
    settings.update(given)
    if settings["init"] == "scaled":
        if given.get("sigma") is not None:
            raise SettingsError(f"sigma={given['sigma']!r} is the scale of init='normal' weights; "
                                f"with init='scaled' leave sigma out (None)")
        settings["sigma"] = None
    elif settings["sigma"] is None:
        settings["sigma"] = PROTOCOLS[DEFAULT_PROTOCOL]["sigma"]
    for name, usual in ADAM_DEFAULTS.items():
        if settings["optimizer"] == "adam":
            settings[name] = usual if settings[name] is None else settings[name]
        elif settings[name] is not None:
            raise SettingsError(f"{name}={settings[name]!r} is Adam's setting; optimizer is "
                                f"{settings['optimizer']!r} (give optimizer='adam', or leave {name} out)")
    check_order(settings)
    check_network(settings)
    overrides = [name for name in PROTOCOL_SETTINGS if settings[name] != handout[name]]
    return settings, overrides


def check_order(settings):
    """SettingsError for order, chunks and val_chunk that do not fit together (the text's length is
    checked where the walk is made, lib.training.parts.make_walk)."""
    order, chunks, val_chunk = settings["order"], settings["chunks"], settings["val_chunk"]
    if order == "chunks" and chunks is None:
        raise SettingsError("order='chunks' needs chunks, the number of pieces the text is cut into")
    if val_chunk is not None:
        if chunks is None:
            raise SettingsError(f"val_chunk={val_chunk} is the index of one of the chunks pieces: give chunks too")
        if val_chunk >= chunks:
            raise SettingsError(f"val_chunk must be in 0..chunks-1 = 0..{chunks - 1}, got {val_chunk}")
        if order == "chunks" and chunks == 1:
            raise SettingsError("chunks=1 with a val_chunk leaves no piece to train on: give chunks of at least 2")
    elif chunks is not None and order != "chunks":
        raise SettingsError(f"chunks={chunks} cuts the text for order='chunks' or a val_chunk; with order={order!r} "
                            f"and no val_chunk it would do nothing: leave it out (None)")


def check_network(settings):
    """SettingsError for network settings that the chosen cell does not have."""
    if settings["cell"] == "rnn":
        if settings["layers"] != 1:
            raise SettingsError(f"layers={settings['layers']} stacks gated cells; the course's cell='rnn' has one "
                                f"layer: give cell='lstm' or cell='gru', or leave layers at 1")
        if settings["dropout"] != 0:
            raise SettingsError(f"dropout={settings['dropout']} acts between a gated network's layers and on its "
                                f"output; the course's cell='rnn' has none: give cell='lstm' or cell='gru'")


def train_arguments(parameters):
    """train()'s arguments from the notebook's checked parameters: a protocol setting left at
    None is left out (the protocol's), and clip=False becomes clip=None (no clipping)."""
    arguments = {}
    for name in TRAIN_SETTINGS:
        value = parameters[name]
        if TABLE[name][2] == "protocol" or name in ADAM_DEFAULTS:
            if value is None:
                continue
            if name == "clip" and value is False:
                value = None
        arguments[name] = value
    return arguments


def differing(settings):
    """[(name, value)] of the run's settings that are not its protocol's or TABLE's default,
    in TABLE's order: what the folder name and the report name beside the protocol."""
    usual = dict(DEFAULTS, **PROTOCOLS[settings["protocol"]])
    usual.update(ADAM_DEFAULTS if settings.get("optimizer") == "adam" else dict.fromkeys(ADAM_DEFAULTS))
    if settings.get("init") == "scaled":
        usual["sigma"] = None
    return [(name, settings[name]) for name in RUN_SETTINGS
            if name != "protocol" and name in settings and settings[name] != usual[name]]


def describe_value(value):
    """A setting's value as the folder name and the report write it (0.05, 1e-06, none)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value)
    return f"{value:g}" if isinstance(value, float) else str(value)

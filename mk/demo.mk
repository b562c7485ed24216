# mk/demo.mk -- make demo: the whole job on Fashion-MNIST. (Included by the Makefile.)
# Trains the small DLBHC net (weights/small_dlbhc_*.prototxt) on the 60,000 training images,
# indexes them, evaluates the 10,000 test images as queries with the paper's protocol and writes
# $(DEMO)/report.html. DATA=dir takes any folder with MNIST-format idx files (plain or .gz).
# METHOD=ssdh trains the same net the SSDH way instead (weights/small_ssdh_*.prototxt: the two
# extra losses on the latent layer, docs/ssdh.md) and writes into its own folder, demo-ssdh/, so
# the two reports sit side by side.
DATA ?= $(FASHION_DIR)
METHOD ?= dlbhc
ifeq ($(filter $(METHOD),dlbhc ssdh),)
  $(error METHOD=$(METHOD): expected dlbhc (the default) or ssdh)
endif
DEMO ?= $(if $(filter ssdh,$(METHOD)),demo-ssdh,demo)
DEMO_NET := weights/small_$(METHOD)_train_val.prototxt
DEMO_SOLVER := weights/small_$(METHOD)_solver.prototxt
DEMO_WEIGHTS := $(DEMO)/small_$(METHOD).weights

.PHONY: demo demo-deps

demo-deps: deps

demo: demo-deps
	@$(MAKE) --no-print-directory -j$$(nproc 2>/dev/null || echo 2) all
	@mkdir -p $(DEMO)
	@set -e; start=$$(date +%s); \
	echo "== 1/3 train ($(DEMO_SOLVER)) on $(DATA)/train"; \
	$(APP) train --solver $(DEMO_SOLVER) --train-data $(DATA)/train --test-data $(DATA)/t10k \
	  --snapshot-prefix $(DEMO)/small_$(METHOD) --out $(DEMO_WEIGHTS); \
	t_train=$$(date +%s); \
	echo "== 2/3 index $(DATA)/train"; \
	$(APP) index --net $(DEMO_NET) --weights $(DEMO_WEIGHTS) --data $(DATA)/train \
	  --out $(DEMO)/fashion_train.idx; \
	echo "== 3/3 evaluate $(DATA)/t10k against the index"; \
	$(APP) eval --net $(DEMO_NET) --weights $(DEMO_WEIGHTS) --index $(DEMO)/fashion_train.idx \
	  --queries $(DATA)/t10k --db-data $(DATA)/train --json $(DEMO)/metrics.json \
	  --svg $(DEMO)/precision_at_k.svg --html $(DEMO)/report.html; \
	end=$$(date +%s); \
	echo "demo done in $$((end - start)) s (training $$((t_train - start)) s); report: $(DEMO)/report.html"; \
	echo "next: search the index for one test image (a page with the results as pictures):"; \
	echo "  build/dlbhc query --net $(DEMO_NET) --weights $(DEMO_WEIGHTS) --index $(DEMO)/fashion_train.idx --item $(DATA)/t10k:0 --db-data $(DATA)/train --html $(DEMO)/query.html"; \
	echo "  or with your own picture (converted to 28x28 grey as the net expects):"; \
	echo "  build/dlbhc query --net $(DEMO_NET) --weights $(DEMO_WEIGHTS) --index $(DEMO)/fashion_train.idx --image YOUR.png --html $(DEMO)/query.html"

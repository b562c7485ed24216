# mk/paper.mk -- make paper: the paper's retrieval experiments on Fashion-MNIST, written to
# docs/paper.md (tables) and docs/paper_precision_at_k_<bits>.svg (the paper's plot: precision@k
# for k = 1..1000, one curve per mode, a panel for training-set queries and one for test-set
# queries). (Included by the Makefile.)
# Trains three nets with the shorter recipe weights/small_dlbhc_paper_solver.prototxt: the demo's
# DLBHC net with 48 and with 128 latent bits (`--bits 128` makes the 128-bit variant of
# weights/small_dlbhc_train_val.prototxt) and the baseline, the same trunk trained as a plain
# classifier (weights/small_classifier_train_val.prototxt). Indexes the 60,000 training images with
# each DLBHC net and runs `dlbhc eval --modes bcs,hds,es` with the classifier's features as the
# baseline, for the first PAPER_TRAIN_QUERIES training images (each excluding itself) and the
# 10,000 test images as queries. Work files go to $(PAPER)/ and are kept: a second run only
# writes the page again (delete $(PAPER)/eval*.json to evaluate again, $(PAPER)/ to train again).
# The steps' wall times and the CPU go on the page (mk/paper_page.py).
PAPER ?= paper
PAPER_SOLVER := weights/small_dlbhc_paper_solver.prototxt
PAPER_NET := weights/small_dlbhc_train_val.prototxt
PAPER_BASE_NET := weights/small_classifier_train_val.prototxt
PAPER_TRAIN_QUERIES ?= 1000
PAPER_BITS := 48 128

.PHONY: paper paper-nets

# $(1): output weights, $(2): net, $(3): extra train options. The training time goes to a file
# beside the weights, for the page.
define paper_train
	@mkdir -p $(PAPER)
	@echo "== train $(2) $(3) -> $(1)"
	@set -e; start=$$(date +%s); \
	$(APP) train --solver $(PAPER_SOLVER) --net $(2) $(3) --train-data $(DATA)/train --test-data $(DATA)/t10k \
	  --snapshot-prefix $(basename $(1)) --out $(1).tmp > $(basename $(1)).train.log 2>&1 || { tail -20 $(basename $(1)).train.log; exit 1; }; \
	end=$$(date +%s); echo $$((end - start)) > $(basename $(1)).train_seconds; mv $(1).tmp $(1); \
	tail -3 $(basename $(1)).train.log
endef

$(PAPER)/dlbhc48.weights: $(PAPER_SOLVER) $(PAPER_NET) | $(APP)
	$(call paper_train,$@,$(PAPER_NET),--bits 48)
$(PAPER)/dlbhc128.weights: $(PAPER_SOLVER) $(PAPER_NET) | $(APP)
	$(call paper_train,$@,$(PAPER_NET),--bits 128)
$(PAPER)/classifier.weights: $(PAPER_SOLVER) $(PAPER_BASE_NET) | $(APP)
	$(call paper_train,$@,$(PAPER_BASE_NET),)

paper-nets: $(PAPER)/dlbhc48.weights $(PAPER)/dlbhc128.weights $(PAPER)/classifier.weights

# $(1): bits. The index of the 60,000 training images with that net.
define paper_index
	@echo "== index $(DATA)/train with the $(1)-bit net"
	@set -e; start=$$(date +%s); \
	$(APP) index --net $(PAPER_NET) --bits $(1) --weights $(PAPER)/dlbhc$(1).weights --data $(DATA)/train --out $(PAPER)/train$(1).idx.tmp \
	  > $(PAPER)/index$(1).log 2>&1 || { tail -20 $(PAPER)/index$(1).log; exit 1; }; \
	echo $$(($$(date +%s) - start)) > $(PAPER)/index$(1).seconds; mv $(PAPER)/train$(1).idx.tmp $(PAPER)/train$(1).idx
endef

# $(1): bits. Every mode and the baseline, training-set and test-set queries; the output is kept
# for the page (the timing lines).
define paper_eval
	@echo "== eval $(1) bits: modes bcs,hds,es and the classifier baseline; $(PAPER_TRAIN_QUERIES) training and all test queries"
	@set -e; start=$$(date +%s); \
	$(APP) eval --net $(PAPER_NET) --bits $(1) --weights $(PAPER)/dlbhc$(1).weights --index $(PAPER)/train$(1).idx \
	  --queries train=$(DATA)/train --max-queries train=$(PAPER_TRAIN_QUERIES) --queries test=$(DATA)/t10k \
	  --modes bcs,hds,es --baseline-net $(PAPER_BASE_NET) --baseline-weights $(PAPER)/classifier.weights \
	  --db-data $(DATA)/train --json $(PAPER)/eval$(1).json --svg docs/paper_precision_at_k_$(1).svg \
	  > $(PAPER)/eval$(1).log 2> $(PAPER)/eval$(1).err || { cat $(PAPER)/eval$(1).log; tail -20 $(PAPER)/eval$(1).err; exit 1; }; \
	echo $$(($$(date +%s) - start)) > $(PAPER)/eval$(1).seconds; cat $(PAPER)/eval$(1).log
endef

$(PAPER)/train48.idx: $(PAPER)/dlbhc48.weights
	$(call paper_index,48)
$(PAPER)/train128.idx: $(PAPER)/dlbhc128.weights
	$(call paper_index,128)
$(PAPER)/eval48.json: $(PAPER)/train48.idx $(PAPER)/classifier.weights
	$(call paper_eval,48)
$(PAPER)/eval128.json: $(PAPER)/train128.idx $(PAPER)/classifier.weights
	$(call paper_eval,128)

# The page is written again on every run (the CPU and the times are those of this machine).
paper: deps
	@$(MAKE) --no-print-directory -j$$(nproc 2>/dev/null || echo 2) all
	@set -e; start=$$(date +%s); \
	$(MAKE) --no-print-directory paper-nets $(PAPER)/eval48.json $(PAPER)/eval128.json; \
	end=$$(date +%s); echo $$((end - start)) > $(PAPER)/make_seconds; \
	python3 mk/paper_page.py $(PAPER) $(DATA) $(PAPER_TRAIN_QUERIES) > docs/paper.md.tmp; \
	mv docs/paper.md.tmp docs/paper.md; \
	echo "make paper done in $$((end - start)) s: docs/paper.md"

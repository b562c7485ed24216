# mk/deps.mk -- the installer behind make deps, make cross-deps and make fuzz-deps. (Included by the
# Makefile.)

# $(call need_pkgs,<file pkg> pairs...): installs (as root) or names the packages whose file is missing.
define need_pkgs
	@missing=""; \
	for pair in $(1); do f=$${pair%%=*}; p=$${pair#*=}; [ -e $$f ] || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "deps: installing$$missing"; \
	    apt-get update -q && apt-get install -y -q $$missing || { echo "deps: apt-get install$$missing failed" >&2; exit 1; }; \
	  else \
	    echo "deps: missing Debian packages:$$missing" >&2; \
	    echo "deps: run as root:  apt-get update && apt-get install -y$$missing" >&2; \
	    exit 1; \
	  fi; \
	fi
endef

# The two commands of the README: `make run` and `make test`. Both install what is missing first
# (Debian packages and npm modules), idempotently, so a fresh Debian machine needs nothing by hand.
SHELL := /bin/bash
.DEFAULT_GOAL := run

# Debian packages the appliance and its tests need (real peers: SIPp, Kamailio, rtpengine, baresip,
# Linphone, sipvicious; espeak-ng and sox to make prompts; multimon-ng as an independent DTMF
# detector; clang + its runtime for the relay's libFuzzer run; socat for the serial pty pair;
# iproute2 + util-linux for test namespaces).
APT_PACKAGES := build-essential python3 openssl sqlite3 sip-tester kamailio kamailio-sqlite-modules \
	rtpengine-daemon espeak-ng sox socat iproute2 util-linux procps \
	sipvicious baresip linphone-cli multimon-ng clang libclang-rt-14-dev \
	libspandsp-dev libtiff-tools ghostscript poppler-utils python3-aiosmtpd chromium \
	libsox-fmt-mp3

STAMP := .make
NODE_BIN := node_modules/.bin

.PHONY: run test bench build deps apt npm clean

$(STAMP):
	@mkdir -p $(STAMP)

apt: | $(STAMP)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# better-sqlite3 has no prebuilt binary we may download here: build it from source.
$(STAMP)/npm: package.json | $(STAMP)
	npm_config_build_from_source=true npm install --no-audit --no-fund
	@touch $@

npm: $(STAMP)/npm

deps: apt npm

# TypeScript is compiled only when a source changed since the last compile (a stamp), so `make run`
# on a built tree starts at once. The build.d steps check their own outputs' dates (cheap).
TS_DIRS := services device firmware web-ui hw-tests bin bench image
TS_SOURCES := $(shell find $(TS_DIRS) \( -name node_modules -o -name build \) -prune -o \( -name '*.ts' -o -name '*.json' \) -type f -print 2>/dev/null)

# The stamp lives in dist/: deleting dist/ rebuilds.
TSC_STAMP := dist/.tsc-stamp

$(TSC_STAMP): $(TS_SOURCES) tsconfig.json package.json
	$(NODE_BIN)/tsc -p tsconfig.json
	@chmod +x dist/bin/*.js
	@touch $@

build: deps $(TSC_STAMP)
	@bash scripts/build-extras.sh

test: build
	@bash scripts/test.sh

run: build
	@bash scripts/run.sh

bench: build
	@bash scripts/bench.sh

clean:
	rm -rf dist $(STAMP) build

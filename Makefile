.DEFAULT_GOAL := help

# sqlc is a tool, not a dependency: pinned in tools/go.mod so the library's
# go.mod stays clean. The first run compiles it (cgo, a few minutes); the Go
# build cache keeps it after that.
SQLC ?= go tool -modfile=tools/go.mod sqlc
GO_TEST_FLAGS ?=

# The SQL migration lines, each a directory of sql/schema with its own goose
# version table (see package schema); River's line is a Go migration.
MIGRATION_LINES := core articles

.PHONY: help
help: ## Print this message
	@awk -F ':.*## ' '/^[a-z\/-]+:.*## / {printf "%-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

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
generate: ## Regenerate db/ from sql/ with sqlc
	$(SQLC) generate

.PHONY: check-generated
check-generated: ## Fail when generated code, formatting or go.mod files are stale; run sqlc vet
	$(SQLC) diff
	$(SQLC) vet
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

# squawk: goose runs each migration in a transaction; version is integer
# by contract; Down migrations drop what their Up created.
.PHONY: lint
lint: ## go vet, gofmt and squawk over the migrations (squawk needs npm)
	go vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	npx --yes squawk-cli@2.66.0 --assume-in-transaction \
		--exclude=prefer-bigint-over-int,ban-drop-table sql/schema/*/*.sql

.PHONY: migrate
migrate: ## Apply all migrations to DATABASE_URL
	go run ./cmd/bulwark migrate up

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

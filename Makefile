# sole: `make test` runs every test tier (see scripts/test.sh); `make build`
# builds the sole command into ./bin.

.PHONY: test build bench

test:
	./scripts/test.sh

build:
	go build -o bin/sole ./cmd/sole

bench:
	TIERS=bench ./scripts/test.sh

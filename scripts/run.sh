#!/bin/sh
# SPDX-License-Identifier: MIT
# `make run`: the main job.  Uses the built-in default configuration (or
# $OSA_CONFIG), ingests the sample data when the data directory is empty,
# then serves on loopback.
set -eu
BUILD=${1:-build}
OSA=$BUILD/core/cli/osa
DATA=$("$OSA" config check | sed -n 's/.*data_dir \([^,]*\),.*/\1/p')
if [ ! -d "$DATA/journal" ] || [ "$("$OSA" stats --json | sed -n 's/.*"records":\([0-9]*\).*/\1/p')" = 0 ]; then
	echo "run: ingesting the sample data (samples/records.ndjson) into $DATA"
	"$OSA" ingest samples/records.ndjson
fi
if "$OSA" --help | grep -q "^  serve"; then
	echo "run: serving; try:"
	echo "  curl -s 'http://127.0.0.1:8080/search/text?q=analysis&limit=3'"
	echo "  curl -s 'http://127.0.0.1:8080/api/v1/search/papers?q=analysis&limit=3'   (OSA's API)"
	exec "$OSA" serve
fi
"$OSA" stats
"$OSA" search text "analysis" --limit 5
